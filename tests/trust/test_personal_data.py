"""Forget and export over every table: nothing of a forgotten person is left,
nobody else loses anything, and anonymous counts survive."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from bot.audit.models import AuditEvent
from bot.cli import governance as governance_cli
from bot.governance import service
from bot.governance.models import ProofRollup
from bot.governance.registry import REGISTRY
from bot.models import Base
from bot.services import Services
from tests.trust.filler import Owner, fill_all, holds_person_id

A, B, C = "UAAAA0001", "UBBBB0002", "UCCCC0003"


def _fill(services: Services) -> tuple[Owner, Owner, Owner]:
    a, b, c = Owner(A), Owner(B), Owner(C)
    with services.engine.begin() as conn:
        fill_all(conn, a=a, b=b, c=c)
    return a, b, c


def _matches(engine: Engine, owner: Owner) -> dict[tuple[str, str], int]:
    """How many rows of each person-link column point at `owner`."""
    found: dict[tuple[str, str], int] = {}
    with engine.connect() as conn:
        for table_name, column_name in service.person_link_columns():
            if (table_name, column_name) in REGISTRY.not_personal:
                continue
            table = Base.metadata.tables[table_name]
            column = table.c[column_name]
            value = owner.person_id if holds_person_id(table, column) else owner.slack_id
            count = conn.scalar(select(func.count()).select_from(table).where(column == value))
            if count:
                found[(table_name, column_name)] = int(count or 0)
    return found


def test_every_person_link_in_the_schema_is_declared() -> None:
    assert REGISTRY.problems == []
    detected = set(service.person_link_columns())
    missing = sorted(detected - REGISTRY.covered())
    assert not missing, (
        "columns that can hold a person are not in the personal-data registry "
        f"(register_personal_data or declare_not_personal): {missing}"
    )
    # The detector is not vacuous: it finds the links we know of.
    assert {("proof_events", "person_id"), ("people", "manager_slack_user_id")} <= detected


def test_forget_leaves_nothing_of_the_person_and_keeps_everyone_else(
    services: Services, session: Session
) -> None:
    a, b, c = _fill(services)
    before_a, before_b, before_c = (_matches(services.engine, o) for o in (a, b, c))
    assert len(before_a) >= 20  # every table with a person link got rows of A
    proof_of_a = before_a[("proof_events", "person_id")]
    rolled_up = session.scalar(select(func.sum(ProofRollup.count))) or 0

    subject = service.find_subject(session, user=A)
    touched = service.forget(session, subject=subject, actor="cli:admin", now=services.clock.now())
    session.commit()

    assert _matches(services.engine, a) == {}, "rows still point at the forgotten person"
    assert _matches(services.engine, b) == before_b
    assert _matches(services.engine, c) == before_c
    # A's own row deleted, C's row unlinked from A (its manager).
    assert touched["people"] == 2 and touched["proof_events"] == proof_of_a
    # C's manager was A: C stays, without the link.
    manager = session.scalar(
        select(Base.metadata.tables["people"].c.manager_slack_user_id).where(
            Base.metadata.tables["people"].c.slack_user_id == C
        )
    )
    assert manager is None
    # The impact history keeps A's proof as anonymous weekly counts.
    assert session.scalar(select(func.sum(ProofRollup.count))) == rolled_up + proof_of_a
    # The deletion is on the record, without naming whom it erased.
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "data.forget")).one()
    assert event.actor == "cli:admin" and A not in json.dumps(event.details) + event.target


def test_forget_scrubs_words_on_rows_that_stay(services: Services, session: Session) -> None:
    _fill(services)
    risks = Base.metadata.tables["premortem_risks"]
    mixed_before = session.execute(select(risks.c.text).where(risks.c.author_id == A)).all()
    assert mixed_before

    service.forget(
        session,
        subject=service.find_subject(session, user=A),
        actor="cli:x",
        now=services.clock.now(),
    )

    texts = {row.text for row in session.execute(select(risks.c.text, risks.c.author_id)).all()}
    assert "(removed at the author's request)" in texts
    assert (
        session.scalar(select(func.count()).select_from(risks).where(risks.c.author_id == A)) == 0
    )


def test_export_holds_the_persons_rows_and_no_tokens(services: Services, session: Session) -> None:
    a, _, _ = _fill(services)
    data = service.export(
        session,
        subject=service.find_subject(session, user=A),
        actor="cli:admin",
        now=services.clock.now(),
    )
    tables: dict[str, list[dict[str, Any]]] = data["tables"]
    people = {row["slack_user_id"]: row for row in tables["people"] if "slack_user_id" in row}
    assert list(people) == [A] and people[A]["email"] == "uaaaa0001@example.com"
    # C, whose manager A is, appears only as that link, with none of C's data.
    assert [row for row in tables["people"] if A not in row.values()] == []
    assert {row["person_id"] for row in tables["proof_events"]} == {a.person_id}
    # Rows hanging off A's own rows (boxes of A's enrollments) come along.
    assert tables["reinforcement_boxes"]
    text = json.dumps(data)
    assert B not in text and C not in text
    # The installation A made shows that fact, not the workspace's tokens.
    assert all(set(row) == {"id", "user_id"} for row in tables["slack_installations"])
    exported = session.scalars(select(AuditEvent).where(AuditEvent.action == "data.export")).one()
    assert exported.target == A and exported.details["rows"]["people"] == len(tables["people"])


def test_cli_export_then_forget(services: Services, tmp_path: Path) -> None:
    _fill(services)
    runner = CliRunner()
    env = {"DATABASE_URL": services.settings.database_url}
    out = tmp_path / "a.json"

    result = runner.invoke(governance_cli.export_user, [A, "-o", str(out)], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["tables"]["people"][0]["slack_user_id"] == A

    refused = runner.invoke(governance_cli.forget, [A], env=env, input="n\n")
    assert refused.exit_code == 1
    assert _matches(services.engine, Owner(A, person_id=0))  # nothing erased

    result = runner.invoke(governance_cli.forget, [A, "--yes"], env=env)
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"forgot {A}:")
    assert _matches(services.engine, Owner(A, person_id=0)) == {}
    again = runner.invoke(governance_cli.forget, [A, "--yes"], env=env)
    assert again.exit_code == 1 and str(again.exception).startswith(f"nothing is held about {A}")

    unknown = runner.invoke(governance_cli.forget, ["nobody@example.com", "--yes"], env=env)
    assert unknown.exit_code == 1
    assert "no person with email" in str(unknown.exception)


def test_a_stale_declaration_stops_forget_instead_of_erasing_half(
    services: Services, session: Session, monkeypatch: Any
) -> None:
    from bot.errors import ConfigError
    from bot.governance.registry import Mode, register_personal_data

    monkeypatch.setattr(REGISTRY, "problems", [])
    register_personal_data(Base.metadata.tables["people"], "renamed_column", Mode.delete)
    _fill(services)
    with pytest.raises(ConfigError, match="people has no column 'renamed_column'"):
        service.find_subject(session, user=A)
