"""proof: pauses, spaced-repetition boxes, nudge preferences

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 19:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "nudge_pauses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column(
            "reason",
            sa.Enum(
                "manual",
                "fatigue",
                "vacation",
                "status",
                name="pausereason",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("starts_at", bot.db.UTCDateTime(), nullable=False),
        sa.Column("ends_at", bot.db.UTCDateTime(), nullable=True),
        sa.Column("ended_at", bot.db.UTCDateTime(), nullable=True),
        sa.Column("notified_at", bot.db.UTCDateTime(), nullable=True),
        sa.Column("created_at", bot.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_nudge_pauses_person_id_people"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_nudge_pauses")),
    )
    with op.batch_alter_table("nudge_pauses", schema=None) as batch_op:
        batch_op.create_index("ix_nudge_pauses_person", ["person_id", "ended_at"], unique=False)

    op.create_table(
        "reinforcement_boxes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enrollment_id", sa.Integer(), nullable=False),
        sa.Column("step_id", sa.String(length=64), nullable=False),
        sa.Column("box", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "active", "confirmed", "stopped", name="boxstatus", native_enum=False, length=16
            ),
            nullable=False,
        ),
        sa.Column("last_delivery_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", bot.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["enrollment_id"],
            ["enrollments.id"],
            name=op.f("fk_reinforcement_boxes_enrollment_id_enrollments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reinforcement_boxes")),
        sa.UniqueConstraint(
            "enrollment_id", "step_id", name=op.f("uq_reinforcement_boxes_enrollment_id_step_id")
        ),
    )

    op.create_table(
        "nudge_preferences",
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=True),
        sa.Column("updated_at", bot.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_nudge_preferences_person_id_people"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("person_id", name=op.f("pk_nudge_preferences")),
    )


def downgrade() -> None:
    op.drop_table("nudge_preferences")
    op.drop_table("reinforcement_boxes")
    with op.batch_alter_table("nudge_pauses", schema=None) as batch_op:
        batch_op.drop_index("ix_nudge_pauses_person")

    op.drop_table("nudge_pauses")
