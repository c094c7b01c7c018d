"""intake: training requests, their decisions and drafts

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "intake_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("requester_slack_user_id", sa.String(length=32), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "claimed",
                "needs_info",
                "approved",
                "declined",
                name="requeststatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("goal", sa.Text(), nullable=False),
        sa.Column("audience", sa.Text(), nullable=False),
        sa.Column("context", sa.Text(), nullable=False),
        sa.Column("cost_of_inaction", sa.Text(), nullable=False),
        sa.Column("horizon", sa.Text(), nullable=False),
        sa.Column("team", sa.Text(), nullable=True),
        sa.Column("sponsor", sa.Text(), nullable=True),
        sa.Column("diagnostic", sa.String(length=16), nullable=True),
        sa.Column("triage_channel_id", sa.String(length=32), nullable=True),
        sa.Column("triage_ts", sa.String(length=32), nullable=True),
        sa.Column("claimed_by", sa.String(length=32), nullable=True),
        sa.Column("decided_by", sa.String(length=32), nullable=True),
        sa.Column("decided_at", bot.db.UTCDateTime(), nullable=True),
        sa.Column("question", sa.Text(), nullable=True),
        sa.Column("created_at", bot.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", bot.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intake_requests")),
    )
    with op.batch_alter_table("intake_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_intake_requests_requester_slack_user_id"),
            ["requester_slack_user_id"],
            unique=False,
        )
        batch_op.create_index("ix_intake_requests_status", ["status"], unique=False)

    op.create_table(
        "intake_decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column(
            "action",
            sa.Enum(
                "submitted",
                "resubmitted",
                "claimed",
                "needs_info",
                "approved",
                "declined",
                name="decisionaction",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("actor_slack_user_id", sa.String(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", bot.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["intake_requests.id"],
            name=op.f("fk_intake_decisions_request_id_intake_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intake_decisions")),
    )
    with op.batch_alter_table("intake_decisions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_intake_decisions_request_id"), ["request_id"], unique=False
        )

    op.create_table(
        "intake_drafts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slack_user_id", sa.String(length=32), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("updated_at", bot.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["intake_requests.id"],
            name=op.f("fk_intake_drafts_request_id_intake_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intake_drafts")),
        sa.UniqueConstraint("slack_user_id", name=op.f("uq_intake_drafts_slack_user_id")),
    )


def downgrade() -> None:
    op.drop_table("intake_drafts")
    with op.batch_alter_table("intake_decisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_intake_decisions_request_id"))

    op.drop_table("intake_decisions")
    with op.batch_alter_table("intake_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_intake_requests_status")
        batch_op.drop_index(batch_op.f("ix_intake_requests_requester_slack_user_id"))

    op.drop_table("intake_requests")
