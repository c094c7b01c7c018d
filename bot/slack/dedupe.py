"""Slack redelivers an event when it did not see our 200 in time. Process it once."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.slack.models import SeenEvent

if TYPE_CHECKING:
    from bot.services import Services

KEEP_FOR = timedelta(hours=2)  # Slack's retries come within minutes


def first_sighting(session: Session, *, event_id: str, now: datetime) -> bool:
    """Record the event id; False when another delivery of it came first."""
    if session.scalar(select(SeenEvent.event_id).where(SeenEvent.event_id == event_id)):
        return False
    try:
        with session.begin_nested():
            session.add(SeenEvent(event_id=event_id, seen_at=now))
    except IntegrityError:
        return False  # a concurrent redelivery on another thread or replica won
    return True


def forget_old(session: Session, *, now: datetime) -> int:
    result = session.execute(delete(SeenEvent).where(SeenEvent.seen_at < now - KEEP_FOR))
    return int(getattr(result, "rowcount", 0) or 0)


def forget_seen(services: Services) -> None:
    """Tick: drop event ids older than any retry Slack would still send."""
    with services.session() as session:
        forget_old(session, now=services.clock.now())
