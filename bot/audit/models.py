"""One table: audit_events, append-only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import Base


class AuditEvent(Base):
    """Something a security review asks about: an enrollment, a program launch,
    an intake decision, a role change, an export, a deletion.

    `details` holds ids, counts and short codes only, never what a person typed
    (see `bot.audit.service.record`, which refuses anything longer).
    """

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_workspace_at", "workspace_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # "" in single-workspace mode, the Slack team id in OAuth mode.
    workspace_id: Mapped[str] = mapped_column(String(32), default="")
    # A Slack user id, "cli:<login>" for the command line, or "system" for ticks.
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    # What was acted on: a Slack user id, "program:<id>", "intake:<id>", …
    target: Mapped[str] = mapped_column(String(255))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    at: Mapped[datetime] = mapped_column(index=True)
