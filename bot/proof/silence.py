"""Silence as an answer: repeating steps nobody answered come back sooner."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.delivery.models import Delivery, DeliveryKind, DeliveryStatus
from bot.proof import reinforcement
from bot.proof.models import ProofEvent
from bot.proof.nudges import find_nudge
from bot.settings import Settings


def apply_silence(session: Session, *, now: datetime, settings: Settings) -> int:
    """Repeating steps sent and not answered within the grace period come back sooner."""
    cutoff = now - timedelta(hours=settings.answer_grace_hours)
    answered = select(ProofEvent.delivery_id).where(ProofEvent.delivery_id.is_not(None))
    rows = session.scalars(
        select(Delivery)
        .where(
            Delivery.kind == DeliveryKind.step,  # follow-ups have no Leitner box
            Delivery.status == DeliveryStatus.sent,
            Delivery.sent_at <= cutoff,
            Delivery.sent_at > cutoff - timedelta(days=2),
            Delivery.id.not_in(answered),
        )
        .order_by(Delivery.id)
        .limit(2000)
    ).all()
    moved = 0
    for delivery in rows:
        nudge = find_nudge(session, delivery_id=delivery.id)
        if not reinforcement.intervals(nudge.step):
            continue
        move = reinforcement.apply_outcome(
            session,
            delivery=delivery,
            enrollment=nudge.enrollment,
            person=nudge.person,
            program=nudge.program,
            outcome="silence",
            now=now,
            settings=settings,
        )
        moved += move is not None
    return moved
