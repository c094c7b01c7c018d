"""Follow-ups of a pre-mortem as rows of the delivery outbox: when each is due."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.delivery.calendar import Calendar
from bot.delivery.models import Delivery, DeliveryStatus
from bot.delivery.planner import person_calendar
from bot.people.models import Person
from bot.premortem.models import (
    FollowupKind,
    Premortem,
    Prevention,
    PreventionStatus,
)
from bot.settings import Settings

# -- follow-ups: rows of the delivery outbox -------------------------------------------


# A follow-up is a delivery (bot.delivery.models.Delivery) of kind premortem_owner
# (ref: the prevention) or premortem_review (ref: the pre-mortem), so the sender
# applies the working window, Do Not Disturb, pauses, pacing, permanent errors and
# exactly-once to it like to any nudge. Its time lands on the person's working
# calendar, the delivery engine's, so zone, hours, days and public holidays mean the
# same thing for every DM.

REVIEW_ABOUT = "review"


def followup_due_at(*, schedule: Calendar, target: date, now: datetime) -> datetime:
    """The one place that turns "nudge on this local day" into a UTC moment.

    The start of working hours on the latest working day on or before `target`; if that
    has passed, the next moment inside working hours from now.
    """
    day = target
    for _ in range(14):
        if schedule.is_open_day(day):
            break
        day -= timedelta(days=1)
    start, _end = schedule.bounds(day)
    if start >= now:
        return start
    return next_allowed(schedule=schedule, now=now)


def window_end(schedule: Calendar, due: datetime) -> datetime | None:
    """The end of the working window `due` falls in: the sender never posts after it
    (a follow-up deferred past it waits for the next window, never the night)."""
    start, end = schedule.bounds(schedule.local_date(due))
    return end if start <= due < end else None


def next_allowed(*, schedule: Calendar, now: datetime) -> datetime:
    try:
        return schedule.next_open(now)[0]
    except ValueError:
        return now.astimezone(UTC)  # no working day at all: never hold a follow-up forever


def working_days_before(day: date, count: int, schedule: Calendar) -> date:
    while count > 0:
        day -= timedelta(days=1)
        if schedule.is_open_day(day):
            count -= 1
    return day


def followups(session: Session, *, kind: FollowupKind, ref_id: int) -> list[Delivery]:
    """Every outbox row of one follow-up, oldest repetition first."""
    return list(
        session.scalars(
            select(Delivery)
            .where(Delivery.kind == kind, Delivery.ref_id == ref_id)
            .order_by(Delivery.repetition)
        )
    )


def _plan_followup(
    session: Session,
    *,
    kind: FollowupKind,
    ref_id: int,
    person: Person,
    about: str,
    schedule: Calendar,
    due: datetime,
    now: datetime,
) -> Delivery:
    """Idempotent: the same follow-up planned twice is one row. An untouched planned
    row is moved (new owner, new date); one that is on its way or sent stays, unless
    what it is about changed: then a new repetition replaces it."""
    rows = followups(session, kind=kind, ref_id=ref_id)
    latest = rows[-1] if rows else None
    values = {"person_id": person.id, "step_id": about, "due_at": due}
    if latest is not None and latest.status == DeliveryStatus.planned and latest.attempts == 0:
        for name, value in values.items():
            setattr(latest, name, value)
        latest.window_end = window_end(schedule, due)
        latest.last_error = None
        latest.updated_at = now
        session.flush()
        return latest
    same = latest is not None and (latest.person_id, latest.step_id) == (person.id, about)
    if latest is not None and same and latest.status in _ON_ITS_WAY:
        return latest
    if latest is not None and latest.status == DeliveryStatus.planned:
        # Tried before (it may have reached Slack): what it said no longer holds.
        latest.status = DeliveryStatus.cancelled
        latest.last_error = "superseded: re-planned"
        latest.updated_at = now
    row = Delivery(
        kind=kind,
        ref_id=ref_id,
        enrollment_id=None,
        repetition=latest.repetition + 1 if latest is not None else 0,
        window_end=window_end(schedule, due),
        status=DeliveryStatus.planned,
        attempts=0,
        created_at=now,
        updated_at=now,
        **values,
    )
    # Two replicas planning the same follow-up at once: the unique key keeps one.
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return followups(session, kind=kind, ref_id=ref_id)[-1]
    return row


_ON_ITS_WAY = (DeliveryStatus.planned, DeliveryStatus.sending, DeliveryStatus.sent)


def plan_owner_nudge(
    session: Session, *, prevention: Prevention, person: Person, settings: Settings, now: datetime
) -> Delivery | None:
    """The owner's reminder, `premortem_nudge_days_before` working days before the due
    date; re-planning follows a new owner or date. None when the prevention is closed."""
    if prevention.status != PreventionStatus.open:
        cancel_followups(
            session,
            kind=FollowupKind.owner,
            ref_ids=[prevention.id],
            reason=f"prevention {prevention.status.value}",
            now=now,
        )
        return None
    schedule = person_calendar(person, settings)
    target = working_days_before(
        prevention.due_date, settings.premortem_nudge_days_before, schedule
    )
    return _plan_followup(
        session,
        kind=FollowupKind.owner,
        ref_id=prevention.id,
        person=person,
        about=prevention.due_date.isoformat(),
        schedule=schedule,
        due=followup_due_at(schedule=schedule, target=target, now=now),
        now=now,
    )


def plan_review(
    session: Session, *, premortem: Premortem, person: Person, settings: Settings, now: datetime
) -> Delivery:
    """The facilitator's re-review, `premortem_review_weeks` after the summary, on the
    first working day on or after that date."""
    schedule = person_calendar(person, settings)
    target = schedule.local_date(now) + timedelta(weeks=settings.premortem_review_weeks)
    for _ in range(14):
        if schedule.is_open_day(target):
            break
        target += timedelta(days=1)
    due = followup_due_at(schedule=schedule, target=target, now=now)
    premortem.review_at = due
    return _plan_followup(
        session,
        kind=FollowupKind.review,
        ref_id=premortem.id,
        person=person,
        about=REVIEW_ABOUT,
        schedule=schedule,
        due=due,
        now=now,
    )


def cancel_followups(
    session: Session, *, kind: FollowupKind, ref_ids: list[int], reason: str, now: datetime
) -> int:
    """Follow-ups not yet claimed by a sender are cancelled, with the reason."""
    if not ref_ids:
        return 0
    result = session.execute(
        update(Delivery)
        .where(
            Delivery.kind == kind,
            Delivery.ref_id.in_(ref_ids),
            Delivery.status == DeliveryStatus.planned,
        )
        .values(status=DeliveryStatus.cancelled, last_error=reason[:255], updated_at=now),
        execution_options={"synchronize_session": False},
    )
    return int(getattr(result, "rowcount", 0) or 0)
