"""The proof log (append-only evidence that a behavior happened) and what a
person controls about their nudges: pauses and spaced-repetition boxes."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import Base, str_enum, utcnow


class ProofEvent(Base):
    __tablename__ = "proof_events"
    __table_args__ = (
        Index("ix_proof_events_person_time", "person_id", "occurred_at"),
        Index("ix_proof_events_program_time", "program_id", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Slack retries and double clicks carry the same identity; the unique key drops them.
    dedupe_key: Mapped[str] = mapped_column(String(255), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    program_id: Mapped[str] = mapped_column(String(64))
    program_version: Mapped[int]
    step_id: Mapped[str] = mapped_column(String(64))
    delivery_id: Mapped[int | None] = mapped_column(
        ForeignKey("deliveries.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))  # done, snooze, not_relevant, rating, …
    value: Mapped[str | None] = mapped_column(String(255))
    # Reflections are people's own words: never logged, never shown to managers.
    text: Mapped[str | None] = mapped_column(Text)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    seconds_since_delivery: Mapped[int | None]


class PauseReason(enum.StrEnum):
    manual = "manual"  # /nudges pause, or the Pause button in App Home
    fatigue = "fatigue"  # K nudges in a row went unanswered
    vacation = "vacation"  # /nudges vacation FROM TO
    status = "status"  # a vacation emoji or text in the person's Slack status


class Pause(Base):
    """A span in which a person gets no nudges. Open-ended until resumed when
    `ends_at` is empty; `ended_at` records an early resume (rows are kept)."""

    __tablename__ = "nudge_pauses"
    __table_args__ = (Index("ix_nudge_pauses_person", "person_id", "ended_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    reason: Mapped[PauseReason] = mapped_column(str_enum(PauseReason))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    # The one "your nudges are paused" DM of a fatigue pause was sent.
    notified_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class BoxStatus(enum.StrEnum):
    active = "active"
    confirmed = "confirmed"  # Done in the top box: the habit holds, no more repeats
    stopped = "stopped"  # Not relevant: never again for this person


class ReinforcementBox(Base):
    """Leitner box of one repeating step for one enrollment: box b waits
    intervals_days[b-1] days; Done moves up, "not yet" and silence move down."""

    __tablename__ = "reinforcement_boxes"
    __table_args__ = (UniqueConstraint("enrollment_id", "step_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollments.id", ondelete="CASCADE"))
    step_id: Mapped[str] = mapped_column(String(64))
    box: Mapped[int] = mapped_column(default=1)
    status: Mapped[BoxStatus] = mapped_column(str_enum(BoxStatus), default=BoxStatus.active)
    # The last delivery whose outcome (answer or silence) moved the box: applied once.
    last_delivery_id: Mapped[int | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class NudgePreference(Base):
    """What a person chose in App Home that Slack's profile does not hold."""

    __tablename__ = "nudge_preferences"

    person_id: Mapped[int] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), primary_key=True
    )
    # Language of nudges ("en", "bg"); empty means Slack's locale.
    language: Mapped[str | None] = mapped_column(String(16))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
