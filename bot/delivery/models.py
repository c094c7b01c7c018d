"""Enrollments and the deliveries outbox: the durable state of the delivery engine."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Connection,
    Float,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
    event,
    inspect,
    update,
)
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import Base, str_enum, utcnow
from bot.people.models import Person


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


class DeliveryKind(enum.StrEnum):
    """What a row of the outbox is. The core knows one kind: a step of an enrollment's
    program (enrollment_id set). Other kinds are DMs a feature owes someone (a
    reference instead of an enrollment); each feature names its own kinds and
    renders them through bot.delivery.plugins (e.g. bot.premortem.models.FollowupKind)."""

    step = "step"


class Enrollment(Base):
    __tablename__ = "enrollments"
    __table_args__ = (
        UniqueConstraint("person_id", "program_id"),
        # The plan tick's question: which active enrollments are due a look.
        Index("ix_enrollments_status_replan", "status", "replan_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    program_id: Mapped[str] = mapped_column(ForeignKey("programs.id", ondelete="CASCADE"))
    program_version_id: Mapped[int] = mapped_column(ForeignKey("program_versions.id"))
    status: Mapped[EnrollmentStatus] = mapped_column(
        str_enum(EnrollmentStatus), default=EnrollmentStatus.active
    )
    starts_at: Mapped[datetime]
    # Experiment arm: a variant id, "holdout", or "" for the main wording.
    arm: Mapped[str] = mapped_column(String(64), default="")
    enrolled_by: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(32), default="cli")
    # When the plan tick must look again: NULL means now (something that shapes the
    # person's schedule changed; see the listeners at the end of this file), else
    # when the next step comes within the planning horizon. `plan_mark` counts those
    # changes, so a plan made from data read before a change never clears its mark.
    replan_at: Mapped[datetime | None]
    plan_mark: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Delivery(Base):
    __tablename__ = "deliveries"
    __table_args__ = (
        # Re-planning is idempotent: one row per enrollment, step and repetition.
        UniqueConstraint("enrollment_id", "step_id", "repetition"),
        # The same for rows that are not steps (enrollment_id NULL, and NULLs never
        # collide in a unique key): one row per kind, reference and repetition.
        UniqueConstraint("kind", "ref_id", "repetition"),
        # A step has an enrollment; anything else has a reference instead.
        CheckConstraint(
            "(kind = 'step' AND enrollment_id IS NOT NULL) OR "
            "(kind <> 'step' AND enrollment_id IS NULL AND ref_id IS NOT NULL)",
            name="enrollment_or_ref",
        ),
        # The sender's claim query: due rows by status and time.
        Index("ix_deliveries_status_due", "status", "due_at"),
        # The digest reads a team's sent nudges by person and time.
        Index("ix_deliveries_person_sent", "person_id", "sent_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    enrollment_id: Mapped[int | None] = mapped_column(
        ForeignKey("enrollments.id", ondelete="CASCADE")
    )
    # Looked up through ix_deliveries_person_sent (person_id, sent_at): a second index
    # on person_id alone would only slow every insert of the planner down.
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    # The server default lets the planner's bulk COPY leave it out.
    kind: Mapped[str] = mapped_column(
        String(16), default=DeliveryKind.step.value, server_default=DeliveryKind.step.value
    )
    # For kinds other than `step`: the id of what it is about (a prevention, a pre-mortem).
    ref_id: Mapped[int | None]
    # The program step; for other kinds, what the DM is about (e.g. the due date it recalls).
    step_id: Mapped[str] = mapped_column(String(64))
    repetition: Mapped[int] = mapped_column(default=0)
    status: Mapped[DeliveryStatus] = mapped_column(
        str_enum(DeliveryStatus), default=DeliveryStatus.planned
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


class PlannerState(Base):
    """What the last plan tick planned with: the settings that shape every schedule
    (working hours and days, cap, jitter, default zone). When they differ, the
    tick plans everyone again."""

    __tablename__ = "planner_state"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(String(255))


class SenderLock(Base):
    """Who may send on a database that cannot share the work (SQLite): one row,
    held under a lease the sender renews; a second process is refused."""

    __tablename__ = "delivery_sender_locks"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner: Mapped[str] = mapped_column(String(128))
    lease_until: Mapped[datetime]


class SendBudget(Base):
    """A workspace's chat.postMessage budget, shared by every replica (PostgreSQL).

    `next_slot` is the earliest wall-clock time (epoch seconds) the next post of
    that workspace may go out; a sender reserves a few slots at a time by moving
    it forward one interval each, and a 429 moves it past Retry-After for all."""

    __tablename__ = "delivery_send_budgets"

    workspace_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    next_slot: Mapped[float] = mapped_column(Float)


# -- re-planning marks ------------------------------------------------------------------
# Whatever changes what a person should get marks their enrollments for the next plan
# tick, whichever path made the change (people sync, org import, App Home preferences,
# /nudges, enrollment): the ORM tells us, so no path has to remember to.
PLAN_INPUTS_PERSON = (
    "tz",
    "tz_override",
    "org_tz",
    "working_hours",
    "working_days",
    "country",
    "paused_until",
    "is_deleted",
    "is_bot",
)
PLAN_INPUTS_ENROLLMENT = ("status", "program_version_id", "starts_at", "arm")


def _changed(target: object, names: tuple[str, ...]) -> bool:
    state = inspect(target)
    return any(state.attrs[name].history.has_changes() for name in names)


@event.listens_for(Person, "after_update")
def _person_changed(_mapper: Any, connection: Connection, target: Person) -> None:
    if _deactivated(target):
        # Nothing more for someone whose account is gone: enrollments stop and the
        # unsent nudges are cancelled, whichever path saw it (people sync, user_change).
        connection.execute(
            update(Enrollment)
            .where(Enrollment.person_id == target.id, Enrollment.status == EnrollmentStatus.active)
            .values(status=EnrollmentStatus.stopped)
        )
        connection.execute(
            update(Delivery)
            .where(Delivery.person_id == target.id, Delivery.status == DeliveryStatus.planned)
            .values(status=DeliveryStatus.cancelled, last_error="account deactivated")
        )
    if _changed(target, PLAN_INPUTS_PERSON):
        connection.execute(
            update(Enrollment)
            .where(Enrollment.person_id == target.id)
            .values(replan_at=None, plan_mark=Enrollment.plan_mark + 1)
        )


def _deactivated(person: Person) -> bool:
    history = inspect(person).attrs["is_deleted"].history
    return bool(person.is_deleted) and history.has_changes() and not any(history.deleted)


@event.listens_for(Enrollment, "before_update")
def _enrollment_changed(_mapper: Any, _connection: Connection, target: Enrollment) -> None:
    if _changed(target, PLAN_INPUTS_ENROLLMENT):
        target.replan_at = None
        target.plan_mark = (target.plan_mark or 0) + 1
