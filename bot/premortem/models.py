"""Pre-mortems: the thread, its risks, the votes on them and the preventions.

Their follow-up DMs are rows of the delivery outbox (bot.delivery.models.Delivery,
kinds premortem_owner and premortem_review); see bot.premortem.followups.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import Base, str_enum, utcnow


class Phase(enum.StrEnum):
    collect = "collect"  # thread replies and anonymous risks come in
    vote = "vote"  # the board is posted; people spend their vote budget
    decide = "decide"  # the facilitator records preventions for the top risks
    done = "done"  # the summary is out; follow-ups run


class RiskStatus(enum.StrEnum):
    active = "active"
    deleted = "deleted"  # the reply was deleted while risks were still being collected
    merged = "merged"  # folded into another risk by the facilitator


class PreventionStatus(enum.StrEnum):
    open = "open"
    done = "done"
    blocked = "blocked"
    dropped = "dropped"


class FollowupKind(enum.StrEnum):
    """The pre-mortem's DMs in the delivery outbox (`Delivery.kind`, with `ref_id`)."""

    owner = "premortem_owner"  # a prevention's owner, before it is due (ref: prevention)
    review = "premortem_review"  # the facilitator's re-review (ref: pre-mortem)


class Premortem(Base):
    __tablename__ = "premortems"
    __table_args__ = (
        # Every thread event is matched by (channel, parent ts): keep that lookup cheap.
        Index("ix_premortems_thread", "channel_id", "parent_ts"),
        Index("ix_premortems_phase_deadline", "phase", "phase_deadline"),
        Index("ix_premortems_workspace", "workspace_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The Slack team the pre-mortem runs in ("" with a single workspace).
    workspace_id: Mapped[str] = mapped_column(String(32), default="")
    channel_id: Mapped[str] = mapped_column(String(32))
    parent_ts: Mapped[str | None] = mapped_column(String(32))
    initiative: Mapped[str] = mapped_column(String(500))
    template: Mapped[str] = mapped_column(String(32))
    facilitator_id: Mapped[str] = mapped_column(String(32))
    started_by: Mapped[str] = mapped_column(String(32))
    horizon: Mapped[date]
    phase: Mapped[Phase] = mapped_column(str_enum(Phase), default=Phase.collect)
    phase_deadline: Mapped[datetime | None]
    vote_budget: Mapped[int]
    votes_per_risk: Mapped[int]
    top_risks: Mapped[int]
    # Thread messages of the vote board, one per page (ts strings, in page order).
    board_ts: Mapped[list[Any]] = mapped_column(JSON, default=list)
    decide_ts: Mapped[str | None] = mapped_column(String(32))
    summary_ts: Mapped[str | None] = mapped_column(String(32))
    # Last Slack error posting to the channel (not_in_channel, …); None when all is well.
    channel_problem: Mapped[str | None] = mapped_column(String(64))
    review_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    finished_at: Mapped[datetime | None]


class Risk(Base):
    __tablename__ = "premortem_risks"
    __table_args__ = (
        UniqueConstraint("premortem_id", "number"),
        # A thread reply becomes one risk however often Slack delivers the event.
        UniqueConstraint("premortem_id", "message_ts"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    premortem_id: Mapped[int] = mapped_column(ForeignKey("premortems.id", ondelete="CASCADE"))
    number: Mapped[int]  # #1, #2 … within the pre-mortem, as people refer to them
    text: Mapped[str] = mapped_column(Text)
    # None for anonymous risks: nothing in the database links them to a person.
    author_id: Mapped[str | None] = mapped_column(String(32))
    anonymous: Mapped[bool] = mapped_column(default=False)
    message_ts: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[RiskStatus] = mapped_column(str_enum(RiskStatus), default=RiskStatus.active)
    merged_into_id: Mapped[int | None] = mapped_column(
        ForeignKey("premortem_risks.id", ondelete="SET NULL")
    )
    # Raised after collection closed: kept and shown, but not on the vote board.
    late: Mapped[bool] = mapped_column(default=False)
    # The reply was edited or deleted after collection closed; the text stays as collected.
    changed_after_collect: Mapped[bool] = mapped_column(default=False)
    board_page: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Vote(Base):
    """One person's votes on one risk (weight up to votes_per_risk).

    On anonymous risks the voter is blanked when voting closes, so the record
    keeps the count but not who gave it.
    """

    __tablename__ = "premortem_votes"
    __table_args__ = (UniqueConstraint("risk_id", "voter_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    premortem_id: Mapped[int] = mapped_column(
        ForeignKey("premortems.id", ondelete="CASCADE"), index=True
    )
    risk_id: Mapped[int] = mapped_column(ForeignKey("premortem_risks.id", ondelete="CASCADE"))
    voter_id: Mapped[str | None] = mapped_column(String(32))
    weight: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Prevention(Base):
    __tablename__ = "premortem_preventions"
    __table_args__ = (UniqueConstraint("risk_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    premortem_id: Mapped[int] = mapped_column(
        ForeignKey("premortems.id", ondelete="CASCADE"), index=True
    )
    risk_id: Mapped[int] = mapped_column(ForeignKey("premortem_risks.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(Text)
    owner_id: Mapped[str] = mapped_column(String(32))
    due_date: Mapped[date]
    status: Mapped[PreventionStatus] = mapped_column(
        str_enum(PreventionStatus), default=PreventionStatus.open
    )
    decided_by: Mapped[str] = mapped_column(String(32))
    status_changed_by: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
