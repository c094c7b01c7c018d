"""A delivered nudge as an answer sees it: finding it, its events, its reader's language."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.content.models import ProgramVersion
from bot.content.schema import Program, normalise_locale
from bot.content.service import load_program_version
from bot.delivery.models import Delivery, Enrollment
from bot.errors import UserError
from bot.people.models import Person
from bot.proof.models import NudgePreference, ProofEvent


@dataclass
class Nudge:
    """A delivered nudge with everything an answer needs."""

    delivery: Delivery
    enrollment: Enrollment
    person: Person
    program: Program
    version_number: int

    @property
    def step(self) -> Any:
        return self.program.step(self.delivery.step_id)


def find_nudge(session: Session, *, delivery_id: int, lock: bool = False) -> Nudge:
    query = select(Delivery).where(Delivery.id == delivery_id)
    if lock:
        # Two different answers at once (Done and Not relevant) queue on the row.
        query = query.with_for_update()
    delivery = session.scalar(query)
    if delivery is None:
        raise UserError("this nudge no longer exists, so there is nothing to answer")
    enrollment = session.get(Enrollment, delivery.enrollment_id)
    person = session.get(Person, delivery.person_id)
    if enrollment is None or person is None:
        raise UserError("this nudge no longer exists, so there is nothing to answer")
    version = session.get(ProgramVersion, enrollment.program_version_id)
    program = load_program_version(session, enrollment.program_version_id)
    return Nudge(delivery, enrollment, person, program, version.number if version else 0)


def parse_value(value: str | None) -> tuple[int, str]:
    """`"{delivery_id}|{extra}"` → (delivery_id, extra); UserError for anything else."""
    head, _, extra = (value or "").partition("|")
    if not head.isdigit():
        raise UserError("this button does not belong to a nudge")
    return int(head), extra


def events_of(session: Session, *, delivery_id: int) -> list[ProofEvent]:
    return list(
        session.scalars(
            select(ProofEvent)
            .where(ProofEvent.delivery_id == delivery_id)
            .order_by(ProofEvent.occurred_at, ProofEvent.id)
        )
    )


def nudge_locale(session: Session, person: Person) -> str:
    """The language a person reads nudges in: their App Home choice, else Slack's."""
    pref = session.get(NudgePreference, person.id)
    return normalise_locale(pref.language if pref and pref.language else person.locale)


def local_time_text(moment: datetime, tz: Any) -> str:
    return moment.astimezone(tz).strftime("%a %d %b, %H:%M")
