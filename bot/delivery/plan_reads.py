"""What a plan tick reads for one chunk of people, in a few set-based queries."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.delivery.arms import HOLDOUT
from bot.delivery.calendar import (
    Calendar,
    to_utc,
)
from bot.delivery.models import (
    Delivery,
    Enrollment,
    EnrollmentStatus,
)
from bot.delivery.placement import (
    _COUNTED,
    NEVER,
    RETRY_NO_DAY,
    Key,
    Slot,
    _EnrollmentRow,
    _Existing,
    _PersonRow,
    _place,
    _Programs,
    _Replan,
    _Wanted,
    _wanted,
    person_calendar,
    week_of,
)
from bot.people.models import Person
from bot.settings import Settings

_PERSON_COLUMNS = (
    Person.id,
    Person.slack_user_id,
    # What person_calendar reads; people who share them share one Calendar.
    Person.tz_override,
    Person.org_tz,
    Person.tz,
    Person.working_hours,
    Person.working_days,
    Person.country,
)

_ENROLLMENT_COLUMNS = (
    Enrollment.id,
    Enrollment.person_id,
    Enrollment.program_version_id,
    Enrollment.arm,
    Enrollment.starts_at,
    Enrollment.created_at,
    Enrollment.plan_mark,
)


@dataclass(slots=True)
class _Chunk:
    """What placing one chunk of people needs, read in a few queries (plain rows:
    no ORM objects to build for 100,000 people)."""

    people: dict[int, _PersonRow]
    enrollments: dict[int, list[_EnrollmentRow]]
    existing: dict[int, list[_Existing]]
    programs: _Programs


class _Calendars:
    """person_calendar once per distinct (zones, hours, days, country)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._known: dict[tuple[Any, ...], Calendar] = {}

    def __call__(self, fields: tuple[Any, ...]) -> Calendar:
        found = self._known.get(fields)
        if found is None:
            tz_override, org_tz, tz, hours, days, country = fields
            shape = Person(
                tz_override=tz_override,
                org_tz=org_tz,
                tz=tz,
                working_hours=hours,
                working_days=days,
                country=country,
            )
            found = self._known[fields] = person_calendar(shape, self._settings)
        return found


def _read_chunk(
    session: Session, person_ids: list[int], programs: _Programs, calendars: _Calendars
) -> _Chunk:
    wanted_ids = set(person_ids)
    people = {
        r[0]: _PersonRow(r[0], r[1], calendars(tuple(r[2:])))
        for r in session.execute(
            select(*_PERSON_COLUMNS).where(*_ids_between(Person.id, person_ids))
        )
        if r[0] in wanted_ids
    }
    by_person: dict[int, list[_EnrollmentRow]] = {}
    enrollments = session.execute(
        select(*_ENROLLMENT_COLUMNS).where(
            *_ids_between(Enrollment.person_id, person_ids),
            Enrollment.status == EnrollmentStatus.active,
            Enrollment.arm != HOLDOUT,
        )
    )
    for row in enrollments:
        enrollment = _EnrollmentRow(*row)
        if enrollment.person_id in people:
            by_person.setdefault(enrollment.person_id, []).append(enrollment)
            programs.timings(enrollment.program_version_id, enrollment.arm)  # read it now
    existing = _existing_rows(session, person_ids, wanted_ids)
    return _Chunk(people, by_person, existing, programs)


def _place_chunk(
    chunk: _Chunk, settings: Settings, now: datetime, horizon_end: datetime
) -> tuple[list[Slot], dict[int, list[_Existing]], list[_Replan]]:
    """Place the chunk's nudges without touching the database (the previous chunk
    may be being written meanwhile): everything it needs was read before."""
    slots: list[Slot] = []
    replans: list[_Replan] = []
    for person_id, mine in chunk.enrollments.items():
        placed, later = _plan_person(
            chunk.programs,
            settings,
            chunk.people[person_id],
            mine,
            chunk.existing.get(person_id, []),
            now,
            horizon_end,
        )
        slots += placed
        replans += [_Replan(e.id, e.plan_mark, later[e.id]) for e in mine]
    return slots, chunk.existing, replans


def _ids_between(column: Any, ids: list[int]) -> list[Any]:
    """Rows of these (sorted) ids: a range when they are dense (one cached statement,
    no thousand-parameter IN list), else the list itself."""
    if ids[-1] - ids[0] < 2 * len(ids):
        return [column >= ids[0], column <= ids[-1]]
    return [column.in_(ids)]


def _existing_rows(
    session: Session, person_ids: list[int], wanted: set[int]
) -> dict[int, list[_Existing]]:
    rows = session.execute(
        select(
            Delivery.id,
            Delivery.person_id,
            Delivery.enrollment_id,
            Delivery.step_id,
            Delivery.repetition,
            Delivery.status,
            Delivery.due_at,
            Delivery.window_end,
            Delivery.attempts,
            Delivery.last_error,
        ).where(
            *_ids_between(Delivery.person_id, person_ids),
            # Program steps only: other DMs of the outbox are not nudges under the cap.
            Delivery.enrollment_id.is_not(None),
        )
    )
    out: dict[int, list[_Existing]] = {}
    for r in rows:
        if r.person_id not in wanted:
            continue
        out.setdefault(r.person_id, []).append(
            _Existing(
                r.id,
                Key(r.enrollment_id, r.step_id, r.repetition),
                r.status,
                r.due_at,
                r.window_end,
                r.attempts,
                r.last_error,
            )
        )
    return out


def _plan_person(
    program_of: _Programs,
    settings: Settings,
    person: _PersonRow,
    enrollments: list[_EnrollmentRow],
    existing: list[_Existing],
    now: datetime,
    horizon_end: datetime,
) -> tuple[list[Slot], dict[int, datetime]]:
    """The person's slots within the horizon, and per enrollment when to look again."""
    base = person.calendar
    horizon = horizon_end - now
    fixed = {e.key: e for e in existing if not e.movable(now)}
    movable = {e.key: e for e in existing if e.movable(now)}
    horizon_day = base.local_date(horizon_end)
    later: dict[int, datetime] = {}
    wanted: list[_Wanted] = []
    for enrollment in enrollments:
        items, beyond = _wanted(program_of, person, enrollment, base, horizon_day)
        wanted += [w for w in items if w.key not in fixed]
        # Its next step's day comes within the horizon at that day's local midnight.
        midnight = NEVER if beyond is None else to_utc(beyond, time(), base.tz) - horizon
        later[enrollment.id] = midnight
    # Held in the week: what the planner does not place itself (sent, due, tried, or
    # triggered at the moment of work) counts toward the weekly cap as it stands.
    counts: Counter[tuple[int, int]] = Counter()
    if existing:
        wanted_keys = {w.key for w in wanted}
        counts.update(
            week_of(base.local_date(e.due_at))
            for e in existing
            if e.status in _COUNTED and (e.key in fixed or e.key not in wanted_keys)
        )
    wanted.sort(
        key=lambda w: (w.natural, w.when.at or time(), w.key.enrollment_id, w.key.repetition)
    )
    slots: list[Slot] = []

    def week_full(week: tuple[int, int]) -> bool:
        return counts[week] >= settings.weekly_cap

    # Each enrollment's steps in program order: jitter, a late start or a weekend may
    # push two steps onto one day, and the later step must still come after the earlier.
    previous: dict[int, datetime] = {}
    for w in wanted:
        eid = w.key.enrollment_id
        placed = _place(w, settings, now, week_full, previous.get(eid))
        if placed is None:
            later[eid] = min(later[eid], now + RETRY_NO_DAY)
            continue
        previous[eid] = placed[0]
        if placed[0] > horizon_end:
            later[eid] = min(later[eid], placed[0] - horizon)
            continue
        due, end, day = placed
        counts[week_of(day)] += 1
        old = movable.get(w.key)
        slots.append(Slot(w.key, person.id, due, end, old.id if old else None))
    return slots, later
