"""Placing nudges in a person's own time: calendars, jitter, the weekly cap, and
the plan of one person (which steps and repetitions are due, and when)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import NamedTuple

from sqlalchemy.orm import Session

from bot.content.schema import Program
from bot.delivery.calendar import (
    MAX_DAYS_AHEAD,
    Calendar,
    calendar,
    next_monday,
    parse_days,
    parse_window,
    to_utc,
    zone,
)
from bot.delivery.calendar import week_of as _week_of
from bot.delivery.models import (
    DeliveryStatus,
)
from bot.delivery.service import load_program
from bot.people.models import Person
from bot.people.service import effective_tz
from bot.settings import Settings, TimeWindow

CHUNK = 2000

# The ISO week of a date, once per date (the planner asks millions of times).
week_of = lru_cache(maxsize=4096)(_week_of)

# An enrollment with nothing left to plan: the tick never needs to look at it again
# (a change to the person or the enrollment clears it).
NEVER = datetime(9000, 1, 1, tzinfo=UTC)

# No open day found within a year (a calendar without working days): look again tomorrow.
RETRY_NO_DAY = timedelta(days=1)

# Rows in these states hold their place in the week (and are never planned again).
HELD_IN_WEEK = (DeliveryStatus.planned, DeliveryStatus.sending, DeliveryStatus.sent)

_COUNTED = set(HELD_IN_WEEK)


class Key(NamedTuple):
    enrollment_id: int
    step_id: str
    repetition: int


@dataclass(slots=True)
class Slot:
    """One nudge in the schedule (new, moved, or already planned)."""

    key: Key
    person_id: int
    due_at: datetime
    window_end: datetime | None
    delivery_id: int | None = None


@dataclass
class PlanResult:
    people: int = 0
    inserted: int = 0
    moved: int = 0
    slots: list[Slot] = field(default_factory=list)


class _Replan(NamedTuple):
    """When to look at an enrollment again, guarded by the mark read with it."""

    enrollment_id: int
    plan_mark: int
    replan_at: datetime


@dataclass(slots=True)
class _Existing:
    id: int
    key: Key
    status: DeliveryStatus
    due_at: datetime
    window_end: datetime | None
    attempts: int
    last_error: str | None

    def movable(self, now: datetime) -> bool:
        # Only an untouched future row is the planner's to move; a row that was
        # tried, deferred (DnD) or is due belongs to the sender now.
        return (
            self.status == DeliveryStatus.planned
            and self.attempts == 0
            and self.last_error is None
            and self.due_at > now
        )


class Timing(NamedTuple):
    """A step's `when`, parsed once per program version and arm."""

    day: int
    window: TimeWindow | None
    at: time | None


class _Wanted(NamedTuple):
    key: Key
    natural: date
    when: Timing
    calendar: Calendar
    unit: float
    not_before: datetime | None = None  # an enrollment that starts "now": no earlier


def person_calendar(person: Person, settings: Settings) -> Calendar:
    return calendar(
        zone(effective_tz(person, settings.default_timezone)),
        parse_window(person.working_hours) or settings.working_hours,
        parse_days(person.working_days) or settings.working_days,
        person.country,
    )


def program_calendar(person_cal: Calendar, program: Program) -> Calendar:
    schedule = program.schedule
    if schedule is None:
        return person_cal
    return person_cal.narrowed(schedule.time_window, schedule.weekdays)


def jitter_unit(*parts: object) -> float:
    return _unit(":".join(map(str, parts)))


def _unit(joined: str) -> float:
    digest = hashlib.blake2b(joined.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def place(
    cal: Calendar,
    *,
    natural: date,
    when: Timing,
    unit: float,
    jitter_minutes: int,
    now: datetime,
    week_full: Callable[[tuple[int, int]], bool],
    after: datetime | None = None,
) -> tuple[datetime, datetime, date] | None:
    """The due time, window end and local date for a step that would fall on `natural`;
    strictly later than `after` (the step before it in the program) when given."""
    day = natural
    floor = now if after is None else max(now, after + timedelta(seconds=1))
    for _ in range(MAX_DAYS_AHEAD):
        if not cal.is_open_day(day):
            day += timedelta(days=1)
            continue
        if week_full(week_of(day)):
            day = next_monday(day)
            continue
        start, end = cal.bounds(day, when.window)
        if end <= floor:
            day += timedelta(days=1)
            continue
        due = _jittered(cal, day, start, end, when.at, unit, jitter_minutes)
        if after is not None and due < floor:
            # Two steps pushed onto one day (a late enrollment, a weekend, a full week):
            # jitter spreads this one over what is left after the step before it.
            span = int((end - floor).total_seconds())
            if when.at is not None:
                span = min(span, jitter_minutes * 60)
            due = floor + timedelta(seconds=int(unit * max(0, span - 1)))
        return max(due, now), end, day
    return None


def _jittered(
    cal: Calendar,
    day: date,
    start: datetime,
    end: datetime,
    at: time | None,
    unit: float,
    jitter_minutes: int,
) -> datetime:
    # Whole seconds, strictly before the window closes.
    if at is not None:
        fixed = to_utc(day, at, cal.tz)
        if start <= fixed < end:
            start = fixed
        seconds = min(jitter_minutes * 60, int((end - start).total_seconds()))
    else:
        seconds = int((end - start).total_seconds())
    return start + timedelta(seconds=int(unit * max(0, seconds - 1)))


class _EnrollmentRow(NamedTuple):
    id: int
    person_id: int
    program_version_id: int
    arm: str
    starts_at: datetime
    created_at: datetime
    plan_mark: int


class _PersonRow(NamedTuple):
    id: int
    slack_user_id: str
    calendar: Calendar


def _place(
    w: _Wanted,
    settings: Settings,
    now: datetime,
    week_full: Callable[[tuple[int, int]], bool],
    after: datetime | None = None,
) -> tuple[datetime, datetime, date] | None:
    def at(unit: float, earliest: datetime) -> tuple[datetime, datetime, date] | None:
        jitter = settings.jitter_minutes
        return place(
            w.calendar,
            natural=w.natural,
            when=w.when,
            unit=unit,
            jitter_minutes=jitter,
            now=earliest,
            week_full=week_full,
            after=after,
        )

    if w.not_before is None:
        return at(w.unit, now)
    earliest = max(now, w.not_before)
    placed = at(0.0, earliest)
    if placed is not None and placed[0] <= earliest + timedelta(minutes=1):
        return placed  # the window is open: now
    return at(w.unit, now)  # it opens later: spread like any other step


def _wanted(
    program_of: _Programs,
    person: _PersonRow,
    enrollment: _EnrollmentRow,
    base: Calendar,
    horizon_day: date,
) -> tuple[list[_Wanted], date | None]:
    """The enrollment's steps whose day falls within the horizon, and the first day
    after it that has a step (None: nothing left)."""
    program = program_of(enrollment.program_version_id)
    window, days, steps = program_of.timings(enrollment.program_version_id, enrollment.arm)
    cal = base.narrowed(window, days)
    start_day = base.local_date(enrollment.starts_at)
    starts_now = abs(enrollment.starts_at - enrollment.created_at) < timedelta(seconds=5)
    items: list[_Wanted] = []
    beyond: date | None = None
    prefix = f"{person.slack_user_id}:{program.id}:"  # jitter_unit's parts, joined once
    for step_id, when, offsets in steps:
        for repetition, offset in enumerate(offsets):
            natural = start_day + timedelta(days=when.day + offset)
            if natural > horizon_day:
                beyond = natural if beyond is None else min(beyond, natural)
                break
            key = Key(enrollment.id, step_id, repetition)
            unit = _unit(f"{prefix}{step_id}:{repetition}")
            if natural == start_day and when.at is None and starts_now:
                # "Start now" means now: the first step comes at once when the
                # window is open (the sender's pacing spreads a large fan-out).
                items.append(_Wanted(key, natural, when, cal, unit, enrollment.starts_at))
            else:
                items.append(_Wanted(key, natural, when, cal, unit))
    return items, beyond


_Steps = list[tuple[str, Timing, list[int]]]


class _Programs:
    """Programs and their parsed timings, once per version (and arm) per chunk."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._programs: dict[int, Program] = {}
        self._timings: dict[tuple[int, str], _Timings] = {}

    def __call__(self, version_id: int) -> Program:
        if version_id not in self._programs:
            self._programs[version_id] = load_program(self._session, version_id)
        return self._programs[version_id]

    def timings(self, version_id: int, arm: str) -> _Timings:
        key = (version_id, arm)
        if key not in self._timings:
            self._timings[key] = _timings(self(version_id), arm)
        return self._timings[key]


_Timings = tuple[TimeWindow | None, tuple[int, ...] | None, "_Steps"]


def _timings(
    program: Program, arm: str
) -> tuple[TimeWindow | None, tuple[int, ...] | None, _Steps]:
    """The program's window, days and time-based steps for one arm, parsed once."""
    schedule = program.schedule
    steps: _Steps = []
    for step in program.steps:
        when = step.when_for(arm)
        if when.day is None:
            continue  # a trigger step: planned when its trigger fires
        offsets = [0, *(step.repeat.intervals_days if step.repeat else [])]
        steps.append((step.id, Timing(when.day, when.time_window, when.local_time), offsets))
    if schedule is None:
        return None, None, steps
    return schedule.time_window, schedule.weekdays, steps
