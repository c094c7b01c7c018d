"""Fill every table of Base.metadata with rows that belong to given people.

Generic on purpose: a table added later is filled too, with its person-looking
columns pointing at the owner, so the forget test catches a table whose
personal data nobody registered.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Connection,
    Date,
    DateTime,
    Enum,
    Float,
    Integer,
    Numeric,
    String,
    Table,
    Text,
    insert,
)

from bot.db import UTCDateTime
from bot.governance.service import person_link_columns
from bot.models import Base

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@dataclass
class Owner:
    slack_id: str
    person_id: int = 0
    # table name → primary keys of this owner's rows there
    rows: dict[str, list[Any]] = field(default_factory=dict)


def holds_person_id(table: Table, column: Column[Any]) -> bool:
    if table.name == "people" and column.name == "id":
        return True
    return any(fk.column.table.name == "people" for fk in column.foreign_keys)


class Filler:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.serial = itertools.count(1)
        self.links = set(person_link_columns())

    def link_columns(self, table: Table) -> list[Column[Any]]:
        return [
            c
            for c in table.columns
            if (table.name, c.name) in self.links
            and not (table.name == "people" and c.name == "id")
        ]

    def person(self, owner: Owner, *, manager: Owner | None = None) -> None:
        people = Base.metadata.tables["people"]
        values = self.row_values(people, {}, primary=owner)
        values.update(
            slack_user_id=owner.slack_id,
            manager_slack_user_id=manager.slack_id if manager else None,
            email=f"{owner.slack_id.lower()}@example.com",
            name=f"Person {owner.slack_id}",
            workspace_id="",
            is_deleted=False,
        )
        owner.person_id = self.conn.execute(
            insert(people).returning(people.c.id), values
        ).scalar_one()
        owner.rows.setdefault("people", []).append(owner.person_id)

    def row(self, table: Table, assignment: dict[str, Owner], primary: Owner) -> None:
        """One row of `table`: link columns point at their assigned owner, other
        foreign keys at rows of `primary`."""
        values = self.row_values(table, assignment, primary=primary)
        pk = list(table.primary_key.columns)
        key = self.conn.execute(insert(table).returning(*pk), values).one()
        primary.rows.setdefault(table.name, []).append(key[0])

    def row_values(
        self, table: Table, assignment: dict[str, Owner], *, primary: Owner
    ) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for column in table.columns:
            if column.name in assignment:
                owner = assignment[column.name]
                values[column.name] = (
                    owner.person_id if holds_person_id(table, column) else owner.slack_id
                )
            elif column.foreign_keys:
                fk = next(iter(column.foreign_keys))
                parent = fk.column.table.name
                if parent == table.name:
                    continue  # self-reference (a merged risk): leave empty
                parents = primary.rows.get(parent)
                if parents:
                    values[column.name] = parents[0]
                elif not column.nullable:
                    raise AssertionError(f"{table.name}.{column.name}: no {parent} row to point at")
            elif column.primary_key and isinstance(column.type, Integer) and column.autoincrement:
                continue
            else:
                values[column.name] = self.value(column)
        return values

    def value(self, column: Column[Any]) -> Any:
        n = next(self.serial)
        kind = column.type
        fixed = CHECKED_VALUES.get((column.table.name, column.name))
        if fixed is not None:
            return fixed
        if isinstance(kind, Enum):
            return next(iter(kind.enum_class)) if kind.enum_class else kind.enums[0]
        if isinstance(kind, UTCDateTime):
            return T0 - timedelta(minutes=n)
        if isinstance(kind, DateTime):
            return (T0 - timedelta(minutes=n)).replace(tzinfo=None)
        if isinstance(kind, Date):
            return date(2026, 11, 2) + timedelta(days=n % 7 * 7)
        if isinstance(kind, Boolean):
            return False
        if isinstance(kind, Float | Numeric):
            return 1.5 + n
        if isinstance(kind, Integer):
            return n
        if isinstance(kind, JSON):
            return {"n": n}
        if isinstance(kind, Text):
            return f"words number {n}"
        if isinstance(kind, String):
            return f"v{n}"[: kind.length or 32]
        raise AssertionError(f"{column.table}.{column.name}: no filler for {kind!r}")


# Strings a CHECK constraint ties to other columns: any other text is refused.
# (A delivery of kind "step" has an enrollment; other kinds have a reference.)
CHECKED_VALUES = {("deliveries", "kind"): "step"}


def fill_all(conn: Connection, *, a: Owner, b: Owner, c: Owner) -> None:
    """Rows of A and of B in every table (every link column on the owner), and
    mixed rows owned by C whose other link columns point at A."""
    filler = Filler(conn)
    filler.person(a)
    filler.person(b)
    filler.person(c, manager=a)
    for table in Base.metadata.sorted_tables:
        if table.name in ("people", "alembic_version"):
            continue
        links = filler.link_columns(table)
        for owner in (a, b):
            filler.row(table, {col.name: owner for col in links}, owner)
        if not links:
            filler.row(table, {}, c)
        else:
            assignment = {col.name: a for col in links[1:]} | {links[0].name: c}
            filler.row(table, assignment, c)
