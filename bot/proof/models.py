"""The proof log: append-only evidence that a behavior happened."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import Base, utcnow


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
