"""Spaced reinforcement: a repeating step comes back at expanding intervals.

Leitner boxes per (enrollment, step): box b waits `intervals_days[b-1]` days.
Done moves up a box (a longer wait) and Done in the top box confirms the habit;
"not yet" (snooze) and silence move down (a shorter wait); Not relevant stops
the step for that person.

The planner writes repetitions at fixed offsets from the start. Once a step's
box moves, this module takes its future repetitions over: it plans the next
one itself and parks the later ones as `cancelled` placeholders, so the
planner (whose unique key sees them) neither re-inserts nor moves them. A
pinned row carries a `last_error` note, which the planner treats as not its
own to move.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.content.schema import Program, Step
from bot.delivery.models import Delivery, DeliveryStatus, Enrollment
from bot.delivery.planner import person_calendar, program_calendar
from bot.people.models import Person
from bot.proof.models import BoxStatus, ReinforcementBox
from bot.settings import Settings

SPACED_NOTE = "spaced repetition"
PARKED_NOTE = f"{SPACED_NOTE}: waits for the answer to the one before"
# Silence can keep a step coming back; this many repetitions per interval at most.
MAX_REPEATS_PER_INTERVAL = 3


@dataclass(frozen=True)
class Move:
    """What an outcome did to a step's box."""

    box: int
    status: BoxStatus
    next_due: datetime | None


def intervals(step: Step) -> list[int]:
    return list(step.repeat.intervals_days) if step.repeat else []


def get_box(session: Session, *, enrollment_id: int, step_id: str) -> ReinforcementBox:
    box = session.scalar(
        select(ReinforcementBox).where(
            ReinforcementBox.enrollment_id == enrollment_id, ReinforcementBox.step_id == step_id
        )
    )
    if box is None:
        box = ReinforcementBox(enrollment_id=enrollment_id, step_id=step_id, box=1)
        session.add(box)
        session.flush()
    return box


def is_settled(session: Session, *, enrollment_id: int, step_id: str) -> bool:
    """True when a step's repetitions are over for this enrollment (confirmed by Done
    in the top box, or Not relevant). The sender asks this before a repetition."""
    status = session.scalar(
        select(ReinforcementBox.status).where(
            ReinforcementBox.enrollment_id == enrollment_id, ReinforcementBox.step_id == step_id
        )
    )
    return status in (BoxStatus.confirmed, BoxStatus.stopped)


def apply_outcome(
    session: Session,
    *,
    delivery: Delivery,
    enrollment: Enrollment,
    person: Person,
    program: Program,
    outcome: str,
    now: datetime,
    settings: Settings,
) -> Move | None:
    """Move the box for `outcome` (done, not_yet, silence, not_relevant) once per delivery.

    Returns None when the step does not repeat or the outcome was already applied.
    """
    step = program.step(delivery.step_id)
    gaps = intervals(step)
    if not gaps and outcome != "not_relevant":
        return None
    box = get_box(session, enrollment_id=enrollment.id, step_id=step.id)
    if box.status != BoxStatus.active:
        return Move(box.box, box.status, None)
    if outcome == "silence" and box.last_delivery_id == delivery.id:
        return None
    box.last_delivery_id = delivery.id
    box.updated_at = now
    if outcome == "not_relevant":
        box.status = BoxStatus.stopped
        _park_after(
            session,
            delivery,
            after=delivery.repetition,
            now=now,
            count=len(gaps),
            note=f"{SPACED_NOTE}: not relevant to this person",
        )
        return Move(box.box, box.status, None)
    if outcome == "done":
        box.box += 1
        if box.box > len(gaps):
            box.status = BoxStatus.confirmed
            _park_after(
                session,
                delivery,
                after=delivery.repetition,
                now=now,
                count=len(gaps),
                note=f"{SPACED_NOTE}: habit confirmed",
            )
            return Move(box.box, box.status, None)
    else:
        box.box = max(1, box.box - 1)
    if outcome == "not_yet":
        # The same delivery comes back (snooze); the next repetition waits for it.
        return Move(box.box, box.status, None)
    due = _plan_next(
        session,
        delivery,
        person,
        program,
        days=gaps[box.box - 1],
        now=now,
        settings=settings,
        planned_max=len(gaps),
    )
    return Move(box.box, box.status, due)


def _plan_next(
    session: Session,
    delivery: Delivery,
    person: Person,
    program: Program,
    *,
    days: int,
    now: datetime,
    settings: Settings,
    planned_max: int,
) -> datetime | None:
    repetition = delivery.repetition + 1
    if delivery.enrollment_id is None or repetition > planned_max * MAX_REPEATS_PER_INTERVAL:
        return None  # (no enrollment: a follow-up, not a step; it has no Leitner box)
    cal = program_calendar(person_calendar(person, settings), program)
    due, window_end = cal.next_open(now + timedelta(days=days))
    row = _row(session, delivery.enrollment_id, delivery.step_id, repetition)
    note = f"{SPACED_NOTE}: in {days} day(s)"
    if row is None:
        row = Delivery(
            enrollment_id=delivery.enrollment_id,
            person_id=delivery.person_id,
            step_id=delivery.step_id,
            repetition=repetition,
            status=DeliveryStatus.planned,
            due_at=due,
            created_at=now,
        )
        session.add(row)
    elif not _ours_to_move(row):
        return None
    row.status = DeliveryStatus.planned
    row.due_at = due
    row.window_end = window_end
    row.last_error = note
    row.updated_at = now
    _park_after(session, delivery, after=repetition, now=now, count=planned_max, note=PARKED_NOTE)
    session.flush()
    return due


def _ours_to_move(row: Delivery) -> bool:
    if row.status == DeliveryStatus.planned:
        return True
    return row.status == DeliveryStatus.cancelled and (row.last_error or "").startswith(SPACED_NOTE)


def _row(session: Session, enrollment_id: int, step_id: str, repetition: int) -> Delivery | None:
    return session.scalar(
        select(Delivery).where(
            Delivery.enrollment_id == enrollment_id,
            Delivery.step_id == step_id,
            Delivery.repetition == repetition,
        )
    )


def _park_after(
    session: Session, delivery: Delivery, *, after: int, now: datetime, count: int, note: str
) -> None:
    """Later repetitions wait (cancelled, with a note) so nothing else plans them."""
    existing = {
        row.repetition: row
        for row in session.scalars(
            select(Delivery).where(
                Delivery.enrollment_id == delivery.enrollment_id,
                Delivery.step_id == delivery.step_id,
                Delivery.repetition > after,
            )
        )
    }
    for repetition in range(after + 1, count + 1):
        row = existing.get(repetition)
        if row is None:
            session.add(
                Delivery(
                    enrollment_id=delivery.enrollment_id,
                    person_id=delivery.person_id,
                    step_id=delivery.step_id,
                    repetition=repetition,
                    status=DeliveryStatus.cancelled,
                    due_at=now,
                    last_error=note,
                    created_at=now,
                    updated_at=now,
                )
            )
        elif row.status == DeliveryStatus.planned:
            row.status = DeliveryStatus.cancelled
            row.last_error = note
            row.updated_at = now
    session.flush()
