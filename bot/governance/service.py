"""Export, forget and retention over the personal-data registry.

Plain functions with a session passed in; the CLI and the retention tick call
them. Nothing here logs a value read from a personal-data table.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import Column, ForeignKey, MetaData, String, Table, delete, select, update
from sqlalchemy.orm import Session

import bot.governance.registrations  # noqa: F401 - fills the registry
from bot.audit import service as audit
from bot.db import Base
from bot.errors import ConfigError, UserError
from bot.governance.registry import REGISTRY, Holds, Mode, PersonalData, Retention
from bot.people.models import Person

RETENTION_BATCH = 2000

# Column names that hold someone's Slack user id (besides anything named *user_id).
_PERSON_WORDS = (
    "actor",
    "author",
    "by",
    "facilitator",
    "manager",
    "member",
    "owner",
    "person",
    "recipient",
    "requester",
    "reviewer",
    "target",
    "user",
    "voter",
    "assignee",
    "invitee",
)
_PERSON_NAME = re.compile(rf"(^|_)({'|'.join(_PERSON_WORDS)})(_id|_slack_user_id|_user_id)?$")


@dataclass(frozen=True)
class Subject:
    """Whom a forget or an export is about: a Person row, a Slack user id, or both."""

    slack_user_id: str
    person_ids: tuple[int, ...]
    workspace_id: str | None


def person_link_columns(metadata: MetaData = Base.metadata) -> list[tuple[str, str]]:
    """Every (table, column) that can hold a person id or a Slack user id: foreign
    keys to people.id, and short string columns named like a person's role.
    The forget test holds this list to the registry."""
    found: list[tuple[str, str]] = []
    for table in metadata.sorted_tables:
        for column in table.columns:
            if _points_at_person(table, column):
                found.append((table.name, column.name))
    return found


def _points_at_person(table: Table, column: Column[Any]) -> bool:
    if table.name == "people" and column.name == "id":
        return True
    if any(fk.column.table.name == "people" for fk in column.foreign_keys):
        return True
    if not isinstance(column.type, String) or (column.type.length or 1000) > 320:
        return False
    return column.name.endswith("user_id") or bool(_PERSON_NAME.search(column.name))


def check_registry() -> None:
    """Refuse a partial erasure: every declaration must name real columns."""
    if REGISTRY.problems:
        raise ConfigError(
            "the personal-data registry is out of date (bot/governance/registrations.py): "
            + "; ".join(REGISTRY.problems)
        )


def find_subject(session: Session, *, user: str, workspace_id: str | None = None) -> Subject:
    """USER is a Slack user id (U…/W…) or an email address held in people."""
    check_registry()
    query = select(Person)
    if "@" in user:
        query = query.where(Person.email == user.strip())
    else:
        query = query.where(Person.slack_user_id == user.strip())
    if workspace_id is not None:
        query = query.where(Person.workspace_id == workspace_id)
    people = list(session.scalars(query))
    if len({p.workspace_id for p in people}) > 1:
        raise UserError(
            f"{user} is a person in several workspaces; name one with --workspace "
            f"({', '.join(sorted(p.workspace_id for p in people))})"
        )
    if not people and ("@" in user or not re.match(r"^[UW][A-Z0-9]{2,}$", user.strip())):
        raise UserError(f"no person with {'email' if '@' in user else 'Slack user id'} {user!r}")
    slack_id = people[0].slack_user_id if people else user.strip()
    return Subject(slack_id, tuple(p.id for p in people), workspace_id)


def _where(entry: PersonalData, subject: Subject) -> Any:
    column = entry.table.c[entry.column]
    if entry.holds is Holds.person_id:
        return column.in_(subject.person_ids) if subject.person_ids else None
    clause = column == subject.slack_user_id
    if subject.workspace_id is not None and "workspace_id" in entry.table.c:
        clause = clause & (entry.table.c.workspace_id == subject.workspace_id)
    return clause


def _order() -> dict[str, int]:
    return {t.name: i for i, t in enumerate(Base.metadata.sorted_tables)}


def forget(session: Session, *, subject: Subject, actor: str, now: datetime) -> dict[str, int]:
    """Erase everything registered about the subject; return rows touched per table.
    Rows others rely on are unlinked first, then the subject's own rows are
    deleted children first (a rollup keeps anonymous counts where registered)."""
    touched: dict[str, int] = {}
    order = _order()
    unlinks = [e for e in REGISTRY.entries if e.mode is Mode.unlink]
    deletes = sorted(
        (e for e in REGISTRY.entries if e.mode is Mode.delete),
        key=lambda e: -order.get(e.table.name, 0),
    )
    for entry in unlinks:
        clause = _where(entry, subject)
        if clause is not None:
            values = {entry.column: entry.unlink_to, **entry.scrub}
            count = session.execute(update(entry.table).where(clause).values(values)).rowcount  # type: ignore[attr-defined]
            _add(touched, entry.table.name, count)
    for entry in deletes:
        _add(
            touched, entry.table.name, _delete(session, entry.table, _where(entry, subject), entry)
        )
    audit.record(
        session,
        actor=actor,
        action=audit.Action.data_forget,
        target="person",  # never the id: the point is that it is gone
        details={"rows": {k: v for k, v in sorted(touched.items()) if v}},
        now=now,
        workspace_id=subject.workspace_id or "",
    )
    return {k: v for k, v in touched.items() if v}


def _delete(session: Session, table: Table, clause: Any, entry: PersonalData | Retention) -> int:
    if clause is None:
        return 0
    if entry.rollup is None:
        return int(session.execute(delete(table).where(clause)).rowcount or 0)  # type: ignore[attr-defined]
    # RETURNING: count exactly what this transaction deleted, even when another
    # replica deletes the same rows at the same moment.
    rows = session.execute(delete(table).where(clause).returning(*table.c)).all()
    entry.rollup(session, rows)
    return len(rows)


def _add(touched: dict[str, int], table: str, count: int | None) -> None:
    touched[table] = touched.get(table, 0) + int(count or 0)


def export(session: Session, *, subject: Subject, actor: str, now: datetime) -> dict[str, Any]:
    """Everything held about the subject, table by table, as JSON-ready data:
    rows that link to them, and rows that hang off their own rows."""
    tables: dict[str, list[dict[str, Any]]] = {}
    own_ids: dict[str, set[Any]] = {}
    # Their own rows whole; of rows that are someone else's (a report whose
    # manager they are) only the link and their own words, never the other person's data.
    for entry in sorted(REGISTRY.entries, key=lambda e: e.mode is not Mode.delete):
        clause = _where(entry, subject)
        if clause is None:
            continue
        own = entry.mode is Mode.delete
        columns = list(entry.table.c) if own else _link_columns(entry)
        for row in session.execute(select(*columns).where(clause)).mappings():
            _collect(tables, own_ids, entry.table, dict(row), own=own)
    _collect_children(session, tables, own_ids)
    audit.record(
        session,
        actor=actor,
        action=audit.Action.data_export,
        target=subject.slack_user_id,
        details={"rows": {name: len(rows) for name, rows in sorted(tables.items())}},
        now=now,
        workspace_id=subject.workspace_id or "",
    )
    return {
        "slack_user_id": subject.slack_user_id,
        "workspace_id": subject.workspace_id,
        "exported_at": now.isoformat(),
        # The address itself is a secret: an export says only whether one is connected.
        "calendar": "connected" if tables.get("calendar_feeds") else "not connected",
        "tables": {name: tables[name] for name in sorted(tables)},
    }


def _link_columns(entry: PersonalData) -> list[Column[Any]]:
    names = [c.name for c in entry.table.primary_key.columns]
    names += [entry.column, *entry.scrub]
    return [entry.table.c[name] for name in dict.fromkeys(names)]


def _collect(
    tables: dict[str, list[dict[str, Any]]],
    own_ids: dict[str, set[Any]],
    table: Table,
    row: dict[str, Any],
    *,
    own: bool,
) -> None:
    key = tuple(_plain(row[c.name]) for c in table.primary_key.columns)
    rows = tables.setdefault(table.name, [])
    if all(tuple(r[c.name] for c in table.primary_key.columns) != key for r in rows):
        rows.append({k: _exported(k, v) for k, v in row.items()})
    if own and len(table.primary_key.columns) == 1:
        own_ids.setdefault(table.name, set()).add(row[table.primary_key.columns[0].name])


def _exported(name: str, value: Any) -> Any:
    # An export goes to a person; the workspace's tokens must not go with it.
    if value is not None and ("token" in name or "secret" in name):
        return "(withheld)"
    return _plain(value)


def _collect_children(
    session: Session, tables: dict[str, list[dict[str, Any]]], own_ids: dict[str, set[Any]]
) -> None:
    """Rows that belong to the subject's own rows through a foreign key
    (a reinforcement box of their enrollment, a decision on their request)."""
    for table in Base.metadata.sorted_tables:
        for fk in _foreign_keys(table):
            parents = own_ids.get(fk.column.table.name)
            if not parents:
                continue
            query = select(table).where(fk.parent.in_(sorted(parents)))
            for row in session.execute(query).mappings():
                _collect(tables, own_ids, table, dict(row), own=True)


def _foreign_keys(table: Table) -> Iterable[ForeignKey]:
    for column in table.columns:
        yield from column.foreign_keys


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.hex()
    return value


def purge_expired(session: Session, *, retention_days: int, now: datetime) -> dict[str, int]:
    """Delete rows past retention, in batches, keeping registered rollups; also
    drop expired OAuth states (slack_sdk never removes them itself)."""
    check_registry()
    cutoff = now - timedelta(days=retention_days)
    purged: dict[str, int] = {}
    for entry in REGISTRY.retention:
        column = entry.table.c[entry.time_column]
        pk = next(iter(entry.table.primary_key.columns))
        while True:
            batch = list(
                session.scalars(
                    select(pk).where(column < cutoff).order_by(pk).limit(RETENTION_BATCH)
                )
            )
            if not batch:
                break
            _add(purged, entry.table.name, _delete(session, entry.table, pk.in_(batch), entry))
            session.flush()
    from bot.slack.install import STATES_TABLE

    expired = session.execute(
        delete(STATES_TABLE).where(STATES_TABLE.c.expire_at < now.replace(tzinfo=None))
    ).rowcount  # type: ignore[attr-defined]
    _add(purged, STATES_TABLE.name, expired)
    purged = {k: v for k, v in purged.items() if v}
    if purged:
        audit.record(
            session,
            actor=audit.SYSTEM,
            action=audit.Action.retention_purge,
            target="retention",
            details={"rows": purged, "older_than_days": retention_days},
            now=now,
        )
    return purged
