"""outbox follow-ups: deliveries that are not steps of an enrollment

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26 21:30:00

Pre-mortem follow-ups move from their own table (premortem_followups) into the
deliveries outbox: a delivery gets a `kind` and, when it is not a program step,
a `ref_id` (the prevention or the pre-mortem) instead of an enrollment. Rows
are carried over both ways; a recipient not yet in the people directory gets a
minimal person row (the next `people sync` fills it in).
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import bot.db

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHECK = (
    "(kind = 'step' AND enrollment_id IS NOT NULL) OR "
    "(kind <> 'step' AND enrollment_id IS NULL AND ref_id IS NOT NULL)"
)
KINDS = ("step", "premortem_owner", "premortem_review")

people = sa.table(
    "people",
    sa.column("id", sa.Integer()),
    sa.column("workspace_id", sa.String()),
    sa.column("slack_user_id", sa.String()),
    sa.column("name", sa.String()),
    sa.column("tz", sa.String()),
    sa.column("role", sa.String()),
    sa.column("is_deleted", sa.Boolean()),
    sa.column("is_bot", sa.Boolean()),
    sa.column("created_at", bot.db.UTCDateTime()),
    sa.column("updated_at", bot.db.UTCDateTime()),
)
preventions = sa.table(
    "premortem_preventions",
    sa.column("id", sa.Integer()),
    sa.column("premortem_id", sa.Integer()),
    sa.column("due_date", sa.Date()),
)
followups = sa.table(
    "premortem_followups",
    sa.column("id", sa.Integer()),
    sa.column("key", sa.String()),
    sa.column("premortem_id", sa.Integer()),
    sa.column("prevention_id", sa.Integer()),
    sa.column("kind", sa.String()),
    sa.column("recipient_id", sa.String()),
    sa.column("timezone", sa.String()),
    sa.column("due_at", bot.db.UTCDateTime()),
    sa.column("status", sa.String()),
    sa.column("attempts", sa.Integer()),
    sa.column("last_error", sa.String()),
    sa.column("channel_id", sa.String()),
    sa.column("message_ts", sa.String()),
    sa.column("sent_at", bot.db.UTCDateTime()),
    sa.column("created_at", bot.db.UTCDateTime()),
    sa.column("updated_at", bot.db.UTCDateTime()),
)
deliveries = sa.table(
    "deliveries",
    sa.column("id", sa.Integer()),
    sa.column("enrollment_id", sa.Integer()),
    sa.column("person_id", sa.Integer()),
    sa.column("kind", sa.String()),
    sa.column("ref_id", sa.Integer()),
    sa.column("step_id", sa.String()),
    sa.column("repetition", sa.Integer()),
    sa.column("status", sa.String()),
    sa.column("due_at", bot.db.UTCDateTime()),
    sa.column("attempts", sa.Integer()),
    sa.column("last_error", sa.String()),
    sa.column("channel_id", sa.String()),
    sa.column("message_ts", sa.String()),
    sa.column("sent_at", bot.db.UTCDateTime()),
    sa.column("created_at", bot.db.UTCDateTime()),
    sa.column("updated_at", bot.db.UTCDateTime()),
)


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "kind",
                sa.Enum(*KINDS, name="deliverykind", native_enum=False, length=16),
                server_default="step",
                nullable=False,
            )
        )
        batch_op.add_column(sa.Column("ref_id", sa.Integer(), nullable=True))
        batch_op.alter_column("enrollment_id", existing_type=sa.INTEGER(), nullable=True)
        batch_op.create_unique_constraint(
            batch_op.f("uq_deliveries_kind_ref_id_repetition"), ["kind", "ref_id", "repetition"]
        )
        batch_op.create_check_constraint("enrollment_or_ref", CHECK)
    _followups_into_outbox()
    with op.batch_alter_table("premortem_followups", schema=None) as batch_op:
        batch_op.drop_index("ix_premortem_followups_status_due")
    op.drop_table("premortem_followups")


def _followups_into_outbox() -> None:
    now = datetime.now(UTC)
    known = sa.select(people.c.id).where(people.c.slack_user_id == followups.c.recipient_id)
    newcomers = (
        sa.select(
            sa.literal(""),
            followups.c.recipient_id,
            sa.literal(""),
            sa.func.min(followups.c.timezone),
            sa.literal("employee"),
            sa.false(),
            sa.false(),
            sa.literal(now, bot.db.UTCDateTime()),
            sa.literal(now, bot.db.UTCDateTime()),
        )
        .where(~sa.exists(known))
        .group_by(followups.c.recipient_id)
    )
    op.execute(
        people.insert().from_select(
            [
                "workspace_id",
                "slack_user_id",
                "name",
                "tz",
                "role",
                "is_deleted",
                "is_bot",
                "created_at",
                "updated_at",
            ],
            newcomers,
        )
    )
    person = (
        sa.select(sa.func.min(people.c.id))
        .where(people.c.slack_user_id == followups.c.recipient_id)
        .scalar_subquery()
    )
    owner = followups.c.kind == "owner_nudge"
    rows = (
        sa.select(
            person,
            sa.case((owner, "premortem_owner"), else_="premortem_review"),
            sa.case((owner, followups.c.prevention_id), else_=followups.c.premortem_id),
            # What the DM is about: the due date it recalls (re-planning compares it).
            sa.case((owner, sa.cast(preventions.c.due_date, sa.String(64))), else_="review"),
            sa.literal(0),
            followups.c.status,
            followups.c.due_at,
            followups.c.attempts,
            followups.c.last_error,
            followups.c.channel_id,
            followups.c.message_ts,
            followups.c.sent_at,
            followups.c.created_at,
            followups.c.updated_at,
        )
        .select_from(
            followups.outerjoin(preventions, preventions.c.id == followups.c.prevention_id)
        )
        .where(sa.or_(~owner, preventions.c.id.is_not(None)))
    )
    op.execute(
        deliveries.insert().from_select(
            [
                "person_id",
                "kind",
                "ref_id",
                "step_id",
                "repetition",
                "status",
                "due_at",
                "attempts",
                "last_error",
                "channel_id",
                "message_ts",
                "sent_at",
                "created_at",
                "updated_at",
            ],
            rows,
        )
    )


def downgrade() -> None:
    op.create_table(
        "premortem_followups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("premortem_id", sa.Integer(), nullable=False),
        sa.Column("prevention_id", sa.Integer(), nullable=True),
        sa.Column(
            "kind",
            sa.Enum("owner_nudge", "review", name="followupkind", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("recipient_id", sa.String(length=32), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("due_at", bot.db.UTCDateTime(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "planned",
                "sent",
                "failed",
                "cancelled",
                name="followupstatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=64), nullable=True),
        sa.Column("channel_id", sa.String(length=32), nullable=True),
        sa.Column("message_ts", sa.String(length=32), nullable=True),
        sa.Column("sent_at", bot.db.UTCDateTime(), nullable=True),
        sa.Column("created_at", bot.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", bot.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["premortem_id"],
            ["premortems.id"],
            name=op.f("fk_premortem_followups_premortem_id_premortems"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["prevention_id"],
            ["premortem_preventions.id"],
            name=op.f("fk_premortem_followups_prevention_id_premortem_preventions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_premortem_followups")),
        sa.UniqueConstraint("key", name=op.f("uq_premortem_followups_key")),
    )
    with op.batch_alter_table("premortem_followups", schema=None) as batch_op:
        batch_op.create_index(
            "ix_premortem_followups_status_due", ["status", "due_at"], unique=False
        )
    _outbox_into_followups()
    op.execute(deliveries.delete().where(deliveries.c.kind != "step"))
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_deliveries_enrollment_or_ref"), type_="check")
        batch_op.drop_constraint(batch_op.f("uq_deliveries_kind_ref_id_repetition"), type_="unique")
        batch_op.alter_column("enrollment_id", existing_type=sa.INTEGER(), nullable=False)
        batch_op.drop_column("ref_id")
        batch_op.drop_column("kind")


def _outbox_into_followups() -> None:
    """The latest row of each follow-up goes back (the old table kept one per key)."""
    later = sa.alias(deliveries, "later")
    latest = ~sa.exists(
        sa.select(later.c.id).where(
            later.c.kind == deliveries.c.kind,
            later.c.ref_id == deliveries.c.ref_id,
            later.c.repetition > deliveries.c.repetition,
        )
    )
    owner = deliveries.c.kind == "premortem_owner"
    premortems = sa.table("premortems", sa.column("id", sa.Integer()))
    rows = (
        sa.select(
            sa.case(
                (owner, sa.literal("nudge:") + sa.cast(deliveries.c.ref_id, sa.String(64))),
                else_=sa.literal("review:") + sa.cast(deliveries.c.ref_id, sa.String(64)),
            ),
            sa.case((owner, preventions.c.premortem_id), else_=deliveries.c.ref_id),
            sa.case((owner, deliveries.c.ref_id), else_=sa.null()),
            sa.case((owner, "owner_nudge"), else_="review"),
            people.c.slack_user_id,
            sa.func.coalesce(people.c.tz, "UTC"),
            deliveries.c.due_at,
            sa.case(
                (deliveries.c.status == "sending", "planned"),
                (deliveries.c.status == "skipped", "cancelled"),
                else_=deliveries.c.status,
            ),
            deliveries.c.attempts,
            sa.func.substr(deliveries.c.last_error, 1, 64),
            deliveries.c.channel_id,
            deliveries.c.message_ts,
            deliveries.c.sent_at,
            deliveries.c.created_at,
            deliveries.c.updated_at,
        )
        .select_from(
            deliveries.join(people, people.c.id == deliveries.c.person_id).outerjoin(
                preventions, sa.and_(owner, preventions.c.id == deliveries.c.ref_id)
            )
        )
        .where(
            deliveries.c.kind != "step",
            latest,
            sa.or_(
                preventions.c.id.is_not(None),
                sa.and_(
                    ~owner,
                    sa.exists(
                        sa.select(premortems.c.id).where(premortems.c.id == deliveries.c.ref_id)
                    ),
                ),
            ),
        )
    )
    op.execute(
        followups.insert().from_select(
            [
                "key",
                "premortem_id",
                "prevention_id",
                "kind",
                "recipient_id",
                "timezone",
                "due_at",
                "status",
                "attempts",
                "last_error",
                "channel_id",
                "message_ts",
                "sent_at",
                "created_at",
                "updated_at",
            ],
            rows,
        )
    )
