"""planner horizon: plan only people whose schedule can have changed

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26 21:40:00

Each enrollment gets `replan_at`: when the plan tick must look at it again
(NULL: now, because something that shapes the person's schedule changed), and
`plan_mark`, a counter every such change bumps, so a plan computed from data
read before the change never clears the mark set after it. Existing
enrollments start at NULL: the first tick after the upgrade plans everyone once.

ix_deliveries_person_id goes: ix_deliveries_person_sent (person_id, sent_at)
answers the same lookups, and each index costs every row the planner writes.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "planner_state",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_planner_state")),
    )
    with op.batch_alter_table("enrollments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("replan_at", bot.db.UTCDateTime(), nullable=True))
        batch_op.add_column(
            sa.Column("plan_mark", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.create_index("ix_enrollments_status_replan", ["status", "replan_at"], unique=False)
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_person_id")


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_deliveries_person_id", ["person_id"], unique=False)
    with op.batch_alter_table("enrollments", schema=None) as batch_op:
        batch_op.drop_index("ix_enrollments_status_replan")
        batch_op.drop_column("plan_mark")
        batch_op.drop_column("replan_at")
    op.drop_table("planner_state")
