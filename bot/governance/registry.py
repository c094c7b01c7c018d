"""The personal-data registry: every table that can hold a person says so here.

A feature declares each column that points at a person (their `people.id` or
their Slack user id) and what forgetting them means for that row:

- ``Mode.delete``: the row is the person's own (their enrollment, their DM, their
  draft); it goes.
- ``Mode.unlink``: the row matters to others (a vote count, an intake decision,
  someone else's enrollment they made); it stays, the link is replaced with
  ``unlink_to`` and the ``scrub`` columns (the person's own words) are blanked.

Columns that look like a person link but are not (a program owner's team name
from a content file) are declared with `declare_not_personal` and a reason, so
the forget test can tell an oversight from a decision.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Row, Table
from sqlalchemy.orm import Session


class Holds(enum.StrEnum):
    person_id = "person_id"  # people.id
    slack_user_id = "slack_user_id"  # U…/W… ids


class Mode(enum.StrEnum):
    delete = "delete"
    unlink = "unlink"


# Called with the rows a forget or a retention purge deletes, in the same
# transaction, before they are gone: the place to keep anonymous counts.
Rollup = Callable[[Session, Sequence[Row[Any]]], None]


@dataclass(frozen=True)
class PersonalData:
    table: Table
    column: str
    holds: Holds
    mode: Mode
    unlink_to: Any = None
    scrub: Mapping[str, Any] = field(default_factory=dict)
    rollup: Rollup | None = None


@dataclass(frozen=True)
class Retention:
    """Rows of `table` older than the retention period (by `time_column`) are purged hourly."""

    table: Table
    time_column: str
    rollup: Rollup | None = None


@dataclass
class PersonalDataRegistry:
    entries: list[PersonalData] = field(default_factory=list)
    retention: list[Retention] = field(default_factory=list)
    not_personal: dict[tuple[str, str], str] = field(default_factory=dict)
    # Declarations naming a column that does not exist (a model changed under
    # them). Kept, not raised at import, so one stale line cannot break every
    # command; forget, export and retention refuse to run while any remain.
    problems: list[str] = field(default_factory=list)

    def covered(self) -> set[tuple[str, str]]:
        """(table, column) pairs that are registered or declared not personal."""
        return {(e.table.name, e.column) for e in self.entries} | set(self.not_personal)


REGISTRY = PersonalDataRegistry()


def as_table(table_or_model: Any) -> Table:
    table = getattr(table_or_model, "__table__", table_or_model)
    if not isinstance(table, Table):
        raise TypeError(f"{table_or_model!r} is neither a Table nor a mapped model")
    return table


def register_personal_data(
    table_or_model: Any,
    person_column: str,
    mode: Mode,
    *,
    holds: Holds = Holds.person_id,
    unlink_to: Any = None,
    scrub: Mapping[str, Any] | None = None,
    rollup: Rollup | None = None,
) -> None:
    """Declare that `person_column` of a table points at a person (see module doc)."""
    table = as_table(table_or_model)
    if not _has_columns(table, person_column, *(scrub or {})):
        return
    key = (table.name, person_column)
    REGISTRY.entries[:] = [e for e in REGISTRY.entries if (e.table.name, e.column) != key]
    REGISTRY.entries.append(
        PersonalData(table, person_column, holds, mode, unlink_to, dict(scrub or {}), rollup)
    )


def register_retention(
    table_or_model: Any, time_column: str, *, rollup: Rollup | None = None
) -> None:
    """Purge rows older than NUDGEBOT_RETENTION_DAYS by `time_column`, hourly."""
    table = as_table(table_or_model)
    if not _has_columns(table, time_column):
        return
    REGISTRY.retention[:] = [r for r in REGISTRY.retention if r.table.name != table.name]
    REGISTRY.retention.append(Retention(table, time_column, rollup))


def declare_not_personal(table_or_model: Any, column: str, reason: str) -> None:
    """Say on the record why a column that looks like a person link is not one."""
    table = as_table(table_or_model)
    if not _has_columns(table, column):
        return
    REGISTRY.not_personal[(table.name, column)] = reason


def _has_columns(table: Table, *names: str) -> bool:
    missing = [name for name in names if name not in table.c]
    for name in missing:
        REGISTRY.problems.append(f"{table.name} has no column {name!r}")
    return not missing
