"""delivery engine: org time zone, send windows, the SQLite sender lock

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-26 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.add_column(sa.Column("org_tz", sa.String(length=64), nullable=True))

    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("window_end", bot.db.UTCDateTime(), nullable=True))

    op.create_table(
        "delivery_sender_locks",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("owner", sa.String(length=128), nullable=False),
        sa.Column("lease_until", bot.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_delivery_sender_locks")),
    )


def downgrade() -> None:
    op.drop_table("delivery_sender_locks")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("window_end")

    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.drop_column("org_tz")
