"""What stays after personal data goes: anonymous weekly counts of proof."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import Base, utcnow


class ProofRollup(Base):
    """How many proof events of a kind a program step got in a week, for events
    that were erased (forget) or aged out (retention). Impact figures add these
    to the live proof log so history does not shrink when people leave.
    No column links a row to a person."""

    __tablename__ = "proof_rollups"
    __table_args__ = (UniqueConstraint("program_id", "step_id", "kind", "week_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[str] = mapped_column(String(64))
    step_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    # Monday (UTC) of the week the events occurred in.
    week_start: Mapped[date]
    count: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
