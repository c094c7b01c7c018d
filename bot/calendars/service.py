"""From a read feed to the outbox: match events against the triggers of the programs
a person is enrolled in, and keep one delivery per (enrollment, step, event).

A new match becomes a `planned` delivery due at the event's moment (`at`), or a
`skipped` one with the reason when that moment falls outside the person's working
hours (a day off, a holiday) or the weekly cap is reached: a calendar nudge is
worth sending at its moment or not at all. A moved event moves its pending
delivery; an event that is gone (cancelled, removed, declined, no longer
matching) cancels it; an event that has started is left as it was. The sender
then applies pauses and Do Not Disturb as for every nudge, and drops a calendar
nudge whose moment has passed instead of sending it the next day.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.calendars.ics import Event
from bot.calendars.matching import company_domains, firsts_of_day, matches, moment, useful_until
from bot.calendars.models import CalendarMatch
from bot.content.schema import Program
from bot.delivery.arms import HOLDOUT
from bot.delivery.calendar import Calendar
from bot.delivery.models import Delivery, DeliveryStatus, Enrollment, EnrollmentStatus
from bot.delivery.placement import person_calendar
from bot.delivery.service import load_program
from bot.delivery.triggers import CAP_REASON, held_in_week
from bot.people.models import Person
from bot.settings import Settings

HORIZON_DAYS = 7  # events read and planned this far ahead
OUTSIDE_HOURS = "outside working hours or on a day off; a calendar nudge is sent at its moment"
GONE = "the calendar event was cancelled, moved away, declined or no longer matches"
KEEP_PASSED = timedelta(days=2)  # matches of passed events are forgotten after this
# Reasons this module gives a skipped row: such a row is re-placed when its event moves.
_OURS = (OUTSIDE_HOURS, CAP_REASON)


@dataclass
class SyncStats:
    planned: int = 0
    moved: int = 0
    cancelled: int = 0
    matched: int = 0
    upcoming: list[datetime] = field(default_factory=list)  # due times of planned nudges


@dataclass(frozen=True)
class _Want:
    event: Event
    due: datetime
    person_id: int
    enrollment_id: int


def calendar_steps(program: Program, arm: str) -> list[tuple[str, str, str]]:
    """(step id, trigger id, at) of the steps a calendar trigger times, for an arm."""
    triggers = {t.id for t in program.triggers if t.source == "calendar"}
    out = []
    for step in program.steps:
        when = step.when_for(arm)
        if when.trigger in triggers and when.at is not None:
            out.append((step.id, when.trigger, when.at))
    return out


def is_calendar_step(program: Program, step_id: str, arm: str) -> bool:
    return any(s == step_id for s, _, _ in calendar_steps(program, arm))


def apply_events(
    session: Session,
    *,
    settings: Settings,
    now: datetime,
    person: Person,
    events: Sequence[Event],
) -> SyncStats:
    """Bring the person's calendar deliveries in line with `events` (a full read)."""
    stats = SyncStats()
    cal = person_calendar(person, settings)
    wanted = _wanted(session, settings, person, cal, events)
    stats.matched = len(wanted)
    matches_now = list(
        session.scalars(select(CalendarMatch).where(CalendarMatch.person_id == person.id))
    )
    ids = [m.delivery_id for m in matches_now if m.delivery_id is not None]
    rows = {d.id: d for d in session.scalars(select(Delivery).where(Delivery.id.in_(ids)))}
    for match in matches_now:
        key = (match.enrollment_id, match.step_id, match.event_key)
        row = rows.get(match.delivery_id) if match.delivery_id is not None else None
        want = wanted.pop(key, None)
        if match.starts_at <= now:
            # Started or passed: left as it was; forgotten a while after it ended.
            if match.ends_at < now - KEEP_PASSED:
                session.delete(match)
            continue
        if want is None:
            if row is not None and _pending(row):
                row.status = DeliveryStatus.cancelled
                row.last_error = GONE
                row.updated_at = now
                stats.cancelled += 1
            session.delete(match)
            continue
        if (match.starts_at, match.ends_at) == (want.event.start, want.event.end):
            if row is not None and row.status == DeliveryStatus.planned:
                stats.upcoming.append(row.due_at)
            continue
        match.starts_at, match.ends_at = want.event.start, want.event.end
        if row is not None and _pending(row):
            if want.due <= now:
                row.status = DeliveryStatus.cancelled
                row.last_error = "the calendar event moved to a moment that has passed"
                stats.cancelled += 1
            else:
                _place(session, settings, cal, row, want, now)
                stats.moved += 1
                if row.status == DeliveryStatus.planned:
                    stats.upcoming.append(row.due_at)
            row.updated_at = now
    # New matches whose moment is still ahead (a passed moment has nothing to send).
    fresh = sorted(
        ((key[0], key[1], want) for key, want in wanted.items() if want.due > now),
        key=lambda item: (item[2].due, item[2].event.key, item[1]),
    )
    for row in _new_rows(session, settings, cal, fresh, now):
        stats.planned += 1
        if row.status == DeliveryStatus.planned:
            stats.upcoming.append(row.due_at)
    return stats


def _wanted(
    session: Session, settings: Settings, person: Person, cal: Calendar, events: Sequence[Event]
) -> dict[tuple[int, str, str], _Want]:
    wanted: dict[tuple[int, str, str], _Want] = {}
    if person.is_deleted or person.is_bot or not events:
        return wanted
    enrollments = session.scalars(
        select(Enrollment).where(
            Enrollment.person_id == person.id,
            Enrollment.status == EnrollmentStatus.active,
            Enrollment.arm != HOLDOUT,
        )
    )
    domains = company_domains(settings.company_domains, person.email)
    firsts = firsts_of_day(events, cal.tz)
    for enrollment in enrollments:
        program = load_program(session, enrollment.program_version_id)
        steps = calendar_steps(program, enrollment.arm)
        if not steps:
            continue
        triggers = {t.id: t for t in program.triggers}
        for step_id, trigger_id, at in steps:
            trigger = triggers[trigger_id]
            for event in events:
                if matches(trigger, event, domains=domains, first=event.key in firsts):
                    wanted[(enrollment.id, step_id, event.key)] = _Want(
                        event, moment(event, at), person.id, enrollment.id
                    )
    return wanted


def _pending(row: Delivery) -> bool:
    if row.status == DeliveryStatus.planned:
        return True
    return row.status == DeliveryStatus.skipped and (row.last_error or "").startswith(_OURS)


class _Weeks:
    """The person's nudges held per local week, read once each and counted on as new
    rows are planned (one query per week instead of one per row)."""

    def __init__(self, session: Session, person_id: int, cal: Calendar) -> None:
        self._session, self._person_id, self._cal = session, person_id, cal
        self._held: dict[object, int] = {}

    def _week(self, due: datetime) -> object:
        day = self._cal.local_date(due)
        return day - timedelta(days=day.weekday())

    def held(self, due: datetime) -> int:
        week = self._week(due)
        if week not in self._held:
            self._held[week] = held_in_week(self._session, self._person_id, self._cal, due)
        return self._held[week]

    def add(self, due: datetime) -> None:
        self._held[self._week(due)] = self.held(due) + 1


def _place(
    session: Session,
    settings: Settings,
    cal: Calendar,
    row: Delivery,
    want: _Want,
    now: datetime,
    weeks: _Weeks | None = None,
) -> None:
    start, end = cal.next_open(want.due)
    if start > want.due:
        row.status, row.due_at, row.window_end = DeliveryStatus.skipped, want.due, None
        row.last_error = f"{OUTSIDE_HOURS}; not sent"
        return
    if weeks is not None:
        held = weeks.held(want.due)
    else:
        held = held_in_week(session, row.person_id, cal, want.due)
        if row.id is not None and row.status == DeliveryStatus.planned:
            held = max(0, held - _counted_in_same_week(cal, row.due_at, want.due))
    row.due_at = want.due
    row.window_end = min(end, useful_until(want.event, want.due))
    if held < settings.weekly_cap:
        row.status, row.last_error = DeliveryStatus.planned, None
        if weeks is not None:
            weeks.add(want.due)
    else:
        row.status = DeliveryStatus.skipped
        row.last_error = f"{CAP_REASON} ({held} of {settings.weekly_cap} this week); not sent"


def _counted_in_same_week(cal: Calendar, old: datetime, new: datetime) -> int:
    a, b = cal.local_date(old), cal.local_date(new)
    return int(a - timedelta(days=a.weekday()) == b - timedelta(days=b.weekday()))


def _new_rows(
    session: Session,
    settings: Settings,
    cal: Calendar,
    fresh: list[tuple[int, str, _Want]],
    now: datetime,
) -> list[Delivery]:
    """Outbox rows and matches for new matches, written together (one savepoint). When
    another reader planned some of them meanwhile, each is tried on its own instead."""
    if not fresh:
        return []
    enrollment_ids = {e for e, _, _ in fresh}
    latest: dict[tuple[int, str], int] = {
        (e, s): int(r)
        for e, s, r in session.execute(
            select(Delivery.enrollment_id, Delivery.step_id, func.max(Delivery.repetition))
            .where(Delivery.enrollment_id.in_(enrollment_ids))
            .group_by(Delivery.enrollment_id, Delivery.step_id)
        )
        if e is not None
    }
    weeks = _Weeks(session, fresh[0][2].person_id, cal)
    built: list[tuple[Delivery, CalendarMatch]] = []
    for enrollment_id, step_id, want in fresh:
        repetition = latest.get((enrollment_id, step_id), -1) + 1
        latest[(enrollment_id, step_id)] = repetition
        row = Delivery(
            enrollment_id=enrollment_id,
            person_id=want.person_id,
            step_id=step_id,
            repetition=repetition,
            status=DeliveryStatus.planned,
            due_at=want.due,
            attempts=0,
            created_at=now,
            updated_at=now,
        )
        _place(session, settings, cal, row, want, now, weeks)
        match = CalendarMatch(
            person_id=want.person_id,
            enrollment_id=enrollment_id,
            step_id=step_id,
            event_key=want.event.key,
            starts_at=want.event.start,
            ends_at=want.event.end,
        )
        built.append((row, match))
    try:
        with session.begin_nested():
            session.add_all([row for row, _ in built])
            session.flush()
            for row, match in built:
                match.delivery_id = row.id
            session.add_all([match for _, match in built])
            session.flush()
    except IntegrityError:
        one_by_one = (_new_row(session, settings, cal, w, e, s, now) for e, s, w in fresh)
        return [made for made in one_by_one if made is not None]
    return [row for row, _ in built]


def _new_row(
    session: Session,
    settings: Settings,
    cal: Calendar,
    want: _Want,
    enrollment_id: int,
    step_id: str,
    now: datetime,
) -> Delivery | None:
    mine = (Delivery.enrollment_id == enrollment_id) & (Delivery.step_id == step_id)
    latest = session.scalar(select(func.max(Delivery.repetition)).where(mine))
    row = Delivery(
        enrollment_id=enrollment_id,
        person_id=want.person_id,
        step_id=step_id,
        repetition=0 if latest is None else latest + 1,
        status=DeliveryStatus.planned,
        due_at=want.due,
        attempts=0,
        created_at=now,
        updated_at=now,
    )
    _place(session, settings, cal, row, want, now)
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
            session.add(
                CalendarMatch(
                    person_id=want.person_id,
                    enrollment_id=enrollment_id,
                    step_id=step_id,
                    event_key=want.event.key,
                    starts_at=want.event.start,
                    ends_at=want.event.end,
                    delivery_id=row.id,
                )
            )
    except IntegrityError:
        return None  # the same match made by another reader got there first
    return row


def forget_matches(session: Session, person_id: int, now: datetime) -> int:
    """Disconnect: pending calendar nudges are cancelled and the matches deleted."""
    ids = [
        i
        for i in session.scalars(
            select(CalendarMatch.delivery_id).where(CalendarMatch.person_id == person_id)
        )
        if i is not None
    ]
    cancelled = 0
    for row in session.scalars(select(Delivery).where(Delivery.id.in_(ids))):
        if _pending(row) and row.status == DeliveryStatus.planned:
            row.status, row.last_error, row.updated_at = (
                DeliveryStatus.cancelled,
                "calendar disconnected",
                now,
            )
            cancelled += 1
    session.execute(delete(CalendarMatch).where(CalendarMatch.person_id == person_id))
    return cancelled
