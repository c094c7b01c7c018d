"""Digest slice services: KPI observations, people's privacy choices, weekly sends.

Plain functions on a session; Slack I/O lives in listeners.py.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot import csvfile, webhooks
from bot.content.models import Program as ProgramRow
from bot.digest import blocks
from bot.digest.models import DigestKind, DigestSend, MetricObservation, PrivacyChoice
from bot.digest.team import manager_digest, team_members
from bot.errors import UserError
from bot.people.models import Person
from bot.settings import Settings

# A claim older than this whose send never finished is taken over (the process died).
STALE_CLAIM = timedelta(minutes=15)
CSV_COLUMNS = ("program", "value", "date", "team")

# -- KPI observations ---------------------------------------------------------------------------


def parse_value(text: str) -> float:
    try:
        value = float(str(text).strip())
    except ValueError:
        raise UserError(f"{text!r} is not a number (use a dot for decimals, e.g. 12.5)") from None
    if not math.isfinite(value):
        raise UserError(f"{text!r} is not a finite number")
    return value


def parse_day(text: str | None, *, today: date) -> date:
    if text is None or not str(text).strip():
        return today
    try:
        return date.fromisoformat(str(text).strip())
    except ValueError:
        raise UserError(f"{text!r} is not a date; use YYYY-MM-DD, e.g. 2026-11-23") from None


def _team(text: object) -> str:
    if text is not None and not isinstance(text, str):
        raise UserError("team: a team name (text)")
    team = (text or "").strip()
    if len(team) > 255:
        raise UserError("a team name is at most 255 characters")
    return team


def _require_program(session: Session, program_id: str) -> None:
    if session.get(ProgramRow, program_id) is None:
        raise UserError(f"no program {program_id!r}; see `nudgebot content list`")


def record_metric(
    session: Session,
    *,
    program_id: str,
    value: float,
    observed_on: date,
    team: str = "",
    source: str,
    now: datetime,
    workspace_id: str = "",
) -> MetricObservation:
    """Store one KPI value; the same program, day, team and source again replaces it.
    `workspace_id`: the workspace the value is about ("" with a single workspace)."""
    _require_program(session, program_id)
    row = session.scalar(
        select(MetricObservation).where(
            MetricObservation.program_id == program_id,
            MetricObservation.workspace_id == workspace_id,
            MetricObservation.observed_on == observed_on,
            MetricObservation.team == team,
            MetricObservation.source == source,
        )
    )
    if row is None:
        row = MetricObservation(
            program_id=program_id,
            workspace_id=workspace_id,
            observed_on=observed_on,
            team=team,
            source=source,
        )
        session.add(row)
    row.value = value
    row.recorded_at = now
    session.flush()
    return row


@dataclass(frozen=True)
class MetricRow:
    program_id: str
    value: float
    observed_on: date
    team: str


def parse_metric_csv(session: Session, *, text: str, name: str, today: date) -> list[MetricRow]:
    """Every row checked before anything is stored; errors say file:line:field."""
    table = csvfile.CsvTable(text, source=name, lower_header=True)
    header = table.header
    missing = [c for c in ("program", "value") if c not in header]
    if missing:
        raise table.header_error(
            f"missing column(s) {', '.join(missing)}; expected a header "
            f"{','.join(CSV_COLUMNS)} (date and team optional)"
        )
    known = set(session.scalars(select(ProgramRow.id)))
    rows = [_metric_row(row.cells, known, row.where, today) for row in table]
    if not rows:
        raise UserError(f"{name}: no rows to import")
    return rows


def _metric_row(cells: dict[str, str], known: set[str], where: str, today: date) -> MetricRow:
    program = cells.get("program", "")
    if program not in known:
        raise UserError(f"{where}: program: no program {program!r}")
    try:
        value = parse_value(cells.get("value", ""))
        day = parse_day(cells.get("date"), today=today)
        team = _team(cells.get("team"))
    except UserError as exc:
        field = "value" if "number" in str(exc) else "date" if "date" in str(exc) else "team"
        raise UserError(f"{where}: {field}: {exc}") from None
    return MetricRow(program, value, day, team)


def import_metric_csv(session: Session, *, path: Path, now: datetime) -> int:
    text = csvfile.read_text(path)
    rows = parse_metric_csv(session, text=text, name=str(path), today=now.date())
    for row in rows:
        record_metric(
            session,
            program_id=row.program_id,
            value=row.value,
            observed_on=row.observed_on,
            team=row.team,
            source=f"csv:{path.name}"[:96],
            now=now,
        )
    return len(rows)


def list_metric(session: Session, *, program_id: str) -> list[MetricObservation]:
    _require_program(session, program_id)
    return list(
        session.scalars(
            select(MetricObservation)
            .where(MetricObservation.program_id == program_id)
            .order_by(MetricObservation.observed_on, MetricObservation.team, MetricObservation.id)
        )
    )


# -- The signed metric webhook ------------------------------------------------------------------


_TEAM_ID = re.compile(r"^[TE][A-Z0-9]{1,31}$")
BadSignature = webhooks.BadSignature
metric_signature = webhooks.signature


def verify_metric_request(
    *, body: bytes, headers: dict[str, str], settings: Settings, now: datetime
) -> str:
    """The source's name when the request is signed by it within 5 minutes."""
    return webhooks.verify(
        settings.metric_hook_secrets,
        headers,
        body,
        now=now.timestamp(),
        setting="NUDGEBOT_METRIC_HOOK_SECRETS",
    )


def parse_metric_payload(body: bytes, *, today: date) -> tuple[str, float, date, str]:
    try:
        data: Any = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise UserError('the body must be JSON: {"program": …, "value": …}') from None
    if not isinstance(data, dict):
        raise UserError("the body must be a JSON object")
    program = data.get("program")
    if not isinstance(program, str) or not program:
        raise UserError("program: required, a program id")
    raw = data.get("value")
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise UserError("value: required, a number")
    return (
        program,
        parse_value(str(raw)),
        parse_day(data.get("date"), today=today),
        _team(data.get("team")),
    )


def parse_metric_workspace(body: bytes) -> str | None:
    """The optional "workspace" of a metric payload (a Slack team id), None when absent.
    Call after parse_metric_payload, which has checked the body is a JSON object."""
    data = json.loads(body.decode("utf-8"))
    workspace = data.get("workspace")
    if workspace is None or workspace == "":
        return None
    if not isinstance(workspace, str) or not _TEAM_ID.match(workspace):
        raise UserError("workspace: a Slack team id (T…), as in the app's install")
    return workspace


# -- Privacy choices ----------------------------------------------------------------------------


def privacy_choice(session: Session, *, person_id: int) -> PrivacyChoice:
    """The person's choices; the private defaults when they never chose."""
    choice = session.get(PrivacyChoice, person_id)
    return choice or PrivacyChoice(
        person_id=person_id, share_with_manager=False, enrollment_opt_in=False
    )


def set_privacy_choice(
    session: Session,
    *,
    person_id: int,
    now: datetime,
    share_with_manager: bool | None = None,
    enrollment_opt_in: bool | None = None,
) -> PrivacyChoice:
    """Only ever called for the person themselves (the listener passes the actor's id)."""
    choice = session.get(PrivacyChoice, person_id)
    if choice is None:
        choice = PrivacyChoice(
            person_id=person_id, share_with_manager=False, enrollment_opt_in=False, updated_at=now
        )
        session.add(choice)
    if share_with_manager is not None:
        choice.share_with_manager = share_with_manager
    if enrollment_opt_in is not None:
        choice.enrollment_opt_in = enrollment_opt_in
    choice.updated_at = now
    session.flush()
    return choice


def may_enroll(session: Session, *, person_id: int, settings: Settings) -> bool:
    """For the enrollment service: in works-council mode only people who opted in."""
    if not settings.works_council_mode:
        return True
    return privacy_choice(session, person_id=person_id).enrollment_opt_in


def person_by_user(session: Session, user_id: str) -> Person | None:
    return session.scalar(select(Person).where(Person.slack_user_id == user_id))


# -- The manager digest, on demand and weekly ----------------------------------------------------


def manager_digest_blocks(
    session: Session, *, manager_user_id: str, now: datetime, settings: Settings
) -> list[dict[str, Any]]:
    """The manager's digest as Block Kit (for `/nudges digest` and the weekly DM)."""
    digest = manager_digest(session, manager_user_id=manager_user_id, now=now, settings=settings)
    return blocks.manager_digest_blocks(digest)


NO_REPORTS = (
    "Nobody reports to you in Nudgebot's directory, so there is no team digest to show. "
    "Managers come from the org CSV (`manager_slack_user_id`); if that is wrong, "
    "ask an L&D lead to fix it."
)


def has_reports(session: Session, *, manager_user_id: str, workspace_id: str | None = None) -> bool:
    """True when someone in the directory has `manager_user_id` as their manager."""
    found = team_members(session, manager_user_id=manager_user_id, workspace_id=workspace_id)
    return bool(found)


def not_a_manager(session: Session, *, manager_user_id: str) -> str | None:
    """Why there is no team digest for `manager_user_id` (one line), or None."""
    if has_reports(session, manager_user_id=manager_user_id):
        return None
    known = session.scalar(select(Person.id).where(Person.slack_user_id == manager_user_id))
    if known is None:
        return f"no person with Slack user id {manager_user_id!r} (see `nudgebot people sync`)"
    return (
        f"nobody reports to {manager_user_id}, so there is no team digest "
        "(managers come from `nudgebot org import`)"
    )


def managers(session: Session, *, workspace_id: str | None = None) -> list[str]:
    """Everyone who has at least one active direct report (in `workspace_id`, when given)."""
    query = select(Person.manager_slack_user_id).where(
        Person.manager_slack_user_id.is_not(None), Person.is_deleted.is_(False)
    )
    if workspace_id is not None:
        query = query.where(Person.workspace_id == workspace_id)
    return sorted(m for m in session.scalars(query.distinct()) if m)


def digest_settled(
    session: Session,
    *,
    kind: DigestKind,
    recipient: str,
    week_start: date,
    now: datetime,
    workspace_id: str = "",
) -> bool:
    """True when this week's digest was sent, or another process is sending it right now.
    `workspace_id`: the reader's workspace ("" with a single workspace)."""
    row = session.scalar(
        select(DigestSend).where(
            DigestSend.kind == kind,
            DigestSend.workspace_id == workspace_id,
            DigestSend.recipient_user_id == recipient,
            DigestSend.week_start == week_start,
        )
    )
    return row is not None and (row.status == "sent" or row.claimed_at > now - STALE_CLAIM)


def claim_digest(
    session: Session,
    *,
    kind: DigestKind,
    recipient: str,
    week_start: date,
    now: datetime,
    workspace_id: str = "",
) -> DigestSend | None:
    """The right to send this week's digest to this reader, or None when it is taken.

    The unique key makes the claim atomic across replicas; a claim whose process
    died mid-send is taken over after STALE_CLAIM.
    """
    existing = session.scalar(
        select(DigestSend).where(
            DigestSend.kind == kind,
            DigestSend.workspace_id == workspace_id,
            DigestSend.recipient_user_id == recipient,
            DigestSend.week_start == week_start,
        )
    )
    if existing is not None:
        if existing.status == "sent" or existing.claimed_at > now - STALE_CLAIM:
            return None
        existing.claimed_at = now
        existing.status = "sending"
        session.flush()
        return existing
    row = DigestSend(
        kind=kind,
        workspace_id=workspace_id,
        recipient_user_id=recipient,
        week_start=week_start,
        status="sending",
        claimed_at=now,
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return None
    return row


def mark_digest(
    session: Session,
    *,
    send_id: int,
    now: datetime,
    channel_id: str | None = None,
    ts: str | None = None,
    error: str | None = None,
) -> None:
    row = session.get(DigestSend, send_id)
    if row is None:
        return
    row.status = "failed" if error else "sent"
    row.sent_at = None if error else now
    row.channel_id, row.message_ts = channel_id, ts
    row.last_error = error[:255] if error else None
    session.flush()
