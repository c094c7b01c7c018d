"""The coming schedule as people read it (`nudgebot plan`): a dry run of the planner."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.delivery.calendar import (
    zone,
)
from bot.delivery.models import (
    Delivery,
    DeliveryKind,
    DeliveryStatus,
    Enrollment,
)
from bot.delivery.planner import plan
from bot.people.models import Person
from bot.people.service import effective_tz
from bot.settings import Settings


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
