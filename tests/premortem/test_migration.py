"""Migration 0010 carries the pre-mortem's follow-ups into the delivery outbox and back,
on both databases, without touching anyone's proof events."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot import migrate
from bot.db import make_engine

NOW = datetime(2026, 11, 26, 10, 0)  # naive UTC, as stored


def _filler(column: sa.Column[Any]) -> Any:
    """A value for a required column the test does not care about."""
    kind = column.type
    if isinstance(kind, sa.Boolean):
        return False
    if isinstance(kind, sa.DateTime):
        return NOW
    if isinstance(kind, sa.Date):
        return NOW.date()
    if isinstance(kind, sa.Integer):
        return 0
    if isinstance(kind, sa.JSON):
        return []
    return ""


def _insert(conn: Connection, table_name: str, /, **values: Any) -> Any:
    table = sa.Table(table_name, sa.MetaData(), autoload_with=conn)
    for column in table.columns:
        required = not column.nullable and column.server_default is None
        if required and column.name not in values and not column.primary_key:
            values[column.name] = _filler(column)
    return conn.execute(table.insert().values(**values).returning(table.c.id)).scalar_one()


def _rows(conn: Connection, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in conn.execute(sa.text(sql), params)]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_follow_ups_move_into_the_outbox_and_back(
    backend: str, fresh_db_url: Callable[[str], str]
) -> None:
    url = fresh_db_url(backend)
    migrate.upgrade(url, "0009")
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            owner = _insert(conn, "people", slack_user_id="U0OWN", name="own", tz="Asia/Tokyo")
            _insert(conn, "programs", id="p1", title="P", owner="ld")
            version = _insert(conn, "program_versions", program_id="p1", number=1, content={})
            enrollment = _insert(
                conn,
                "enrollments",
                person_id=owner,
                program_id="p1",
                program_version_id=version,
                status="active",
            )
            step = _insert(
                conn,
                "deliveries",
                enrollment_id=enrollment,
                person_id=owner,
                step_id="s1",
                status="sent",
                due_at=NOW,
            )
            _insert(
                conn,
                "proof_events",
                dedupe_key="k1",
                person_id=owner,
                program_id="p1",
                program_version=1,
                step_id="s1",
                delivery_id=step,
                kind="done",
            )
            pm = _insert(
                conn,
                "premortems",
                channel_id="C0X",
                initiative="Launch",
                template="why",
                facilitator_id="U0NEW",
                started_by="U0NEW",
                horizon=date(2027, 5, 1),
                phase="done",
            )
            risk = _insert(
                conn, "premortem_risks", premortem_id=pm, number=1, text="Slow", status="active"
            )
            prevention = _insert(
                conn,
                "premortem_preventions",
                premortem_id=pm,
                risk_id=risk,
                action="Talk",
                owner_id="U0OWN",
                due_date=date(2026, 12, 10),
                status="open",
                decided_by="U0NEW",
            )
            _insert(
                conn,
                "premortem_followups",
                key=f"nudge:{prevention}",
                premortem_id=pm,
                prevention_id=prevention,
                kind="owner_nudge",
                recipient_id="U0OWN",
                timezone="Asia/Tokyo",
                due_at=datetime(2026, 12, 8),
                status="planned",
            )
            # The facilitator was never in the directory: the old table kept their zone.
            _insert(
                conn,
                "premortem_followups",
                key=f"review:{pm}",
                premortem_id=pm,
                kind="review",
                recipient_id="U0NEW",
                timezone="Europe/Sofia",
                due_at=datetime(2027, 1, 7, 7),
                status="sent",
                message_ts="1.2",
                channel_id="D0NEW",
            )
        migrate.upgrade(url, "0010")
        with engine.connect() as conn:
            moved = _rows(
                conn,
                "SELECT p.slack_user_id, p.tz, d.kind, d.ref_id, d.step_id, "
                "d.status, d.message_ts, d.enrollment_id FROM deliveries d "
                "JOIN people p ON p.id = d.person_id WHERE d.kind <> 'step' "
                "ORDER BY d.id",
            )
            assert moved == [
                (
                    "U0OWN",
                    "Asia/Tokyo",
                    "premortem_owner",
                    prevention,
                    "2026-12-10",
                    "planned",
                    None,
                    None,
                ),
                ("U0NEW", "Europe/Sofia", "premortem_review", pm, "review", "sent", "1.2", None),
            ]
            assert _rows(conn, "SELECT kind FROM deliveries WHERE id = :id", id=step) == [("step",)]
            # SQLite rebuilt the table; the proof event still points at its nudge.
            assert _rows(conn, "SELECT delivery_id FROM proof_events") == [(step,)]
            assert "premortem_followups" not in sa.inspect(conn).get_table_names()

        migrate.downgrade(url, "0009")
        with engine.connect() as conn:
            back = _rows(
                conn,
                "SELECT key, kind, recipient_id, timezone, status, message_ts "
                "FROM premortem_followups ORDER BY id",
            )
            assert back == [
                (f"nudge:{prevention}", "owner_nudge", "U0OWN", "Asia/Tokyo", "planned", None),
                (f"review:{pm}", "review", "U0NEW", "Europe/Sofia", "sent", "1.2"),
            ]
            assert _rows(conn, "SELECT id FROM deliveries") == [(step,)]
            assert _rows(conn, "SELECT delivery_id FROM proof_events") == [(step,)]
    finally:
        engine.dispose()
