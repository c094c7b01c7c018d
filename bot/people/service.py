"""The directory of people: Slack profiles, the org CSV, and whose clock a nudge follows.

Slack knows time zone, locale and whether an account is active; the org CSV
knows managers, teams, countries and start dates. Both land in `people`, one
row per Slack user. No Slack calls here: callers fetch, these functions store.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import csvfile
from bot.audit import service as audit
from bot.db import utcnow
from bot.people.models import Person, Role

ORG_COLUMNS = (
    "slack_user_id",
    "email",
    "name",
    "manager_slack_user_id",
    "team",
    "country",
    "timezone",
    "start_date",
    "role",
)
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,31}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def valid_zone(name: str | None) -> bool:
    if not name:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def effective_tz(person: Person, default: str) -> str:
    """The person's own choice, then the org CSV, then Slack, then the setting."""
    for name in (person.tz_override, person.org_tz, person.tz):
        if valid_zone(name):
            return str(name)
    return default


@cache
def supported_countries() -> frozenset[str]:
    return frozenset(holidays.list_supported_countries())


def find_person(
    session: Session, slack_user_id: str, *, workspace_id: str | None = None
) -> Person | None:
    """The person with this Slack user id (in `workspace_id` when given: OAuth mode)."""
    query = select(Person).where(Person.slack_user_id == slack_user_id)
    if workspace_id is not None:
        query = query.where(Person.workspace_id == workspace_id)
    return session.scalars(query.order_by(Person.id).limit(1)).first()


# -- Slack profiles ---------------------------------------------------------------


def apply_slack_user(
    session: Session, *, user: Mapping[str, Any], workspace_id: str | None = None
) -> Person | None:
    """Create or refresh a person from a users.list / user_change user object.

    Returns None for Slack's own system user. A deactivated account stops
    every enrollment of that person at once (nothing more is sent).
    `workspace_id`: the Slack team the user was read from (OAuth mode); None with
    a single workspace, whose people are stored with workspace_id "" as the org
    import stores them, so both always meet on the same row.
    """
    user_id = str(user.get("id") or "")
    if not _USER_ID.match(user_id) or user_id == "USLACKBOT":
        return None
    person = find_person(session, user_id, workspace_id=workspace_id)
    if person is None:
        person = Person(slack_user_id=user_id, workspace_id=workspace_id or "")
        session.add(person)
    profile = user.get("profile") or {}
    person.name = str(profile.get("real_name") or user.get("real_name") or user.get("name") or "")
    person.email = profile.get("email") or person.email
    person.tz = user.get("tz") if valid_zone(user.get("tz")) else person.tz
    person.locale = str(user["locale"])[:16] if user.get("locale") else person.locale
    person.is_bot = bool(user.get("is_bot")) or user_id == "USLACKBOT"
    person.is_deleted = bool(user.get("deleted"))
    # Deactivation stops the person's enrollments and cancels what was planned for
    # them: the delivery core watches for it (bot.delivery.models), whatever the path.
    session.flush()
    return person


@dataclass
class SyncResult:
    seen: int = 0
    created: int = 0
    deactivated: int = 0


def apply_slack_users(
    session: Session, *, users: Iterable[Mapping[str, Any]], workspace_id: str | None = None
) -> SyncResult:
    result = SyncResult()
    everyone = select(Person.slack_user_id)
    if workspace_id is not None:
        everyone = everyone.where(Person.workspace_id == workspace_id)
    known = set(session.scalars(everyone))
    active_before = set(session.scalars(everyone.where(Person.is_deleted.is_(False))))
    for user in users:
        person = apply_slack_user(session, user=user, workspace_id=workspace_id)
        if person is None:
            continue
        result.seen += 1
        result.created += person.slack_user_id not in known
        result.deactivated += person.is_deleted and person.slack_user_id in active_before
    return result


# -- the org CSV --------------------------------------------------------------------


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    errors: list[str] = field(default_factory=list)
    # Rows kept, but something in them is likely a mistake (FILE:LINE: field: why).
    warnings: list[str] = field(default_factory=list)


@dataclass
class _Row:
    line: int
    values: dict[str, str]


def import_org_csv(
    session: Session, *, path: Path, workspace_id: str | None = None
) -> ImportResult:
    """Add what Slack does not know. Bad rows are reported as FILE:LINE: field: why
    and skipped; good rows are kept. Blank optional cells leave the stored value."""
    text = csvfile.read_text(path)
    return import_org_text(session, text=text, source=str(path), workspace_id=workspace_id)


def import_org_text(
    session: Session, *, text: str, source: str, workspace_id: str | None = None
) -> ImportResult:
    """`workspace_id`: the Slack team the CSV describes (OAuth mode, several
    workspaces in one database); None with a single workspace."""
    table = csvfile.CsvTable(text, source=source)
    header = table.header
    missing = [c for c in ("slack_user_id", "email") if c not in header]
    unknown = [h for h in header if h not in ORG_COLUMNS]
    if missing or unknown:
        raise table.header_error(
            f"header: expected columns {','.join(ORG_COLUMNS)}"
            + (f"; missing {','.join(missing)}" if missing else "")
            + (f"; unknown {','.join(unknown)}" if unknown else "")
        )
    result = ImportResult()
    seen: dict[str, int] = {}
    kept: list[tuple[_Row, Person]] = []
    for csv_row in table:
        row = _Row(csv_row.line, csv_row.cells)
        problems = _check_row(row, seen)
        person = None if problems else _resolve(session, row, workspace_id)
        if not problems and person is None:
            problems = [
                "slack_user_id: empty and no person has this email (run `nudgebot people sync`)"
            ]
        if problems:
            # One line per skipped row, naming every problem in it.
            result.errors.append(f"{source}:{row.line}: " + "; ".join(problems))
            continue
        assert person is not None
        created = person.id is None
        role_before = None if created else person.role
        _apply_row(person, row.values)
        session.flush()
        if role_before is not None and person.role != role_before:
            audit.record(
                session,
                actor=audit.cli_actor(),
                action=audit.Action.role_change,
                target=person.slack_user_id,
                details={"from": str(role_before), "to": str(person.role), "source": "org import"},
                now=utcnow(),
                workspace_id=person.workspace_id,
            )
        result.created += created
        result.updated += not created
        kept.append((row, person))
    result.warnings = _manager_warnings(session, kept, source, workspace_id)
    return result


def _manager_warnings(
    session: Session, kept: list[tuple[_Row, Person]], source: str, workspace_id: str | None
) -> list[str]:
    """A manager who is the person themself, or whom nobody has (not in Slack's directory
    nor in this file): kept as written, but said, since their digests go nowhere."""
    known = select(Person.slack_user_id)
    if workspace_id is not None:
        known = known.where(Person.workspace_id == workspace_id)
    managers = {p.manager_slack_user_id for _, p in kept if p.manager_slack_user_id}
    found = set(session.scalars(known.where(Person.slack_user_id.in_(managers))))
    out: list[str] = []
    for row, person in kept:
        manager = row.values.get("manager_slack_user_id")
        if not manager:
            continue
        where = f"{source}:{row.line}: manager_slack_user_id"
        if manager == person.slack_user_id:
            out.append(f"{where}: {manager} is this person's own id; nobody manages themself")
        elif manager not in found:
            out.append(
                f"{where}: nobody has the id {manager} (not synced from Slack, not in this "
                "file); kept, but no digest reaches them"
            )
    return out


def _check_row(row: _Row, seen: dict[str, int]) -> list[str]:
    """Every problem of the row, so one pass over the file shows all there is to fix."""
    v = row.values
    checks: list[tuple[str, bool, str]] = [
        (
            "slack_user_id",
            not v.get("slack_user_id") or bool(_USER_ID.match(v["slack_user_id"])),
            "not a Slack user id (U… or W…)",
        ),
        ("email", not v.get("email") or bool(_EMAIL.match(v["email"])), "not an email address"),
        (
            "manager_slack_user_id",
            not v.get("manager_slack_user_id") or bool(_USER_ID.match(v["manager_slack_user_id"])),
            "not a Slack user id (U… or W…)",
        ),
        (
            "country",
            not v.get("country") or v["country"].upper() in supported_countries(),
            "not an ISO 3166 country code the holiday calendar knows (e.g. BG, US, DE)",
        ),
        (
            "timezone",
            not v.get("timezone") or valid_zone(v["timezone"]),
            "not an IANA time zone (e.g. Europe/Sofia)",
        ),
        (
            "start_date",
            not v.get("start_date") or _is_date(v["start_date"]),
            "not a date (YYYY-MM-DD)",
        ),
        (
            "role",
            not v.get("role") or v["role"] in Role.__members__,
            "must be employee, manager or ld_lead",
        ),
    ]
    problems = [f"{name}: {why}" for name, ok, why in checks if not ok]
    if not v.get("slack_user_id") and not v.get("email"):
        problems.insert(0, "slack_user_id: give a Slack user id or an email")
    key = v.get("slack_user_id") or v.get("email", "").lower()
    if key and key in seen:
        problems.insert(0, f"slack_user_id: the same person is already on line {seen[key]}")
    elif key and not problems:
        seen[key] = row.line
    return problems


def _is_date(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _resolve(session: Session, row: _Row, workspace_id: str | None) -> Person | None:
    user_id = row.values.get("slack_user_id")
    if user_id:
        return find_person(session, user_id, workspace_id=workspace_id) or _new_person(
            session, user_id, workspace_id or ""
        )
    email = row.values.get("email", "").lower()
    query = select(Person).where(Person.email.is_not(None), Person.email == email)
    if workspace_id is not None:
        query = query.where(Person.workspace_id == workspace_id)
    return session.scalars(query.limit(1)).first()


def _new_person(session: Session, user_id: str, workspace_id: str) -> Person:
    person = Person(slack_user_id=user_id, workspace_id=workspace_id, name="")
    session.add(person)
    return person


def _apply_row(person: Person, v: dict[str, str]) -> None:
    if v.get("email"):
        person.email = v["email"].lower()
    if v.get("name"):
        person.name = v["name"]
    if v.get("manager_slack_user_id"):
        person.manager_slack_user_id = v["manager_slack_user_id"]
    if v.get("team"):
        person.team = v["team"]
    if v.get("country"):
        person.country = v["country"].upper()
    if v.get("timezone"):
        person.org_tz = v["timezone"]
    if v.get("start_date"):
        person.start_date = date.fromisoformat(v["start_date"])
    if v.get("role"):
        person.role = Role(v["role"])
