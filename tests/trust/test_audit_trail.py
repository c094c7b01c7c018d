"""The audit trail records what a security review asks about, as it happens."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.audit.models import AuditEvent
from bot.intake.models import DecisionAction, IntakeRequest
from bot.intake.service import decide
from bot.services import Services
from bot.settings import Settings
from tests.delivery.clihelp import run_cli
from tests.delivery.conftest import step, store_person, store_program
from tests.fakeslack import FakeSlack


def _events(services: Services) -> list[AuditEvent]:
    with services.session() as session:
        return list(session.scalars(select(AuditEvent).order_by(AuditEvent.id)))


def test_enrollment_role_change_launch_and_export_are_audited(
    services: Services,
    settings: Settings,
    fake_slack: FakeSlack,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    with services.session() as session:
        store_program(session, "ramp-up", [step("hello", day=0)])
        store_person(session, "U0ANA", email="ana@example.com")
    fake_slack.add_user("U0ANA", name="ana")

    assert run_cli(monkeypatch, settings, "enroll", "ramp-up", "--user", "U0ANA").code == 0
    org = tmp_path / "org.csv"
    org.write_text(
        "slack_user_id,email,name,manager_slack_user_id,team,country,timezone,start_date,role\n"
        "U0ANA,ana@example.com,Ana,,Sales,BG,Europe/Sofia,,manager\n"
    )
    assert run_cli(monkeypatch, settings, "org", "import", str(org)).code == 0
    library = tmp_path / "nudges"
    library.mkdir()
    source = Path(__file__).resolve().parents[2] / "nudges" / "premortem-habit.yaml"
    (library / "premortem-habit.yaml").write_text(source.read_text())
    assert run_cli(monkeypatch, settings, "content", "sync", str(library)).code == 0
    assert run_cli(monkeypatch, settings, "proof", "export", "--format", "json").code == 0

    got = [(e.action, e.target) for e in _events(services)]
    assert ("enrollment.create", "U0ANA") in got
    assert ("role.change", "U0ANA") in got
    assert ("program.launch", "program:premortem-habit") in got
    assert ("data.export", "proof_events") in got
    role = next(e for e in _events(services) if e.action == "role.change")
    assert role.details == {"from": "employee", "to": "manager", "source": "org import"}

    listed = run_cli(monkeypatch, settings, "audit", "--format", "json")
    assert listed.code == 0
    assert {row["action"] for row in json.loads(listed.out)} >= {
        "enrollment.create",
        "role.change",
        "program.launch",
        "data.export",
    }


def test_an_intake_decision_is_audited_without_its_note(services: Services) -> None:
    with services.session() as session:
        store_person(session, "U0REQ")
        request = IntakeRequest(
            requester_slack_user_id="U0REQ",
            goal="Repeat calls 18% -> 12% by Q3",
            audience="Agents ask two clarifying questions",
            context="At the start of every customer call",
            cost_of_inaction="40,000 EUR a quarter in repeat calls",
            horizon="Q3 2027, no budget for travel",
            created_at=services.clock.now(),
            updated_at=services.clock.now(),
        )
        session.add(request)
        session.flush()
        decide(
            session,
            request_id=request.id,
            action=DecisionAction.declined,
            actor_id="U0LEAD",
            actor_is_lead=True,
            now=services.clock.now(),
            note="secret reason about Ana",
        )
    [event] = [e for e in _events(services) if e.action == "intake.decide"]
    assert (event.actor, event.details) == ("U0LEAD", {"decision": "declined"})
    assert "secret" not in json.dumps(event.details)
