"""A person's calendar feed and the steps its events planned (the minimum to keep)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import Base, str_enum, utcnow


class FeedStatus(enum.StrEnum):
    ok = "ok"  # read on schedule
    failing = "failing"  # the last reads failed; retried with backoff
    broken = "broken"  # failed too often: no more reads until the person reconnects


class CalendarFeed(Base):
    """One person's feed. The address is stored only encrypted (bot.calendars.secret)."""

    __tablename__ = "calendar_feeds"
    __table_args__ = (Index("ix_calendar_feeds_status_next", "status", "next_read_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), unique=True)
    address_secret: Mapped[str] = mapped_column(Text)  # Fernet token, never the address
    status: Mapped[FeedStatus] = mapped_column(str_enum(FeedStatus), default=FeedStatus.ok)
    etag: Mapped[str | None] = mapped_column(String(255))
    last_modified: Mapped[str | None] = mapped_column(String(64))
    next_read_at: Mapped[datetime]
    last_read_at: Mapped[datetime | None]  # the last successful read (200 or 304)
    parsed_at: Mapped[datetime | None]  # the last full read and match (200)
    failures: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(String(255))  # never holds the address
    events_ahead: Mapped[int] = mapped_column(default=0)
    next_event_at: Mapped[datetime | None]  # the next timed event: read again before it
    told_broken: Mapped[int] = mapped_column(default=0)  # broken-feed DMs sent (one per break)
    connected_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class CalendarMatch(Base):
    """A step an event planned: which enrollment and step, which event (a key, not
    its title), its times, and the outbox row. Moving or cancelling the event
    moves or cancels that row; a passed event is left as it was."""

    __tablename__ = "calendar_matches"
    __table_args__ = (
        UniqueConstraint("enrollment_id", "step_id", "event_key"),
        Index("ix_calendar_matches_person", "person_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollments.id", ondelete="CASCADE"))
    step_id: Mapped[str] = mapped_column(String(64))
    event_key: Mapped[str] = mapped_column(String(64))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    delivery_id: Mapped[int | None] = mapped_column(
        ForeignKey("deliveries.id", ondelete="SET NULL")
    )
