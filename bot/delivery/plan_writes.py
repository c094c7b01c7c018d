"""The planner's bulk writer: new rows by COPY (PostgreSQL) or multi-row INSERT,
moved rows and re-plan marks, one chunk in flight while the next is placed."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, insert, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable

from bot.delivery.models import (
    Delivery,
    DeliveryStatus,
    Enrollment,
)
from bot.delivery.placement import Slot, _Existing, _Replan


class _Writer:
    """Writes one chunk while the next one is computed: the database works on the
    rows (COPY, index upkeep) while Python places the next people's nudges. One
    chunk in flight at a time, on the session's own connection and transaction,
    so the caller still commits or rolls back everything at once."""

    def __init__(self, session: Session, now: datetime) -> None:
        self._conn = session.connection()  # taken here: the session stays on this thread
        self._now = now
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="planner-write")
        self._pending: Future[tuple[int, int]] | None = None
        self.inserted = 0
        self.moved = 0

    def submit(
        self, slots: list[Slot], existing: dict[int, list[_Existing]], replans: list[_Replan]
    ) -> None:
        self.wait()
        self._pending = self._pool.submit(self._write, slots, existing, replans)

    def _write(
        self, slots: list[Slot], existing: dict[int, list[_Existing]], replans: list[_Replan]
    ) -> tuple[int, int]:
        moved, inserted = _write(self._conn, slots, existing, self._now)
        _set_replan(self._conn, replans)
        return moved, inserted

    def wait(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            moved, inserted = pending.result()  # re-raises what the write raised
            self.moved += moved
            self.inserted += inserted

    def close(self) -> None:
        try:
            self.wait()
        finally:
            self._pool.shutdown(wait=True)


def _write(
    conn: Connection, slots: list[Slot], existing: dict[int, list[_Existing]], now: datetime
) -> tuple[int, int]:
    current = {e.id: e for rows in existing.values() for e in rows}
    new = [s for s in slots if s.delivery_id is None]
    moved = [
        s
        for s in slots
        if s.delivery_id is not None
        and (current[s.delivery_id].due_at, current[s.delivery_id].window_end)
        != (s.due_at, s.window_end)
    ]
    inserted = _insert_new(conn, new, now)
    if moved:
        table = cast(Table, Delivery.__table__)
        # Core executemany (not ORM bulk-by-key) so the status guard applies:
        # a row the sender claimed meanwhile is not moved under it.
        conn.execute(
            update(table)
            .where(table.c.id == bindparam("b_id"), table.c.status == DeliveryStatus.planned.value)
            .values(due_at=bindparam("b_due"), window_end=bindparam("b_end"), updated_at=now),
            [{"b_id": s.delivery_id, "b_due": s.due_at, "b_end": s.window_end} for s in moved],
        )
    return len(moved), inserted


def _insert_new(conn: Connection, new: list[Slot], now: datetime) -> int:
    if not new:
        return 0
    if conn.dialect.name == "postgresql":
        return _copy_insert(conn, new, now)
    values: list[dict[str, Any]] = [
        {
            "enrollment_id": s.key.enrollment_id,
            "person_id": s.person_id,
            "step_id": s.key.step_id,
            "repetition": s.key.repetition,
            "status": DeliveryStatus.planned.value,
            "due_at": s.due_at,
            "window_end": s.window_end,
            "attempts": 0,
            "created_at": now,
            "updated_at": now,
        }
        for s in new
    ]
    # With RETURNING, SQLAlchemy batches an executemany into multi-row INSERTs
    # ("insertmanyvalues"); without it, psycopg sends one statement per row.
    result = conn.execute(_insert_ignoring_duplicates(conn.dialect.name), values)
    return len(result.all())


_STAGE = """CREATE TEMP TABLE IF NOT EXISTS plan_stage (
    enrollment_id integer, person_id integer, step_id varchar(64), repetition integer,
    due_at timestamp, window_end timestamp) ON COMMIT DROP"""

_FROM_STAGE = """INSERT INTO deliveries (enrollment_id, person_id, step_id, repetition, due_at,
    window_end, status, attempts, created_at, updated_at)
    SELECT enrollment_id, person_id, step_id, repetition, due_at, window_end, 'planned', 0,
           %(now)s, %(now)s FROM plan_stage
    ON CONFLICT (enrollment_id, step_id, repetition) DO NOTHING"""


def _copy_insert(conn: Connection, new: list[Slot], now: datetime) -> int:
    """PostgreSQL: COPY straight into the outbox inside a savepoint. When another
    replica planned some of the same keys meanwhile (a unique violation), the
    savepoint is undone and the chunk goes through a temporary table and one
    INSERT … SELECT that skips the keys already there: the unique key decides."""
    import psycopg  # only on PostgreSQL: a SQLite bot never loads libpq

    raw: Any = conn.connection.driver_connection
    naive = now.astimezone(UTC).replace(tzinfo=None)
    rows = [
        (
            s.key.enrollment_id,
            s.person_id,
            s.key.step_id,
            s.key.repetition,
            s.due_at.astimezone(UTC).replace(tzinfo=None),
            s.window_end.astimezone(UTC).replace(tzinfo=None) if s.window_end else None,
            naive,
        )
        for s in new
    ]
    direct = """COPY deliveries (enrollment_id, person_id, step_id, repetition, due_at,
        window_end, created_at, updated_at, status, attempts) FROM STDIN"""
    with raw.cursor() as cursor:
        cursor.execute("SAVEPOINT plan_copy")
        try:
            with cursor.copy(direct) as copy:
                for row in rows:
                    copy.write_row((*row, naive, "planned", 0))
        except psycopg.errors.UniqueViolation:
            cursor.execute("ROLLBACK TO SAVEPOINT plan_copy")
        else:
            cursor.execute("RELEASE SAVEPOINT plan_copy")
            return len(rows)
        cursor.execute(_STAGE)
        with cursor.copy("COPY plan_stage FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row[:6])
        cursor.execute(_FROM_STAGE, {"now": naive})
        inserted = cursor.rowcount
        cursor.execute("TRUNCATE plan_stage")
    return int(inserted)


def _insert_ignoring_duplicates(dialect: str) -> Executable:
    # Another replica may plan the same person at the same moment: the unique
    # key decides, and the loser's insert does nothing.
    table = cast(Table, Delivery.__table__)
    key = ["enrollment_id", "step_id", "repetition"]
    if dialect == "postgresql":
        return (
            postgresql.insert(table)
            .on_conflict_do_nothing(index_elements=key)
            .returning(table.c.id)
        )
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing(index_elements=key).returning(table.c.id)
    return insert(table).returning(table.c.id)


def _set_replan(conn: Connection, replans: list[_Replan]) -> None:
    """Store when each enrollment is due a look again, unless it was marked (changed)
    since it was read: then it stays marked and the next tick plans it."""
    if not replans:
        return
    if conn.dialect.name == "postgresql":
        raw: Any = conn.connection.driver_connection
        with raw.cursor() as cursor:
            cursor.execute(_REPLAN_STAGE)
            with cursor.copy("COPY replan_stage FROM STDIN") as copy:
                for r in replans:
                    at = r.replan_at.astimezone(UTC).replace(tzinfo=None)
                    copy.write_row((r.enrollment_id, r.plan_mark, at))
            cursor.execute(_FROM_REPLAN_STAGE)
            cursor.execute("TRUNCATE replan_stage")
        return
    table = cast(Table, Enrollment.__table__)
    conn.execute(
        update(table)
        .where(table.c.id == bindparam("b_id"), table.c.plan_mark == bindparam("b_mark"))
        .values(replan_at=bindparam("b_at")),
        [{"b_id": r.enrollment_id, "b_mark": r.plan_mark, "b_at": r.replan_at} for r in replans],
    )


_REPLAN_STAGE = """CREATE TEMP TABLE IF NOT EXISTS replan_stage (
    enrollment_id integer, plan_mark integer, replan_at timestamp) ON COMMIT DROP"""

_FROM_REPLAN_STAGE = """UPDATE enrollments e SET replan_at = s.replan_at
    FROM replan_stage s WHERE e.id = s.enrollment_id AND e.plan_mark = s.plan_mark"""
