"""send budgets: one chat.postMessage budget per workspace, shared by replicas

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 18:00:00

Slack's posting budget belongs to the workspace, not to a process. Each row
holds the next free send slot of one workspace (epoch seconds); every sender
on the database reserves slots from it, so three replicas configured with the
workspace's budget share it instead of tripling it. Rows are created on first
use; nothing needs moving on upgrade or downgrade.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "delivery_send_budgets",
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("next_slot", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("workspace_id", name=op.f("pk_delivery_send_budgets")),
    )


def downgrade() -> None:
    op.drop_table("delivery_send_budgets")
