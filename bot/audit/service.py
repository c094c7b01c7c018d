"""Recording and reading the audit log. Plain functions, a session passed in."""

from __future__ import annotations

import enum
import getpass
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.audit.models import AuditEvent

# Details are for ids and codes. A longer string is probably someone's words,
# which the audit log must never keep (it outlives reflections and requests).
MAX_DETAIL_CHARS = 120
MAX_DETAIL_ITEMS = 50


class Action(enum.StrEnum):
    """The actions issue 9 names; features may add their own dotted names."""

    enrollment_create = "enrollment.create"
    enrollment_stop = "enrollment.stop"
    program_launch = "program.launch"
    intake_decide = "intake.decide"
    role_change = "role.change"
    data_export = "data.export"
    data_forget = "data.forget"
    retention_purge = "retention.purge"
    install_add = "install.add"
    install_remove = "install.remove"


SYSTEM = "system"


def cli_actor() -> str:
    """The actor of a command-line action: the operating-system login."""
    try:
        return f"cli:{getpass.getuser()}"[:64]
    except (KeyError, OSError):  # no login name in some containers
        return "cli:unknown"


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    target: str,
    details: Mapping[str, Any] | None = None,
    now: datetime,
    workspace_id: str = "",
) -> AuditEvent:
    """Append one audit event in the caller's transaction (so it commits or
    rolls back with the change it describes)."""
    if not actor or not action or not target:
        raise ValueError("an audit event needs an actor, an action and a target")
    event = AuditEvent(
        workspace_id=workspace_id,
        actor=actor[:64],
        action=str(action)[:64],
        target=target[:255],
        details=_checked(details or {}),
        at=now,
    )
    session.add(event)
    session.flush()
    return event


def _checked(details: Mapping[str, Any]) -> dict[str, Any]:
    if len(details) > MAX_DETAIL_ITEMS:
        raise ValueError(f"audit details take at most {MAX_DETAIL_ITEMS} keys")
    return {str(key): _scalar(key, value) for key, value in details.items()}


def _scalar(key: str, value: Any) -> Any:
    if isinstance(value, list | tuple):
        if len(value) > MAX_DETAIL_ITEMS:
            raise ValueError(f"audit detail {key!r} lists more than {MAX_DETAIL_ITEMS} items")
        return [_scalar(key, item) for item in value]
    if isinstance(value, Mapping):
        return _checked(value)
    if isinstance(value, str) and len(value) > MAX_DETAIL_CHARS:
        raise ValueError(
            f"audit detail {key!r} is {len(value)} characters; record ids and codes, "
            "never what a person typed"
        )
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise ValueError(f"audit detail {key!r} must be a string, number, boolean or list")


def events(
    session: Session,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    actions: Sequence[str] = (),
    limit: int | None = None,
) -> list[AuditEvent]:
    """Events in time order, optionally from `since` (inclusive) to `until` (exclusive)."""
    query = select(AuditEvent).order_by(AuditEvent.at, AuditEvent.id)
    if since is not None:
        query = query.where(AuditEvent.at >= since)
    if until is not None:
        query = query.where(AuditEvent.at < until)
    if actions:
        query = query.where(AuditEvent.action.in_(list(actions)))
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def known_actions(session: Session) -> set[str]:
    """Every action name there can be: this module's, and any a feature recorded."""
    recorded = session.scalars(select(AuditEvent.action).distinct())
    return {str(a) for a in Action} | set(recorded)


def as_row(event: AuditEvent) -> dict[str, Any]:
    return {
        "at": event.at,
        "workspace": event.workspace_id,
        "actor": event.actor,
        "action": event.action,
        "target": event.target,
        "details": event.details,
    }
