"""digest: KPI observations, sent digests, privacy choices

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 19:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "metric_observations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("program_id", sa.String(length=64), nullable=False),
        sa.Column("observed_on", sa.Date(), nullable=False),
        sa.Column("team", sa.String(length=255), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("source", sa.String(length=96), nullable=False),
        sa.Column("recorded_at", bot.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["program_id"],
            ["programs.id"],
            name=op.f("fk_metric_observations_program_id_programs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_metric_observations")),
        sa.UniqueConstraint(
            "program_id",
            "observed_on",
            "team",
            "source",
            name=op.f("uq_metric_observations_program_id_observed_on_team_source"),
        ),
    )
    with op.batch_alter_table("metric_observations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_metric_observations_program_day", ["program_id", "observed_on"], unique=False
        )

    op.create_table(
        "digest_sends",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("manager", "ld", name="digestkind", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("recipient_user_id", sa.String(length=32), nullable=False),
        sa.Column("week_start", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("claimed_at", bot.db.UTCDateTime(), nullable=False),
        sa.Column("sent_at", bot.db.UTCDateTime(), nullable=True),
        sa.Column("channel_id", sa.String(length=32), nullable=True),
        sa.Column("message_ts", sa.String(length=32), nullable=True),
        sa.Column("last_error", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_digest_sends")),
        sa.UniqueConstraint(
            "kind",
            "recipient_user_id",
            "week_start",
            name=op.f("uq_digest_sends_kind_recipient_user_id_week_start"),
        ),
    )
    op.create_table(
        "privacy_choices",
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("share_with_manager", sa.Boolean(), nullable=False),
        sa.Column("enrollment_opt_in", sa.Boolean(), nullable=False),
        sa.Column("updated_at", bot.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_privacy_choices_person_id_people"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("person_id", name=op.f("pk_privacy_choices")),
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_deliveries_person_sent", ["person_id", "sent_at"], unique=False)
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.create_index("ix_people_slack_user_id", ["slack_user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.drop_index("ix_people_slack_user_id")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_person_sent")
    op.drop_table("privacy_choices")
    op.drop_table("digest_sends")
    with op.batch_alter_table("metric_observations", schema=None) as batch_op:
        batch_op.drop_index("ix_metric_observations_program_day")
    op.drop_table("metric_observations")
