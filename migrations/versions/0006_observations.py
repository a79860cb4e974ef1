"""Change tracking: comment_observations, and the answer's voltageZone on videos.

Re-crawls used to keep a comment's first state (ON CONFLICT DO NOTHING). From this revision a
fetch that sees a stored comment with another nicoru count, score or deletion updates the
comments row and records the change here (see `nicocomments.store.write.save_comments`).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 00:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "comment_observations",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("comment_row_id", sa.BigInteger(), nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=True),
        sa.Column("nicoru_count", sa.Integer(), nullable=True),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("is_deleted", sa.Boolean(), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["comment_row_id"],
            ["comments.id"],
            name=op.f("fk_comment_observations_comment_row_id_comments"),
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["fetch_runs.id"], name=op.f("fk_comment_observations_run_id_fetch_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comment_observations")),
    )
    with op.batch_alter_table("comment_observations") as batch:
        batch.create_index(
            batch.f("ix_comment_observations_comment_row_id_id"), ["comment_row_id", "id"]
        )
        batch.create_index(batch.f("ix_comment_observations_run_id"), ["run_id"])
    with op.batch_alter_table("videos") as batch:
        batch.add_column(sa.Column("voltage_zone", sa.Text(), nullable=True))


def downgrade() -> None:
    # nicocomments migrates forward only; downgrades are not supported.
    raise NotImplementedError("nicocomments databases are never downgraded")
