"""The audit log: recorded in the caller's transaction, read back by `nudgebot audit`."""

from __future__ import annotations

import getpass
import json
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.audit import service as audit
from bot.audit.models import AuditEvent
from bot.cli.audit import audit as audit_command
from bot.clock import FixedClock
from bot.delivery.models import Enrollment
from bot.people.models import Person
from bot.services import Services
from bot.settings import Settings
from tests.delivery.clihelp import run_cli
from tests.delivery.conftest import step, store_program


def _record_three(session: Session, clock: FixedClock) -> None:
    now = clock.now()
    audit.record(
        session,
        actor="U0LEAD",
        action=audit.Action.enrollment_create,
        target="U0EMP",
        details={"program": "feedback", "source": "slack"},
        now=now - timedelta(days=10),
    )
    audit.record(
        session,
        actor="cli:ops",
        action=audit.Action.program_launch,
        target="program:feedback",
        now=now - timedelta(days=2),
    )
    audit.record(
        session,
        actor="U0LEAD",
        action=audit.Action.role_change,
        target="U0EMP",
        details={"from": "employee", "to": "manager"},
        now=now,
    )


def test_cli_lists_events_since_a_date_as_json(services: Services, clock: FixedClock) -> None:
    with services.session() as session:
        _record_three(session, clock)
    runner = CliRunner()
    env = {"DATABASE_URL": services.settings.database_url}
    since = (clock.now() - timedelta(days=3)).date().isoformat()

    result = runner.invoke(audit_command, ["--since", since, "--format", "json"], env=env)

    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [r["action"] for r in rows] == ["program.launch", "role.change"]
    assert rows[1] == {
        "at": "2026-11-26T10:00:00+00:00",
        "workspace": "",
        "actor": "U0LEAD",
        "action": "role.change",
        "target": "U0EMP",
        "details": {"from": "employee", "to": "manager"},
    }
    table = runner.invoke(audit_command, [], env=env)
    assert table.exit_code == 0
    lines = table.output.splitlines()
    assert lines[0].split() == ["AT", "WORKSPACE", "ACTOR", "ACTION", "TARGET", "DETAILS"]
    assert "enrollment.create" in lines[1] and '"program": "feedback"' in lines[1]


def test_cli_rejects_a_bad_date_in_one_line(services: Services) -> None:
    result = CliRunner().invoke(
        audit_command,
        ["--since", "last tuesday"],
        env={"DATABASE_URL": services.settings.database_url},
    )
    assert result.exit_code == 1
    assert str(result.exception) == (
        "--since 'last tuesday': expected a date like 2026-11-01 or 2026-11-01T09:00"
    )


@pytest.mark.parametrize(
    "details",
    [
        {"reflection": "I felt the meeting went badly because my manager " * 3},
        {"nested": {"note": "x" * 500}},
        {"answers": ["fine", "y" * 200]},
        {"blob": object()},
    ],
)
def test_free_text_never_enters_the_log(
    session: Session, clock: FixedClock, details: dict[str, object]
) -> None:
    with pytest.raises(ValueError):
        audit.record(
            session,
            actor="U1",
            action="intake.decide",
            target="intake:1",
            details=details,
            now=clock.now(),
        )
    assert session.scalar(select(func.count()).select_from(AuditEvent)) == 0


def test_an_event_rolls_back_with_the_change_it_describes(
    services: Services, clock: FixedClock
) -> None:
    with pytest.raises(RuntimeError), services.session() as session:
        audit.record(session, actor="U1", action="role.change", target="U2", now=clock.now())
        raise RuntimeError("the role change failed")
    with services.session() as session:
        assert audit.events(session) == []


def test_an_enrollment_from_the_command_line_is_audited_as_cli_and_the_login(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, services: Services
) -> None:
    with services.session() as session:
        store_program(session, "feedback", [step("ask", day=1)])
        session.add(Person(slack_user_id="U0EMP0001", workspace_id="T0TEST", name="Emp"))
    monkeypatch.setattr(getpass, "getuser", lambda: "ops-jo")

    result = run_cli(monkeypatch, settings, "enroll", "feedback", "--user", "U0EMP0001")

    assert result.code == 0, result.err
    with services.session() as session:
        event = session.scalars(select(AuditEvent)).one()
        enrolled_by = session.scalar(select(Enrollment.enrolled_by))
    assert (event.actor, event.action, event.target) == (
        "cli:ops-jo",
        "enrollment.create",
        "U0EMP0001",
    )
    assert enrolled_by == "cli:ops-jo"  # as docs/security.md says
