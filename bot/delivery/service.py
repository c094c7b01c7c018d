"""Enrollment: who is in which program, from when, in which experiment arm.

Plain functions on a session. Resolving Slack user groups and channel members
happens at the edge (CLI, listeners); these functions take user ids.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import csvfile
from bot.audit import service as audit
from bot.content.models import Program as ProgramRow
from bot.content.models import ProgramVersion
from bot.content.schema import Program
from bot.content.service import current_version, load_program_version, steps_line_up
from bot.delivery import plugins
from bot.delivery.arms import assign_arm
from bot.delivery.calendar import to_utc, zone
from bot.delivery.models import Delivery, DeliveryStatus, Enrollment, EnrollmentStatus
from bot.errors import UserError
from bot.people.models import Person
from bot.people.service import effective_tz


def load_program(session: Session, version_id: int) -> Program:
    return load_program_version(session, version_id)


def latest_version(session: Session, program_id: str) -> ProgramVersion:
    program = session.get(ProgramRow, program_id)
    if program is None:
        raise UserError(
            f"no program {program_id!r}; see `nudgebot content list` (load files with "
            "`nudgebot content sync`)"
        )
    if not program.active:
        raise UserError(f"program {program_id!r} is retired; nobody can be enrolled in it")
    version = current_version(session, program_id)
    if version is None:
        raise UserError(
            f"program {program_id!r} has no stored version; run `nudgebot content sync`"
        )
    return version


@dataclass
class EnrollResult:
    enrolled: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (user id, why)
    enrollment_ids: list[int] = field(default_factory=list)


def enroll(
    session: Session,
    *,
    program_id: str,
    user_ids: Sequence[str],
    starts_at: datetime,
    enrolled_by: str | None,
    source: str,
    now: datetime,
    opt_in_only: bool = False,
    workspace_id: str | None = None,
    start_date: date | None = None,
    default_tz: str = "UTC",
) -> EnrollResult:
    """Enroll people (by Slack user id). Enrolling twice is harmless; a stopped
    enrollment becomes active again and keeps what was already sent. With
    `opt_in_only` (works-council mode) only people who opted in are enrolled.
    `workspace_id` (OAuth mode): the user ids are those of that workspace.
    With `start_date`, each person starts at the beginning of that date in their
    own time zone (`default_tz` when they have none) instead of at `starts_at`."""
    if enrolled_by == "cli":
        # `nudgebot enroll` says only "cli"; the audit log names the login (docs/security.md).
        enrolled_by = audit.cli_actor()
    version = latest_version(session, program_id)
    program = load_program_version(session, version.id)
    result = EnrollResult()
    found = select(Person).where(Person.slack_user_id.in_(set(user_ids)))
    if workspace_id is not None:
        found = found.where(Person.workspace_id == workspace_id)
    people = {p.slack_user_id: p for p in session.scalars(found)}
    for user_id in dict.fromkeys(user_ids):
        person = people.get(user_id)
        why = _cannot_enroll(person) or (_not_opted_in(session, person) if opt_in_only else None)
        if why:
            result.skipped.append((user_id, why))
            continue
        assert person is not None
        enrollment = session.scalar(
            select(Enrollment).where(
                Enrollment.person_id == person.id, Enrollment.program_id == program_id
            )
        )
        if enrollment is not None and enrollment.status == EnrollmentStatus.active:
            result.already.append(user_id)
        elif enrollment is not None:
            enrollment.status = EnrollmentStatus.active
            result.enrolled.append(user_id)
            _audit_enrollment(session, enrollment, actor=enrolled_by, user_id=user_id, now=now)
        else:
            enrollment = Enrollment(
                person_id=person.id,
                program_id=program_id,
                program_version_id=version.id,
                status=EnrollmentStatus.active,
                starts_at=starts_at
                if start_date is None
                else local_midnight(start_date, _zone_of(person, default_tz)),
                arm=assign_arm(program, user_id),
                enrolled_by=enrolled_by,
                source=source,
                created_at=now,
                updated_at=now,
            )
            session.add(enrollment)
            result.enrolled.append(user_id)
            _audit_enrollment(session, enrollment, actor=enrolled_by, user_id=user_id, now=now)
        session.flush()
        result.enrollment_ids.append(enrollment.id)
    return result


def local_midnight(day: date, tz: str) -> datetime:
    """The first moment of `day` in zone `tz`, in UTC."""
    return to_utc(day, time(), zone(tz))


def _zone_of(person: Person, default_tz: str) -> str:
    return effective_tz(person, default_tz)


def _audit_enrollment(
    session: Session, enrollment: Enrollment, *, actor: str | None, user_id: str, now: datetime
) -> None:
    # The one enrolling now: a stopped enrollment started again keeps its first enroller.
    audit.record(
        session,
        actor=actor or audit.SYSTEM,
        action=audit.Action.enrollment_create,
        target=user_id,
        details={
            "program": enrollment.program_id,
            "source": enrollment.source,
            "arm": enrollment.arm or "main",
        },
        now=now,
    )


def _not_opted_in(session: Session, person: Person | None) -> str | None:
    assert person is not None
    if plugins.current().opted_in(session, person.id):
        return None
    return "has not opted in (works-council mode: enrollment is opt-in)"


def _cannot_enroll(person: Person | None) -> str | None:
    if person is None:
        return "not in the directory (run `nudgebot people sync`)"
    if person.is_deleted:
        return "account deactivated"
    if person.is_bot:
        return "a bot"
    return None


def team_user_ids(session: Session, *, team: str, workspace_id: str | None = None) -> list[str]:
    query = select(Person.slack_user_id).where(
        Person.team == team, Person.is_deleted.is_(False), Person.is_bot.is_(False)
    )
    if workspace_id is not None:
        query = query.where(Person.workspace_id == workspace_id)
    ids = list(session.scalars(query))
    if not ids:
        raise UserError(f"nobody is in team {team!r} (teams come from `nudgebot org import`)")
    return ids


def user_ids_from_csv(
    session: Session, *, path: Path, workspace_id: str | None = None
) -> list[str]:
    """Slack user ids from a CSV with a slack_user_id or an email column (emails are
    looked up in `workspace_id` when given: OAuth mode)."""
    table = csvfile.read_csv(path)
    if not set(table.header) & {"slack_user_id", "email"}:
        raise table.header_error("header: needs a slack_user_id or an email column")
    ids: list[str] = []
    for row in table:
        user_id = row.get("slack_user_id")
        email = row.get("email").lower()
        if not user_id and email:
            by_email = select(Person.slack_user_id).where(Person.email == email)
            if workspace_id is not None:
                by_email = by_email.where(Person.workspace_id == workspace_id)
            user_id = session.scalars(by_email).first() or ""
        if not user_id:
            raise row.error("slack_user_id", "unknown person")
        ids.append(user_id)
    return ids


def resolve_version_for_enrollment(session: Session, *, enrollment: Enrollment) -> ProgramVersion:
    """The version this enrollment should follow now: the current one when the steps
    line up (see `steps_line_up`), else the one it started with. Changes nothing."""
    own = session.get(ProgramVersion, enrollment.program_version_id)
    if own is None:
        raise UserError(f"enrollment {enrollment.id} points at a missing program version")
    current = current_version(session, enrollment.program_id)
    if current is None or current.id == own.id:
        return own
    reached = set(
        session.scalars(
            select(Delivery.step_id).where(
                Delivery.enrollment_id == enrollment.id,
                Delivery.status.not_in([DeliveryStatus.planned, DeliveryStatus.cancelled]),
            )
        )
    )
    started = load_program_version(session, own.id)
    latest = load_program_version(session, current.id)
    if steps_line_up(started, latest, reached_step_ids=reached, arm=enrollment.arm):
        return current
    return own
