"""The planner: enrollments become rows of the deliveries outbox, due in UTC.

For each person, every time-based step (and its spaced repetitions) gets the
first moment that is on an open day (their working days, not a public holiday
of their country), inside their window (working hours narrowed by the
program's and the step's), with a per-person jitter so a company-wide 09:00
does not reach Slack as one burst, and in a local week that still has room
under the weekly cap (all programs together). Planning again inserts only what
is missing (the unique key) and moves a not-yet-due row when the person's
calendar changed (a new time zone, DST rules); rows that were tried, deferred
or are already due stay where they are.

The plan tick is incremental. Each enrollment carries `replan_at`: NULL when
something that shapes the person's schedule changed (a time zone, working
hours, country, a pause, a new or changed enrollment; the ORM marks it, see
`bot.delivery.models`), otherwise the moment its next step comes within the
horizon. A tick plans only the people with an enrollment at or past that
moment, so a tick where nothing changed reads one index and writes nothing.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any, NamedTuple, cast

from sqlalchemy import Connection, Table, bindparam, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable

from bot.content.schema import Program
from bot.delivery.arms import HOLDOUT
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
    Delivery,
    DeliveryKind,
    DeliveryStatus,
    Enrollment,
    EnrollmentStatus,
    PlannerState,
)
from bot.delivery.service import EnrollResult, enroll, load_program
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


def plan(
    session: Session,
    *,
    settings: Settings,
    now: datetime,
    horizon_days: int | None = None,
    person_ids: Sequence[int] | None = None,
    write: bool = True,
) -> PlanResult:
    """Plan up to the horizon: the people of `person_ids`; or, for the plan tick
    (`person_ids` None), only those whose schedule can have changed since it last
    looked (see `replan_at`); a dry run (`write=False`) looks at everyone."""
    horizon_end = now + timedelta(days=horizon_days or settings.plan_horizon_days)
    result = PlanResult()
    if person_ids is None and write:
        _settings_changed(session, settings)
        ids = _people_due(session, now)
    else:
        ids = _people_to_plan(session, person_ids)
    programs, calendars = _Programs(session), _Calendars(settings)
    if not write:
        for chunk in _chunks(ids):
            read = _read_chunk(session, chunk, programs, calendars)
            slots, _, _ = _place_chunk(read, settings, now, horizon_end)
            result.people += len(chunk)
            result.slots.extend(slots)
        return result
    # Chunk k is placed (Python) while chunk k-1 is written (the database): the
    # connection is never used by both at once, since reading waits for no write.
    writer = _Writer(session, now)
    ready: tuple[list[Slot], dict[int, list[_Existing]], list[_Replan]] | None = None
    try:
        for chunk in _chunks(ids):
            read = _read_chunk(session, chunk, programs, calendars)
            if ready is not None:
                writer.submit(*ready)
            ready = _place_chunk(read, settings, now, horizon_end)
            writer.wait()
            result.people += len(chunk)
        if ready is not None:
            writer.submit(*ready)
    finally:
        writer.close()
    result.inserted, result.moved = writer.inserted, writer.moved
    return result


class _Writer:
    """Writes one chunk while the next one is computed: the database works on the
    rows (COPY, index upkeep) while Python places the next people's nudges. One
    chunk in flight at a time, on the session's own connection and transaction,
    so the caller still commits or rolls back everything at once."""

    def __init__(self, session: Session, now: datetime) -> None:
        self._conn = session.connection()  # taken here: the session stays on this thread
        self._now = now
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="planner-write")
        self._pending: Future[tuple[int, int]] | None = None
        self.inserted = 0
        self.moved = 0

    def submit(
        self, slots: list[Slot], existing: dict[int, list[_Existing]], replans: list[_Replan]
    ) -> None:
        self.wait()
        self._pending = self._pool.submit(self._write, slots, existing, replans)

    def _write(
        self, slots: list[Slot], existing: dict[int, list[_Existing]], replans: list[_Replan]
    ) -> tuple[int, int]:
        moved, inserted = _write(self._conn, slots, existing, self._now)
        _set_replan(self._conn, replans)
        return moved, inserted

    def wait(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            moved, inserted = pending.result()  # re-raises what the write raised
            self.moved += moved
            self.inserted += inserted

    def close(self) -> None:
        try:
            self.wait()
        finally:
            self._pool.shutdown(wait=True)


def _settings_changed(session: Session, settings: Settings) -> bool:
    """Mark everyone when the settings every schedule depends on differ from those
    the last tick planned with (an operator changed working hours, the cap, …)."""
    shape = "|".join(
        str(v)
        for v in (
            settings.working_hours,
            settings.working_days,
            settings.weekly_cap,
            settings.jitter_minutes,
            settings.default_timezone,
        )
    )
    value = hashlib.blake2b(shape.encode(), digest_size=16).hexdigest()
    state = session.get(PlannerState, "settings")
    if state is not None and state.value == value:
        return False
    if state is None:
        try:
            with session.begin_nested():
                session.add(PlannerState(name="settings", value=value))
        except IntegrityError:
            pass  # another replica's first tick stored it: both mark everyone, once
    else:
        state.value = value
    session.execute(
        update(Enrollment)
        .where(Enrollment.status == EnrollmentStatus.active)
        .values(replan_at=None, plan_mark=Enrollment.plan_mark + 1)
    )
    session.flush()
    return True


def _eligible() -> list[Any]:
    return [
        Enrollment.status == EnrollmentStatus.active,
        Enrollment.arm != HOLDOUT,
        Person.is_deleted.is_(False),
        Person.is_bot.is_(False),
    ]


def _people_due(session: Session, now: datetime) -> list[int]:
    """People with an enrollment the tick must look at: changed, or a step coming
    within the horizon."""
    query = (
        select(Enrollment.person_id)
        .join(Person, Person.id == Enrollment.person_id)
        .where(*_eligible(), or_(Enrollment.replan_at.is_(None), Enrollment.replan_at <= now))
        .distinct()
    )
    return sorted(session.scalars(query))


def _people_to_plan(session: Session, person_ids: Sequence[int] | None) -> list[int]:
    query = (
        select(Enrollment.person_id)
        .join(Person, Person.id == Enrollment.person_id)
        .where(*_eligible())
        .distinct()
    )
    if person_ids is not None:
        query = query.where(Enrollment.person_id.in_(list(person_ids)))
    return sorted(session.scalars(query))


def _chunks(ids: list[int]) -> Iterator[list[int]]:
    for i in range(0, len(ids), CHUNK):
        yield ids[i : i + CHUNK]


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
            shape = Person(tz_override=tz_override, org_tz=org_tz, tz=tz, working_hours=hours,
                           working_days=days, country=country)  # fmt: skip
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


def _write(
    conn: Connection, slots: list[Slot], existing: dict[int, list[_Existing]], now: datetime
) -> tuple[int, int]:
    current = {e.id: e for rows in existing.values() for e in rows}
    new = [s for s in slots if s.delivery_id is None]
    moved = [
        s
        for s in slots
        if s.delivery_id is not None
        and (current[s.delivery_id].due_at, current[s.delivery_id].window_end)
        != (s.due_at, s.window_end)
    ]
    inserted = _insert_new(conn, new, now)
    if moved:
        table = cast(Table, Delivery.__table__)
        # Core executemany (not ORM bulk-by-key) so the status guard applies:
        # a row the sender claimed meanwhile is not moved under it.
        conn.execute(
            update(table)
            .where(table.c.id == bindparam("b_id"), table.c.status == DeliveryStatus.planned.value)
            .values(due_at=bindparam("b_due"), window_end=bindparam("b_end"), updated_at=now),
            [{"b_id": s.delivery_id, "b_due": s.due_at, "b_end": s.window_end} for s in moved],
        )
    return len(moved), inserted


def _insert_new(conn: Connection, new: list[Slot], now: datetime) -> int:
    if not new:
        return 0
    if conn.dialect.name == "postgresql":
        return _copy_insert(conn, new, now)
    values: list[dict[str, Any]] = [
        {
            "enrollment_id": s.key.enrollment_id,
            "person_id": s.person_id,
            "step_id": s.key.step_id,
            "repetition": s.key.repetition,
            "status": DeliveryStatus.planned.value,
            "due_at": s.due_at,
            "window_end": s.window_end,
            "attempts": 0,
            "created_at": now,
            "updated_at": now,
        }
        for s in new
    ]
    # With RETURNING, SQLAlchemy batches an executemany into multi-row INSERTs
    # ("insertmanyvalues"); without it, psycopg sends one statement per row.
    result = conn.execute(_insert_ignoring_duplicates(conn.dialect.name), values)
    return len(result.all())


_STAGE = """CREATE TEMP TABLE IF NOT EXISTS plan_stage (
    enrollment_id integer, person_id integer, step_id varchar(64), repetition integer,
    due_at timestamp, window_end timestamp) ON COMMIT DROP"""
_FROM_STAGE = """INSERT INTO deliveries (enrollment_id, person_id, step_id, repetition, due_at,
    window_end, status, attempts, created_at, updated_at)
    SELECT enrollment_id, person_id, step_id, repetition, due_at, window_end, 'planned', 0,
           %(now)s, %(now)s FROM plan_stage
    ON CONFLICT (enrollment_id, step_id, repetition) DO NOTHING"""


def _copy_insert(conn: Connection, new: list[Slot], now: datetime) -> int:
    """PostgreSQL: COPY straight into the outbox inside a savepoint. When another
    replica planned some of the same keys meanwhile (a unique violation), the
    savepoint is undone and the chunk goes through a temporary table and one
    INSERT … SELECT that skips the keys already there: the unique key decides."""
    import psycopg  # only on PostgreSQL: a SQLite bot never loads libpq

    raw: Any = conn.connection.driver_connection
    naive = now.astimezone(UTC).replace(tzinfo=None)
    rows = [
        (
            s.key.enrollment_id,
            s.person_id,
            s.key.step_id,
            s.key.repetition,
            s.due_at.astimezone(UTC).replace(tzinfo=None),
            s.window_end.astimezone(UTC).replace(tzinfo=None) if s.window_end else None,
            naive,
        )
        for s in new
    ]
    direct = """COPY deliveries (enrollment_id, person_id, step_id, repetition, due_at,
        window_end, created_at, updated_at, status, attempts) FROM STDIN"""
    with raw.cursor() as cursor:
        cursor.execute("SAVEPOINT plan_copy")
        try:
            with cursor.copy(direct) as copy:
                for row in rows:
                    copy.write_row((*row, naive, "planned", 0))
        except psycopg.errors.UniqueViolation:
            cursor.execute("ROLLBACK TO SAVEPOINT plan_copy")
        else:
            cursor.execute("RELEASE SAVEPOINT plan_copy")
            return len(rows)
        cursor.execute(_STAGE)
        with cursor.copy("COPY plan_stage FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row[:6])
        cursor.execute(_FROM_STAGE, {"now": naive})
        inserted = cursor.rowcount
        cursor.execute("TRUNCATE plan_stage")
    return int(inserted)


def _insert_ignoring_duplicates(dialect: str) -> Executable:
    # Another replica may plan the same person at the same moment: the unique
    # key decides, and the loser's insert does nothing.
    table = cast(Table, Delivery.__table__)
    key = ["enrollment_id", "step_id", "repetition"]
    if dialect == "postgresql":
        return (
            postgresql.insert(table)
            .on_conflict_do_nothing(index_elements=key)
            .returning(table.c.id)
        )
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing(index_elements=key).returning(table.c.id)
    return insert(table).returning(table.c.id)


def _set_replan(conn: Connection, replans: list[_Replan]) -> None:
    """Store when each enrollment is due a look again, unless it was marked (changed)
    since it was read: then it stays marked and the next tick plans it."""
    if not replans:
        return
    if conn.dialect.name == "postgresql":
        raw: Any = conn.connection.driver_connection
        with raw.cursor() as cursor:
            cursor.execute(_REPLAN_STAGE)
            with cursor.copy("COPY replan_stage FROM STDIN") as copy:
                for r in replans:
                    at = r.replan_at.astimezone(UTC).replace(tzinfo=None)
                    copy.write_row((r.enrollment_id, r.plan_mark, at))
            cursor.execute(_FROM_REPLAN_STAGE)
            cursor.execute("TRUNCATE replan_stage")
        return
    table = cast(Table, Enrollment.__table__)
    conn.execute(
        update(table)
        .where(table.c.id == bindparam("b_id"), table.c.plan_mark == bindparam("b_mark"))
        .values(replan_at=bindparam("b_at")),
        [{"b_id": r.enrollment_id, "b_mark": r.plan_mark, "b_at": r.replan_at} for r in replans],
    )


_REPLAN_STAGE = """CREATE TEMP TABLE IF NOT EXISTS replan_stage (
    enrollment_id integer, plan_mark integer, replan_at timestamp) ON COMMIT DROP"""
_FROM_REPLAN_STAGE = """UPDATE enrollments e SET replan_at = s.replan_at
    FROM replan_stage s WHERE e.id = s.enrollment_id AND e.plan_mark = s.plan_mark"""


def enroll_and_plan(
    session: Session,
    *,
    settings: Settings,
    now: datetime,
    program_id: str,
    user_ids: Sequence[str],
    starts_at: datetime,
    enrolled_by: str | None,
    source: str,
    workspace_id: str | None = None,
    start_date: date | None = None,
) -> EnrollResult:
    """Enroll people and plan their first nudges at once, so someone enrolled
    with a start of now during their working window gets the first step within
    seconds instead of at the next plan tick. (The Slack side calls this too.)
    With `start_date`, each person starts at the beginning of that local date."""
    result = enroll(
        session,
        program_id=program_id,
        user_ids=user_ids,
        starts_at=starts_at,
        enrolled_by=enrolled_by,
        source=source,
        now=now,
        opt_in_only=settings.works_council_mode,
        workspace_id=workspace_id,
        start_date=start_date,
        default_tz=settings.default_timezone,
    )
    person_ids = session.scalars(
        select(Enrollment.person_id).where(Enrollment.id.in_(result.enrollment_ids))
    )
    plan(session, settings=settings, now=now, person_ids=list(person_ids))
    return result


@dataclass(frozen=True)
class ScheduleRow:
    """One line of `nudgebot plan`: who gets what, when (theirs and UTC)."""

    person: str
    name: str
    program: str
    step: str
    repetition: int
    local_time: str
    utc_time: str
    status: str


def schedule(
    session: Session, *, settings: Settings, now: datetime, days: int
) -> list[ScheduleRow]:
    """The coming `days` as the sender will see them, without writing anything."""
    end = now + timedelta(days=days)
    result = plan(session, settings=settings, now=now, horizon_days=days, write=False)
    rows: dict[tuple[int, str, int], tuple[datetime, str]] = {}
    stored = session.execute(
        select(
            Delivery.enrollment_id,
            Delivery.step_id,
            Delivery.repetition,
            Delivery.due_at,
            Delivery.status,
        ).where(
            Delivery.kind == DeliveryKind.step,  # the plan of programs, not follow-ups
            Delivery.status.in_([DeliveryStatus.planned, DeliveryStatus.sending]),
            Delivery.due_at <= end,
        )
    )
    for r in stored:
        rows[(r.enrollment_id, r.step_id, r.repetition)] = (r.due_at, str(r.status))
    for slot in result.slots:
        key = (slot.key.enrollment_id, slot.key.step_id, slot.key.repetition)
        if slot.delivery_id is None:
            rows[key] = (slot.due_at, "new")
        elif key not in rows or rows[key][0] != slot.due_at:
            # Only a planned nudge whose time the next plan tick would change is "moved".
            rows[key] = (slot.due_at, "moved")
    return _describe(session, settings, rows)


def _describe(
    session: Session, settings: Settings, rows: dict[tuple[int, str, int], tuple[datetime, str]]
) -> list[ScheduleRow]:
    enrollment_ids = {k[0] for k in rows}
    found = session.execute(
        select(Enrollment.id, Enrollment.program_id, Person)
        .join(Person, Person.id == Enrollment.person_id)
        .where(Enrollment.id.in_(enrollment_ids))
    )
    who = {r.id: (r.program_id, r.Person) for r in found}
    out = []
    for (enrollment_id, step_id, repetition), (due, status) in rows.items():
        program_id, person = who[enrollment_id]
        tz = zone(effective_tz(person, settings.default_timezone))
        out.append(
            ScheduleRow(
                person=person.slack_user_id,
                name=person.name,
                program=program_id,
                step=step_id,
                repetition=repetition,
                local_time=due.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z") + f" ({tz.key})",
                utc_time=due.strftime("%Y-%m-%d %H:%M:%SZ"),
                status=status,
            )
        )
    return sorted(out, key=lambda r: (r.utc_time, r.person, r.program, r.step))
