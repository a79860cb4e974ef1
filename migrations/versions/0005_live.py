"""Niconico Live: programs as videos, their comments, and their other messages.

A program is a `videos` row (``video_id`` lv…) with its begin and end times and vposBaseTime;
its comments are `comments` rows (thread = the program id, fork ``live``) with the message
server's message id (unique per program: the de-duplication key), the overflowed flag and the
display name; gifts, notifications, nicoads and the rest go to `live_events`. Only columns are
added (no table is rebuilt, so SQLite keeps the search triggers on `comments`).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 00:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("videos", sa.Column("begin_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("videos", sa.Column("end_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("videos", sa.Column("vpos_base_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("videos", sa.Column("live_status", sa.String(16), nullable=True))
    op.add_column("comments", sa.Column("message_id", sa.String(64), nullable=True))
    op.add_column("comments", sa.Column("is_overflowed", sa.Boolean(), nullable=True))
    op.add_column("comments", sa.Column("name", sa.Text(), nullable=True))
    op.create_index(
        "ix_comments_thread_id_message_id", "comments", ["thread_id", "message_id"], unique=True
    )
    op.create_table(
        "live_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("video_id", sa.String(32), nullable=False),
        sa.Column("message_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("date_usec", sa.Integer(), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=True),
        sa.Column("run_id", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["video_id"], ["videos.video_id"], name="fk_live_events_video_id_videos"
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["fetch_runs.id"], name="fk_live_events_run_id_fetch_runs"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_live_events"),
        sa.UniqueConstraint("video_id", "message_id", name="uq_live_events_video_id_message_id"),
    )


def downgrade() -> None:
    # nicocomments migrates forward only; downgrades are not supported.
    raise NotImplementedError("nicocomments databases are never downgraded")
