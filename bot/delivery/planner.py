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
from collections.abc import Iterator, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.delivery.arms import HOLDOUT
from bot.delivery.models import (
    Enrollment,
    EnrollmentStatus,
    PlannerState,
)
from bot.delivery.placement import CHUNK, PlanResult, Slot, _Existing, _Programs, _Replan

# Re-exported: where a nudge may go in a person's time is asked of the planner by name.
from bot.delivery.placement import HELD_IN_WEEK as HELD_IN_WEEK
from bot.delivery.placement import person_calendar as person_calendar
from bot.delivery.placement import program_calendar as program_calendar
from bot.delivery.plan_reads import _Calendars, _place_chunk, _read_chunk
from bot.delivery.plan_writes import _Writer
from bot.delivery.service import EnrollResult, enroll
from bot.people.models import Person
from bot.settings import Settings


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
