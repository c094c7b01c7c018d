"""People: who Nudgebot may nudge, in which time zone, language and role."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import Base, str_enum, utcnow


class Role(enum.StrEnum):
    employee = "employee"
    manager = "manager"
    ld_lead = "ld_lead"


class Person(Base):
    __tablename__ = "people"
    __table_args__ = (
        UniqueConstraint("workspace_id", "slack_user_id"),
        Index("ix_people_manager", "workspace_id", "manager_slack_user_id"),
        # Digests (and every "who is this user" lookup) find a person by Slack user id
        # alone; the unique key above leads with workspace_id, so it cannot serve that.
        Index("ix_people_slack_user_id", "slack_user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[str] = mapped_column(String(32), default="")
    slack_user_id: Mapped[str] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(255), default="")
    # From Slack; tz_override and the org CSV win over it (see people.service).
    tz: Mapped[str | None] = mapped_column(String(64))
    tz_override: Mapped[str | None] = mapped_column(String(64))
    # From the org CSV: wins over Slack's tz, loses to the person's own tz_override.
    org_tz: Mapped[str | None] = mapped_column(String(64))
    locale: Mapped[str | None] = mapped_column(String(16))
    country: Mapped[str | None] = mapped_column(String(2))
    team: Mapped[str | None] = mapped_column(String(255))
    manager_slack_user_id: Mapped[str | None] = mapped_column(String(32))
    role: Mapped[Role] = mapped_column(str_enum(Role), default=Role.employee)
    start_date: Mapped[date | None]
    # Per-person overrides of the global working window ("09:00-17:30", "mon,tue").
    working_hours: Mapped[str | None] = mapped_column(String(16))
    working_days: Mapped[str | None] = mapped_column(String(32))
    paused_until: Mapped[datetime | None]
    is_deleted: Mapped[bool] = mapped_column(default=False)
    is_bot: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
