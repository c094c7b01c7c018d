"""A name nobody has, given to a command, is said plainly in one line with a non-zero
exit: no empty digest, no empty export, no silent success."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from bot.audit.models import AuditEvent
from bot.people.models import Person
from bot.services import Services
from bot.settings import Settings
from tests.delivery.clihelp import run_cli


@pytest.fixture
def known(services: Services) -> None:
    with services.session() as session:
        session.add(Person(slack_user_id="U0MAYA001", workspace_id="T0TEST", name="Maya"))
        session.add(
            Person(
                slack_user_id="U0ANA0001",
                workspace_id="T0TEST",
                name="Ana",
                manager_slack_user_id="U0MAYA001",
            )
        )


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("digest", "show", "U0NOBODY"), "no person with Slack user id 'U0NOBODY'"),
        (("digest", "show", "U0ANA0001"), "nobody reports to U0ANA0001"),
        (("export-user", "U0NOBODY"), "nothing is held about U0NOBODY"),
        (("forget", "U0NOBODY", "--yes"), "nothing is held about U0NOBODY"),
        (("export-user", "nobody@example.com"), "no person with email 'nobody@example.com'"),
        (("audit", "--action", "enrolment.create"), "--action 'enrolment.create': no such action"),
    ],
)
def test_an_unknown_user_manager_or_action_is_one_plain_line_and_a_failure(
    monkeypatch: pytest.MonkeyPatch,
    settings: Settings,
    known: None,
    args: tuple[str, ...],
    says: str,
) -> None:
    result = run_cli(monkeypatch, settings, *args)

    assert result.code == 1
    assert result.out == ""  # no empty digest or export to mistake for an answer
    (line,) = result.err.splitlines()
    assert line.startswith("nudgebot: ") and says in line, line
    assert "Traceback" not in result.err


def test_known_names_still_work(
    monkeypatch: pytest.MonkeyPatch,
    settings: Settings,
    services: Services,
    known: None,
    tmp_path: Path,
) -> None:
    shown = run_cli(monkeypatch, settings, "digest", "show", "U0MAYA001")
    assert shown.code == 0 and "Too few people" in shown.out
    listed = run_cli(monkeypatch, settings, "audit", "--action", "enrollment.create")
    assert listed.code == 0, listed.err
    out = tmp_path / "ana.json"
    exported = run_cli(monkeypatch, settings, "export-user", "U0ANA0001", "-o", str(out))
    assert exported.code == 0 and '"slack_user_id": "U0ANA0001"' in out.read_text()
    # A forget that found nothing still leaves its trace: the request was honoured.
    run_cli(monkeypatch, settings, "forget", "U0NOBODY", "--yes")
    with services.session() as session:
        actions = session.scalars(select(AuditEvent.action)).all()
    assert "data.forget" in actions
