"""Training requests (/intake), their decision trail and unsent drafts."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import Base, str_enum, utcnow


class RequestStatus(enum.StrEnum):
    open = "open"  # accepted by the form, waiting for an L&D lead
    claimed = "claimed"  # an L&D lead is looking at it
    needs_info = "needs_info"  # a lead asked the requester a question
    approved = "approved"  # will become a program (`nudgebot intake scaffold`)
    declined = "declined"


OPEN_STATUSES = (RequestStatus.open, RequestStatus.claimed, RequestStatus.needs_info)


class DecisionAction(enum.StrEnum):
    submitted = "submitted"
    resubmitted = "resubmitted"  # the requester answered a question and sent the form again
    claimed = "claimed"
    needs_info = "needs_info"
    approved = "approved"
    declined = "declined"


class IntakeRequest(Base):
    """One training request. The five answers are stored exactly as typed."""

    __tablename__ = "intake_requests"
    __table_args__ = (
        Index("ix_intake_requests_status", "status"),
        Index("ix_intake_requests_workspace_status", "workspace_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The Slack team the request came from ("" with a single workspace).
    workspace_id: Mapped[str] = mapped_column(String(32), default="")
    requester_slack_user_id: Mapped[str] = mapped_column(String(32), index=True)
    status: Mapped[RequestStatus] = mapped_column(
        str_enum(RequestStatus), default=RequestStatus.open
    )
    goal: Mapped[str] = mapped_column(Text)
    audience: Mapped[str] = mapped_column(Text)
    context: Mapped[str] = mapped_column(Text)
    cost_of_inaction: Mapped[str] = mapped_column(Text)
    horizon: Mapped[str] = mapped_column(Text)
    team: Mapped[str | None] = mapped_column(Text)
    sponsor: Mapped[str | None] = mapped_column(Text)
    # skill | process | tools | motivation | unknown (None: not answered)
    diagnostic: Mapped[str | None] = mapped_column(String(16))
    # Where the triage message lives; None until it was posted (a tick retries).
    triage_channel_id: Mapped[str | None] = mapped_column(String(32))
    triage_ts: Mapped[str | None] = mapped_column(String(32))
    claimed_by: Mapped[str | None] = mapped_column(String(32))
    decided_by: Mapped[str | None] = mapped_column(String(32))
    decided_at: Mapped[datetime | None]
    # The open question of a needs_info request (shown again in the requester's form).
    question: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class IntakeDecision(Base):
    """Append-only: who did what to a request, and when."""

    __tablename__ = "intake_decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("intake_requests.id", ondelete="CASCADE"), index=True
    )
    action: Mapped[DecisionAction] = mapped_column(str_enum(DecisionAction))
    actor_slack_user_id: Mapped[str] = mapped_column(String(32))
    # A decline reason, a question or an answer, as typed.
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class IntakeDraft(Base):
    """What a person typed but did not get into a request yet (closed the form,
    or the save failed after submit). One per person; the next /intake restores it."""

    __tablename__ = "intake_drafts"
    __table_args__ = (UniqueConstraint("workspace_id", "slack_user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[str] = mapped_column(String(32), default="")
    slack_user_id: Mapped[str] = mapped_column(String(32))
    # Set when the draft edits an existing request (answering a question).
    request_id: Mapped[int | None] = mapped_column(
        ForeignKey("intake_requests.id", ondelete="CASCADE")
    )
    answers: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
