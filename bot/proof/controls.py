"""What a person controls about their own nudges: `/nudges …` and App Home's
buttons and preferences. Plain functions on a session; replies are mrkdwn text."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.audit import service as audit
from bot.content.models import Program as ProgramRow
from bot.delivery.models import Delivery, DeliveryStatus, Enrollment, EnrollmentStatus
from bot.delivery.planner import plan
from bot.errors import UserError
from bot.people.models import Person
from bot.people.service import effective_tz, valid_zone
from bot.proof import blocks, home, home_blocks, pauses
from bot.proof.models import NudgePreference, PauseReason
from bot.settings import Settings, TimeWindow

USAGE = "Try `/nudges help`."


@dataclass(frozen=True)
class Command:
    verb: str
    args: tuple[str, ...]


def parse(text: str) -> Command:
    words = text.split()
    if not words:
        return Command("help", ())
    return Command(words[0].lower(), tuple(words[1:]))


def person_tz(person: Person, settings: Settings) -> ZoneInfo:
    return ZoneInfo(effective_tz(person, settings.default_timezone))


def local_date(value: str, *, what: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UserError(f"{what} {value!r} is not a date; write it like 2026-12-14") from None


def run(
    session: Session, *, person: Person, command: Command, now: datetime, settings: Settings
) -> str:
    """The reply to `/nudges …` (UserError for input that makes no sense)."""
    verb, args = command.verb, command.args
    if verb in ("help", "?"):
        return blocks.HELP
    if verb == "status":
        return status(session, person=person, now=now, settings=settings)
    if verb == "pause":
        return pause(session, person=person, args=args, now=now, settings=settings)
    if verb == "resume":
        return resume(session, person=person, now=now, settings=settings)
    if verb == "vacation":
        return vacation(session, person=person, args=args, now=now, settings=settings)
    if verb == "stop":
        if len(args) != 1:
            raise UserError(
                "say which program: `/nudges stop PROGRAM` (ids are in `/nudges status`)"
            )
        return stop(session, person=person, program_id=args[0], now=now)
    raise UserError(f"I don't know `{verb}`. {USAGE}")


def status(session: Session, *, person: Person, now: datetime, settings: Settings) -> str:
    tz = person_tz(person, settings)
    programs = session.execute(
        select(Enrollment.program_id, ProgramRow.title)
        .join(ProgramRow, ProgramRow.id == Enrollment.program_id)
        .where(Enrollment.person_id == person.id, Enrollment.status == EnrollmentStatus.active)
        .order_by(ProgramRow.title)
    )
    locale = session.get(NudgePreference, person.id)
    return blocks.status_text(
        tz=tz,
        pauses=pauses.active_pauses(session, person_id=person.id, now=now),
        upcoming=pauses.upcoming_pauses(session, person_id=person.id, now=now),
        next_lines=home.next_nudges(
            session, person, now=now, locale=(locale.language if locale else None) or person.locale
        ),
        programs=[(row[0], row[1]) for row in programs],
    )


def pause(
    session: Session, *, person: Person, args: tuple[str, ...], now: datetime, settings: Settings
) -> str:
    tz = person_tz(person, settings)
    ends_at = None
    if args:
        if len(args) != 2 or args[0].lower() != "until":
            raise UserError("write `/nudges pause` or `/nudges pause until 2026-12-14`")
        day = local_date(args[1], what="the date")
        ends_at = datetime.combine(day, time(0, 0), tzinfo=tz)
        if ends_at <= now:
            raise UserError(f"{day.isoformat()} is not in the future; pick a later date")
    return pause_now(session, person=person, now=now, settings=settings, ends_at=ends_at)


def pause_now(
    session: Session, *, person: Person, now: datetime, settings: Settings, ends_at: datetime | None
) -> str:
    tz = person_tz(person, settings)
    row = pauses.pause(session, person=person, reason=PauseReason.manual, now=now, ends_at=ends_at)
    text = home_blocks.pause_text(row, tz)
    return f":pause_button: Your nudges are {text}. Nothing planned is lost: it waits."


def resume(session: Session, *, person: Person, now: datetime, settings: Settings) -> str:
    ended = pauses.resume(session, person=person, now=now, settings=settings)
    if not ended:
        return ":arrow_forward: Your nudges were not paused; nothing changed."
    return (
        ":arrow_forward: Your nudges are back on. "
        "What waited comes one a day, inside your working hours."
    )


def vacation(
    session: Session, *, person: Person, args: tuple[str, ...], now: datetime, settings: Settings
) -> str:
    if len(args) != 2:
        raise UserError(
            "write `/nudges vacation FIRST-DAY LAST-DAY`, "
            "like `/nudges vacation 2026-12-21 2027-01-04`"
        )
    first, last = (
        local_date(args[0], what="the first day"),
        local_date(args[1], what="the last day"),
    )
    if last < first:
        raise UserError("the last day is before the first; swap them")
    tz = person_tz(person, settings)
    starts_at = datetime.combine(first, time(0, 0), tzinfo=tz)
    ends_at = datetime.combine(last + timedelta(days=1), time(0, 0), tzinfo=tz)
    if ends_at <= now:
        raise UserError("that vacation is already over; pick dates ahead")
    pauses.pause(
        session,
        person=person,
        reason=PauseReason.vacation,
        now=now,
        starts_at=max(starts_at, now),
        ends_at=ends_at,
    )
    return f":palm_tree: No nudges from {first.isoformat()} to {last.isoformat()}. Enjoy!"


def stop(session: Session, *, person: Person, program_id: str, now: datetime) -> str:
    enrollment = session.scalar(
        select(Enrollment).where(
            Enrollment.person_id == person.id, Enrollment.program_id == program_id
        )
    )
    if enrollment is None or enrollment.status != EnrollmentStatus.active:
        raise UserError(f"you are not in a program `{program_id}`; `/nudges status` lists yours")
    enrollment.status = EnrollmentStatus.stopped
    audit.record(
        session,
        actor=person.slack_user_id,
        action=audit.Action.enrollment_stop,
        target=person.slack_user_id,
        details={"program": program_id, "source": "/nudges stop"},
        now=now,
    )
    cancelled = session.execute(
        update(Delivery)
        .where(
            Delivery.enrollment_id == enrollment.id,
            Delivery.status.in_([DeliveryStatus.planned, DeliveryStatus.skipped]),
        )
        .values(
            status=DeliveryStatus.cancelled,
            last_error="program stopped by the person",
            updated_at=now,
        )
    )
    count = int(getattr(cancelled, "rowcount", 0) or 0)
    return f":stop_sign: You left `{program_id}`; {count} planned nudge(s) will not come."


# -- preferences ---------------------------------------------------------------------------------


def preference_errors(*, hours: str, tz: str, language: str) -> dict[str, str]:
    errors = {}
    try:
        TimeWindow.parse(hours.strip())
    except ValueError:
        errors["hours"] = "Write it like 09:00-17:30 (start before end)."
    if tz.strip() and not valid_zone(tz.strip()):
        errors["tz"] = "Not a time zone I know; write it like Europe/Sofia or America/New_York."
    if language not in (*home_blocks.LANGUAGES, "slack"):
        errors["language"] = "Choose one of the languages."
    return errors


def save_preferences(
    session: Session,
    *,
    person: Person,
    hours: str,
    tz: str,
    language: str,
    now: datetime,
    settings: Settings,
) -> None:
    """Store the choices and re-plan what is not yet due into the new window."""
    errors = preference_errors(hours=hours, tz=tz, language=language)
    if errors:
        raise UserError("; ".join(errors.values()))
    window = str(TimeWindow.parse(hours.strip()))
    person.working_hours = None if window == str(settings.working_hours) else window
    person.tz_override = tz.strip() or None
    pref = session.get(NudgePreference, person.id)
    if pref is None:
        pref = NudgePreference(person_id=person.id)
        session.add(pref)
    pref.language = None if language == "slack" else language
    pref.updated_at = now
    session.flush()
    plan(session, settings=settings, now=now, person_ids=[person.id])


def chosen_languages(session: Session, person_ids: Collection[int]) -> dict[int, str]:
    """The language each of these people picked in App Home, where one was picked
    (it wins over Slack's locale; the sender asks once per batch)."""
    rows = session.execute(
        select(NudgePreference.person_id, NudgePreference.language).where(
            NudgePreference.person_id.in_(list(person_ids)), NudgePreference.language.is_not(None)
        )
    )
    return {person_id: language for person_id, language in rows if language}
