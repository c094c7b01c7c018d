"""Slack-side bookkeeping shared by every replica."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import Base, utcnow


class SeenEvent(Base):
    """Event ids already handled. Slack redelivers an event up to three times
    (X-Slack-Retry-Num), possibly to another replica: the primary key dedupes."""

    __tablename__ = "slack_events_seen"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
