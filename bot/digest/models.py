"""Digests and impact: KPI observations, sent digests, people's own privacy choices."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import Float, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import Base, str_enum, utcnow


class MetricObservation(Base):
    """One value of a program's KPI (the one metric that matters) on one day.

    One row per program, day, team and source: recording the same day again
    replaces the value, so a re-run CSV import or a retried webhook is harmless.
    """

    __tablename__ = "metric_observations"
    __table_args__ = (
        UniqueConstraint("program_id", "workspace_id", "observed_on", "team", "source"),
        Index("ix_metric_observations_program_day", "program_id", "observed_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The Slack team the value is about ("" with a single workspace).
    workspace_id: Mapped[str] = mapped_column(String(32), default="")
    program_id: Mapped[str] = mapped_column(ForeignKey("programs.id", ondelete="CASCADE"))
    observed_on: Mapped[date]
    # "" is the whole company; a team name narrows the value to that team.
    team: Mapped[str] = mapped_column(String(255), default="")
    value: Mapped[float] = mapped_column(Float)
    # cli, csv:FILE, or webhook:SOURCE: who said so.
    source: Mapped[str] = mapped_column(String(96))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class DigestKind(enum.StrEnum):
    manager = "manager"
    ld = "ld"


class DigestSend(Base):
    """A weekly digest claimed or sent: at most one per reader, kind and week."""

    __tablename__ = "digest_sends"
    __table_args__ = (UniqueConstraint("kind", "workspace_id", "recipient_user_id", "week_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[str] = mapped_column(String(32), default="")
    kind: Mapped[DigestKind] = mapped_column(str_enum(DigestKind))
    recipient_user_id: Mapped[str] = mapped_column(String(32))
    # The reader's local date of the digest day of that week.
    week_start: Mapped[date]
    status: Mapped[str] = mapped_column(String(16), default="sending")  # sending|sent|failed
    claimed_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    channel_id: Mapped[str | None] = mapped_column(String(32))
    message_ts: Mapped[str | None] = mapped_column(String(32))
    last_error: Mapped[str | None] = mapped_column(String(255))


class PrivacyChoice(Base):
    """What a person chose themselves; absent row = the private defaults."""

    __tablename__ = "privacy_choices"

    person_id: Mapped[int] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), primary_key=True
    )
    # The manager may see this person's own counts in the digest (never texts).
    share_with_manager: Mapped[bool] = mapped_column(default=False)
    # Works-council mode: the person agreed to be enrolled.
    enrollment_opt_in: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
