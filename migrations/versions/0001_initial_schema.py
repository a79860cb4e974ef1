"""Initial schema: videos, threads, comments, fetch_runs, skipped_seconds.

Revision ID: 0001
Revises:
Create Date: 2026-11-27 00:17:27.641124
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "fetch_runs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("video_id", sa.String(length=32), nullable=True),
        sa.Column("protocol", sa.String(length=16), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("options", sa.Text(), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("tool_version", sa.String(length=32), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("comments_added", sa.Integer(), nullable=False),
        sa.Column("when_cursor", sa.BigInteger(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fetch_runs")),
    )
    with op.batch_alter_table("fetch_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_fetch_runs_video_id"), ["video_id"], unique=False)

    op.create_table(
        "videos",
        sa.Column("video_id", sa.String(length=32), nullable=False),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("duration_s", sa.Integer(), nullable=True),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("video_id", name=op.f("pk_videos")),
    )
    op.create_table(
        "comments",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("video_id", sa.String(length=32), nullable=False),
        sa.Column("thread_id", sa.String(length=32), nullable=False),
        sa.Column("fork", sa.String(length=8), nullable=False),
        sa.Column("no", sa.Integer(), nullable=False),
        sa.Column("vpos_ms", sa.BigInteger(), nullable=False),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("date_usec", sa.Integer(), nullable=True),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("commands", sa.Text(), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=True),
        sa.Column("is_premium", sa.Boolean(), nullable=False),
        sa.Column("is_anonymous", sa.Boolean(), nullable=False),
        sa.Column("is_deleted", sa.Boolean(), nullable=False),
        sa.Column("deleted_reason", sa.SmallInteger(), nullable=True),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("nicoru_count", sa.Integer(), nullable=True),
        sa.Column("comment_id", sa.String(length=24), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=True),
        sa.Column("run_id", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["fetch_runs.id"], name=op.f("fk_comments_run_id_fetch_runs")
        ),
        sa.ForeignKeyConstraint(
            ["video_id"], ["videos.video_id"], name=op.f("fk_comments_video_id_videos")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comments")),
        sa.UniqueConstraint("thread_id", "fork", "no", name=op.f("uq_comments_thread_id_fork_no")),
    )
    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_comments_video_id_fork_vpos_ms"),
            ["video_id", "fork", "vpos_ms"],
            unique=False,
        )

    op.create_table(
        "skipped_seconds",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("thread_id", sa.String(length=32), nullable=False),
        sa.Column("fork", sa.String(length=8), nullable=False),
        sa.Column("from_second", sa.BigInteger(), nullable=False),
        sa.Column("to_second", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["fetch_runs.id"], name=op.f("fk_skipped_seconds_run_id_fetch_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_skipped_seconds")),
    )
    with op.batch_alter_table("skipped_seconds", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_skipped_seconds_thread_id_fork"), ["thread_id", "fork"], unique=False
        )

    op.create_table(
        "threads",
        sa.Column("thread_id", sa.String(length=32), nullable=False),
        sa.Column("fork", sa.String(length=8), nullable=False),
        sa.Column("video_id", sa.String(length=32), nullable=False),
        sa.Column("label", sa.String(length=32), nullable=True),
        sa.Column("needs_key", sa.Boolean(), nullable=False),
        sa.Column("last_res", sa.Integer(), nullable=True),
        sa.Column("comment_count", sa.Integer(), nullable=True),
        sa.Column("global_num_res", sa.Integer(), nullable=True),
        sa.Column("resultcode", sa.Integer(), nullable=True),
        sa.Column("server_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("history_when", sa.BigInteger(), nullable=True),
        sa.Column("history_complete", sa.Boolean(), nullable=False),
        sa.Column("history_end", sa.String(length=64), nullable=True),
        sa.Column("history_completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("catchup_when", sa.BigInteger(), nullable=True),
        sa.Column("catchup_stop_no", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["video_id"], ["videos.video_id"], name=op.f("fk_threads_video_id_videos")
        ),
        sa.PrimaryKeyConstraint("thread_id", "fork", name=op.f("pk_threads")),
    )
    with op.batch_alter_table("threads", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_threads_video_id"), ["video_id"], unique=False)


def downgrade() -> None:
    # nicocomments migrates forward only; downgrades are not supported.
    raise NotImplementedError("nicocomments databases are never downgraded")
