"""workspaces: data kept per Slack workspace in OAuth installs

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26 21:20:00

Every table that names Slack users without a link to `people` gets the Slack
team id ("" for rows of a single-workspace install, which is what existing rows
are). Unique keys that held one row per Slack user now hold one per workspace
and user: the same user id can exist in two workspaces.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _workspace_column() -> sa.Column[str]:
    # The default stays in the database: SQLite's batch mode copies the old rows
    # into the rebuilt table in the same step that adds the column.
    return sa.Column("workspace_id", sa.String(length=32), nullable=False, server_default="")


def upgrade() -> None:
    with op.batch_alter_table("intake_requests", schema=None) as batch_op:
        batch_op.add_column(_workspace_column())
        batch_op.create_index(
            "ix_intake_requests_workspace_status", ["workspace_id", "status"], unique=False
        )

    with op.batch_alter_table("intake_drafts", schema=None) as batch_op:
        batch_op.add_column(_workspace_column())
        batch_op.drop_constraint("uq_intake_drafts_slack_user_id", type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_intake_drafts_workspace_id_slack_user_id"),
            ["workspace_id", "slack_user_id"],
        )

    with op.batch_alter_table("premortems", schema=None) as batch_op:
        batch_op.add_column(_workspace_column())
        batch_op.create_index(
            "ix_premortems_workspace", ["workspace_id", "created_at"], unique=False
        )

    with op.batch_alter_table("digest_sends", schema=None) as batch_op:
        batch_op.add_column(_workspace_column())
        batch_op.drop_constraint(
            "uq_digest_sends_kind_recipient_user_id_week_start", type_="unique"
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_digest_sends_kind_workspace_id_recipient_user_id_week_start"),
            ["kind", "workspace_id", "recipient_user_id", "week_start"],
        )

    with op.batch_alter_table("metric_observations", schema=None) as batch_op:
        batch_op.add_column(_workspace_column())
        batch_op.drop_constraint(
            "uq_metric_observations_program_id_observed_on_team_source", type_="unique"
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_metric_observations_program_id_workspace_id_observed_on_team_source"),
            ["program_id", "workspace_id", "observed_on", "team", "source"],
        )


def downgrade() -> None:
    # Going back to one row per Slack user: rows of other workspaces would collide,
    # so only the single-workspace rows ("") survive a downgrade of those tables.
    for name in ("intake_drafts", "digest_sends", "metric_observations"):
        table = sa.table(name, sa.column("workspace_id", sa.String(32)))
        op.execute(table.delete().where(table.c.workspace_id != ""))

    with op.batch_alter_table("metric_observations", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("uq_metric_observations_program_id_workspace_id_observed_on_team_source"),
            type_="unique",
        )
        batch_op.create_unique_constraint(
            "uq_metric_observations_program_id_observed_on_team_source",
            ["program_id", "observed_on", "team", "source"],
        )
        batch_op.drop_column("workspace_id")

    with op.batch_alter_table("digest_sends", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("uq_digest_sends_kind_workspace_id_recipient_user_id_week_start"),
            type_="unique",
        )
        batch_op.create_unique_constraint(
            "uq_digest_sends_kind_recipient_user_id_week_start",
            ["kind", "recipient_user_id", "week_start"],
        )
        batch_op.drop_column("workspace_id")

    with op.batch_alter_table("premortems", schema=None) as batch_op:
        batch_op.drop_index("ix_premortems_workspace")
        batch_op.drop_column("workspace_id")

    with op.batch_alter_table("intake_drafts", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("uq_intake_drafts_workspace_id_slack_user_id"), type_="unique"
        )
        batch_op.create_unique_constraint("uq_intake_drafts_slack_user_id", ["slack_user_id"])
        batch_op.drop_column("workspace_id")

    with op.batch_alter_table("intake_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_intake_requests_workspace_status")
        batch_op.drop_column("workspace_id")
