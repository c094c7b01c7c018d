"""The proof log as rows, for `nudgebot proof export` and the L&D digest."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.people.models import Person
from bot.proof.models import ProofEvent

EXPORT_COLUMNS = (
    "id",
    "occurred_at",
    "person",
    "program",
    "version",
    "step",
    "delivery",
    "kind",
    "value",
    "seconds_since_delivery",
)


def export(
    session: Session, *, program_id: str | None = None, since: datetime | None = None
) -> list[dict[str, Any]]:
    """The proof log as rows, oldest first. Free text (reflections, reasons) is left
    out: it is people's own words, exported only with their own data (`forget`)."""
    query = select(ProofEvent, Person.slack_user_id).join(Person, Person.id == ProofEvent.person_id)
    if program_id is not None:
        query = query.where(ProofEvent.program_id == program_id)
    if since is not None:
        query = query.where(ProofEvent.occurred_at >= since)
    rows = session.execute(query.order_by(ProofEvent.occurred_at, ProofEvent.id))
    return [
        {
            "id": e.id,
            "occurred_at": e.occurred_at,
            "person": user,
            "program": e.program_id,
            "version": e.program_version,
            "step": e.step_id,
            "delivery": e.delivery_id,
            "kind": e.kind,
            "value": e.value,
            "seconds_since_delivery": e.seconds_since_delivery,
        }
        for e, user in rows
    ]


def not_relevant_reports(session: Session, *, since: datetime) -> list[ProofEvent]:
    """Not relevant answers since a moment (for the L&D digest when an owner is an email)."""
    return list(
        session.scalars(
            select(ProofEvent)
            .where(ProofEvent.kind == "not_relevant", ProofEvent.occurred_at >= since)
            .order_by(ProofEvent.occurred_at)
        )
    )
