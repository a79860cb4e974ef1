"""The database schema: SQLAlchemy Core tables (imported by migrations/env.py).

Tables are created and changed only by the Alembic migrations in ``migrations/``; a test checks
that these definitions and the migrations never drift apart.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING_CONVENTION)

# In SQLite a timestamp is text 'YYYY-MM-DD HH:MM:SS' in UTC: exactly what SQLite's own
# datetime() writes, so `strftime('%s', posted_at)` gives Unix seconds and text comparison sorts.
SQLITE_DATETIME = sqlite.DATETIME(
    storage_format="%(year)04d-%(month)02d-%(day)02d %(hour)02d:%(minute)02d:%(second)02d",
    regexp=r"(\d+)-(\d+)-(\d+) (\d+):(\d+):(\d+)",
)


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC datetime everywhere (timestamptz in PostgreSQL)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(SQLITE_DATETIME)
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, int | float):
            value = datetime.fromtimestamp(value, UTC)
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# Row ids: INTEGER PRIMARY KEY in SQLite (the rowid), BIGINT elsewhere (datasets reach billions).
RowId = BigInteger().with_variant(Integer, "sqlite")

videos = Table(
    "videos",
    metadata,
    Column("video_id", String(32), primary_key=True),
    Column("title", Text),
    Column("duration_s", Integer),
    Column("posted_at", UTCDateTime),
    Column("first_fetched_at", UTCDateTime, nullable=False),
    Column("last_fetched_at", UTCDateTime, nullable=False),
)

threads = Table(
    "threads",
    metadata,
    Column("thread_id", String(32), primary_key=True),
    Column("fork", String(8), primary_key=True),
    Column("video_id", String(32), ForeignKey("videos.video_id"), nullable=False, index=True),
    Column("label", String(32)),
    Column("needs_key", Boolean, nullable=False, default=False),
    # What the server reported the last time it was asked.
    Column("last_res", Integer),  # legacy: newest comment no
    Column("comment_count", Integer),  # nvcomment: commentCount
    Column("global_num_res", Integer),  # legacy: global_num_res, all servers
    Column("resultcode", Integer),
    Column("server_time", UTCDateTime),
    Column("checked_at", UTCDateTime),
    # The backward walk through the thread's history.
    Column("history_when", BigInteger),  # next `when` of an unfinished walk (Unix seconds)
    Column("history_complete", Boolean, nullable=False, default=False),
    Column("history_end", String(64)),  # why the last walk ended
    Column("history_completed_at", UTCDateTime),
    # Catching up with comments newer than the newest stored one, walking back until `no`
    # catchup_stop_no; kept so an interrupted catch-up resumes instead of leaving a hole.
    Column("catchup_when", BigInteger),
    Column("catchup_stop_no", Integer),
)

fetch_runs = Table(
    "fetch_runs",
    metadata,
    Column("id", RowId, primary_key=True),
    Column("video_id", String(32), index=True),
    Column("protocol", String(16), nullable=False),  # legacy | nvcomment | import
    Column("mode", String(16), nullable=False),  # window | all-history | fill-gaps | import
    Column("options", Text),  # JSON: the options the run was started with (never secrets)
    Column("source", Text),  # imports: the file it came from
    Column("tool_version", String(32), nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),
    Column("status", String(16), nullable=False),  # running | completed | failed | interrupted
    Column("pages", Integer, nullable=False, default=0),
    Column("requests", Integer, nullable=False, default=0),
    Column("comments_added", Integer, nullable=False, default=0),
    Column("when_cursor", BigInteger),  # the last `when` asked for
    Column("error", Text),
)

comments = Table(
    "comments",
    metadata,
    Column("id", RowId, primary_key=True),
    Column("video_id", String(32), ForeignKey("videos.video_id"), nullable=False),
    Column("thread_id", String(32), nullable=False),
    Column("fork", String(8), nullable=False),  # main | owner | easy
    Column("no", Integer, nullable=False),
    Column("vpos_ms", BigInteger, nullable=False),
    Column("posted_at", UTCDateTime, nullable=False),
    Column("date_usec", Integer),
    Column("content", Text, nullable=False),
    Column("commands", Text, nullable=False),  # the legacy `mail` string
    Column("user_id", String(64)),
    Column("is_premium", Boolean, nullable=False),
    Column("is_anonymous", Boolean, nullable=False),
    Column("is_deleted", Boolean, nullable=False),
    Column("deleted_reason", SmallInteger),
    Column("score", Integer),
    Column("nicoru_count", Integer),
    Column("comment_id", String(24)),  # nvcomment id; NULL for legacy
    Column("source", String(16)),  # nvcomment source: trunk | leaf
    Column("run_id", BigInteger, ForeignKey("fetch_runs.id")),  # the run that first stored it
    UniqueConstraint("thread_id", "fork", "no"),
    Index(None, "video_id", "fork", "vpos_ms"),
)

# Seconds a history walk had to step over: a whole page came from them, so they may hold
# comments the server would not return.
skipped_seconds = Table(
    "skipped_seconds",
    metadata,
    Column("id", RowId, primary_key=True),
    Column("run_id", BigInteger, ForeignKey("fetch_runs.id"), nullable=False),
    Column("thread_id", String(32), nullable=False),
    Column("fork", String(8), nullable=False),
    Column("from_second", BigInteger, nullable=False),
    Column("to_second", BigInteger, nullable=False),
    Index(None, "thread_id", "fork"),
)
