"""Enrollments and the deliveries outbox: the durable state of the delivery engine."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import Base, utcnow


class EnrollmentStatus(enum.StrEnum):
    active = "active"
    paused = "paused"
    completed = "completed"
    stopped = "stopped"


class DeliveryStatus(enum.StrEnum):
    planned = "planned"  # waiting for its due time
    sending = "sending"  # claimed by a sender under a lease
    sent = "sent"  # posted; channel and ts known
    failed = "failed"  # permanent error, recorded once, never retried
    skipped = "skipped"  # not sent on purpose (paused, left, cap); reason recorded
    cancelled = "cancelled"  # superseded (re-planned, program stopped)


def _enum(cls: type[enum.StrEnum]) -> Enum:
    return Enum(cls, native_enum=False, length=16, validate_strings=True)


class Enrollment(Base):
    __tablename__ = "enrollments"
    __table_args__ = (UniqueConstraint("person_id", "program_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    program_id: Mapped[str] = mapped_column(ForeignKey("programs.id", ondelete="CASCADE"))
    program_version_id: Mapped[int] = mapped_column(ForeignKey("program_versions.id"))
    status: Mapped[EnrollmentStatus] = mapped_column(
        _enum(EnrollmentStatus), default=EnrollmentStatus.active
    )
    starts_at: Mapped[datetime]
    # Experiment arm: a variant id, "holdout", or "" for the main wording.
    arm: Mapped[str] = mapped_column(String(64), default="")
    enrolled_by: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(32), default="cli")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Delivery(Base):
    __tablename__ = "deliveries"
    __table_args__ = (
        # Re-planning is idempotent: one row per enrollment, step and repetition.
        UniqueConstraint("enrollment_id", "step_id", "repetition"),
        # The sender's claim query: due rows by status and time.
        Index("ix_deliveries_status_due", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollments.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    step_id: Mapped[str] = mapped_column(String(64))
    repetition: Mapped[int] = mapped_column(default=0)
    status: Mapped[DeliveryStatus] = mapped_column(
        _enum(DeliveryStatus), default=DeliveryStatus.planned
    )
    due_at: Mapped[datetime]
    # The end of the local send window the due time was placed in: a nudge
    # deferred (Do Not Disturb, pacing) is only sent before it, never at night.
    window_end: Mapped[datetime | None]
    lease_until: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(String(255))
    channel_id: Mapped[str | None] = mapped_column(String(32))
    message_ts: Mapped[str | None] = mapped_column(String(32))
    sent_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SenderLock(Base):
    """Who may send on a database that cannot share the work (SQLite): one row,
    held under a lease the sender renews; a second process is refused."""

    __tablename__ = "delivery_sender_locks"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner: Mapped[str] = mapped_column(String(128))
    lease_until: Mapped[datetime]
