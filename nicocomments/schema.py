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
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
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
    Column(
        "video_id",
        String(32),
        primary_key=True,
        doc="sm…/so…/nm… id, or the thread number it was fetched by",
    ),
    Column("title", Text, doc="title, when the protocol gives one"),
    Column("duration_s", Integer, doc="length in seconds"),
    Column("posted_at", UTCDateTime, doc="when the video was posted (UTC), when known"),
    Column(
        "first_fetched_at",
        UTCDateTime,
        nullable=False,
        doc="first time nico stored something of it",
    ),
    Column(
        "last_fetched_at", UTCDateTime, nullable=False, doc="last time nico stored something of it"
    ),
    # Niconico Live programs (video_id lv…) only.
    Column("begin_at", UTCDateTime, doc="live: when the program began (UTC)"),
    Column("end_at", UTCDateTime, doc="live: when it ended, or is scheduled to (UTC)"),
    Column("vpos_base_at", UTCDateTime, doc="live: vposBaseTime, the moment of vpos 0 (UTC)"),
    Column("live_status", String(16), doc="live: ON_AIR, ENDED, … when last asked"),
    Column(
        "voltage_zone",
        Text,
        doc="nvcomment: the answer's voltageZone, raw JSON as last sent (NULL when never sent)",
    ),
)

threads = Table(
    "threads",
    metadata,
    Column("thread_id", String(32), primary_key=True, doc="the server's thread id"),
    Column("fork", String(8), primary_key=True, doc="main, owner, easy or live"),
    Column(
        "video_id",
        String(32),
        ForeignKey("videos.video_id"),
        nullable=False,
        index=True,
        doc="the video it belongs to",
    ),
    Column("label", String(32), doc="the site's name for it: default, community, owner, easy, …"),
    Column(
        "needs_key",
        Boolean,
        nullable=False,
        default=False,
        doc="key-protected (official/channel thread)",
    ),
    # What the server reported the last time it was asked.
    Column(
        "last_res",
        Integer,
        doc="legacy: the newest comment no the server reported",
    ),  # legacy: newest comment no
    Column(
        "comment_count",
        Integer,
        doc="nvcomment: commentCount the server reported",
    ),  # nvcomment: commentCount
    Column(
        "global_num_res",
        Integer,
        doc="legacy: global_num_res the server reported",
    ),  # legacy: global_num_res, all servers
    Column("resultcode", Integer, doc="legacy: the last resultcode"),
    Column("server_time", UTCDateTime, doc="the server's clock at the last answer"),
    Column("checked_at", UTCDateTime, doc="when the server was last asked"),
    # The backward walk through the thread's history.
    Column(
        "history_when",
        BigInteger,
        doc="cursor of an unfinished history walk (Unix s)",
    ),  # next `when` of an unfinished walk (Unix seconds)
    Column(
        "history_complete",
        Boolean,
        nullable=False,
        default=False,
        doc="the walk reached the first comment",
    ),
    Column("history_end", String(64), doc="why the last walk ended"),  # why the last walk ended
    Column("history_completed_at", UTCDateTime, doc="when the walk completed"),
    # Catching up with comments newer than the newest stored one, walking back until `no`
    # catchup_stop_no; kept so an interrupted catch-up resumes instead of leaving a hole.
    Column("catchup_when", BigInteger, doc="cursor of an unfinished catch-up with newer comments"),
    Column("catchup_stop_no", Integer, doc="the catch-up stops at this no"),
)

fetch_runs = Table(
    "fetch_runs",
    metadata,
    Column("id", RowId, primary_key=True, doc="run number"),
    Column("video_id", String(32), index=True, doc="the video fetched or imported"),
    Column(
        "protocol",
        String(16),
        nullable=False,
        doc="legacy, nvcomment or import",
    ),  # legacy | nvcomment | import
    Column(
        "mode",
        String(16),
        nullable=False,
        doc="window, all-history, fill-gaps or import",
    ),  # window | all-history | fill-gaps | import
    Column(
        "options",
        Text,
        doc="the options it ran with (JSON; never secrets)",
    ),  # JSON: the options the run was started with (never secrets)
    Column("source", Text, doc="imports: the file read"),  # imports: the file it came from
    Column("tool_version", String(32), nullable=False, doc="nicocomments version"),
    Column("started_at", UTCDateTime, nullable=False, doc="start (UTC)"),
    Column("finished_at", UTCDateTime, doc="end (UTC)"),
    Column(
        "status",
        String(16),
        nullable=False,
        doc="running, completed, failed or interrupted",
    ),  # running | completed | failed | interrupted
    Column("pages", Integer, nullable=False, default=0, doc="answers stored"),
    Column(
        "requests", Integer, nullable=False, default=0, doc="HTTP requests made, retries included"
    ),
    Column("comments_added", Integer, nullable=False, default=0, doc="comments that were new"),
    Column("when_cursor", BigInteger, doc="the last `when` asked for"),  # the last `when` asked for
    Column("error", Text, doc="why it failed"),
)

comments = Table(
    "comments",
    metadata,
    Column("id", RowId, primary_key=True, doc="row id"),
    Column("video_id", String(32), ForeignKey("videos.video_id"), nullable=False, doc="the video"),
    Column("thread_id", String(32), nullable=False, doc="the thread"),
    Column(
        "fork",
        String(8),
        nullable=False,
        doc="main, owner, easy, live, or any fork the server names (ai, …)",
    ),
    Column("no", Integer, nullable=False, doc="the comment's number in its thread and fork"),
    Column(
        "vpos_ms",
        BigInteger,
        nullable=False,
        doc="position in the video, milliseconds (legacy vpos × 10)",
    ),
    Column(
        "posted_at",
        UTCDateTime,
        nullable=False,
        doc="when it was posted, UTC (SQLite: strftime('%s', posted_at) is Unix time)",
    ),
    Column("date_usec", Integer, doc="legacy: microseconds of the posting time"),
    Column("content", Text, nullable=False, doc="the text ('' for deleted comments)"),
    Column(
        "commands",
        Text,
        nullable=False,
        doc="the commands, space-separated (legacy `mail`): 184 red big ue …",
    ),  # the legacy `mail` string
    Column(
        "user_id", String(64), doc="poster: numeric id, or a hashed id for anonymous (184) comments"
    ),
    Column("is_premium", Boolean, nullable=False, doc="posted by a premium member"),
    Column("is_anonymous", Boolean, nullable=False, doc="posted with 184"),
    Column(
        "is_deleted",
        Boolean,
        nullable=False,
        doc="deleted (legacy servers still list them, without text)",
    ),
    Column("deleted_reason", SmallInteger, doc="legacy `deleted`: 1 poster, 2 operator, …"),
    Column("score", Integer, doc="NG score (0 or negative; NULL when the server left it out)"),
    Column("nicoru_count", Integer, doc="nicoru count"),
    Column(
        "comment_id",
        String(24),
        doc="nvcomment comment id (NULL for legacy)",
    ),  # nvcomment id; NULL for legacy
    Column(
        "source",
        String(16),
        doc="nvcomment source as the server sent it (trunk, leaf, nicoru, …; not an enumeration)",
    ),
    Column(
        "run_id",
        BigInteger,
        ForeignKey("fetch_runs.id"),
        doc="the fetch_runs row that first stored it",
    ),  # the run that first stored it
    Column(
        "message_id", String(64), doc="live: the message server's message id (meta.id)"
    ),  # live only: the de-duplication key, with the program id
    Column("is_overflowed", Boolean, doc="live: an overflowed chat (normally hidden by players)"),
    Column("name", Text, doc="live: the display name the comment carried"),
    UniqueConstraint("thread_id", "fork", "no"),
    Index(None, "video_id", "fork"),
    Index(None, "thread_id", "message_id", unique=True),
)

# Seconds a history walk had to step over: a whole page came from them, so they may hold
# comments the server would not return.
skipped_seconds = Table(
    "skipped_seconds",
    metadata,
    Column("id", RowId, primary_key=True, doc="row id"),
    Column(
        "run_id",
        BigInteger,
        ForeignKey("fetch_runs.id"),
        nullable=False,
        doc="the run that stepped over them",
    ),
    Column("thread_id", String(32), nullable=False, doc="the thread"),
    Column("fork", String(8), nullable=False, doc="the fork"),
    Column("from_second", BigInteger, nullable=False, doc="first second (Unix s)"),
    Column("to_second", BigInteger, nullable=False, doc="last second (Unix s)"),
    Index(None, "thread_id", "fork"),
)

# `nico crawl`: a collection (a user's uploads, a mylist, a series, a tag, a search, ids from a
# file or a query) and its videos as the listing showed them, with each one's crawl state.
collections = Table(
    "collections",
    metadata,
    Column("id", RowId, primary_key=True, doc="collection number"),
    Column("name", Text, nullable=False, unique=True, doc="user/ID, mylist/ID, tag/TAG, …"),
    Column("kind", String(16), nullable=False, doc="user, mylist, series, tag, search, …"),
    Column("key", Text, nullable=False, doc="the id, tag, words, file or query"),
    Column("title", Text, doc="the collection's own name, when the listing gives one"),
    Column("created_at", UTCDateTime, nullable=False, doc="first crawl (UTC)"),
    Column("listed_at", UTCDateTime, doc="when its listing was last read to the end"),
    Column("crawl_started_at", UTCDateTime, doc="start of the last crawl"),
    Column("crawled_at", UTCDateTime, doc="end of the last crawl that left no video pending"),
    Column(
        "since",
        UTCDateTime,
        doc="--since-last asks for comments from here: the last crawl's start, or the search "
        "index's time then if older (a day before that start when the index would not say)",
    ),
)

collection_videos = Table(
    "collection_videos",
    metadata,
    Column(
        "collection_id",
        BigInteger,
        ForeignKey("collections.id"),
        primary_key=True,
        doc="the collection",
    ),
    Column("video_id", String(32), primary_key=True, doc="the video"),
    Column("position", Integer, doc="its place in the listing"),
    Column("title", Text, doc="title as listed"),
    Column("comment_count", Integer, doc="comments the listing counted"),
    Column("last_comment_at", UTCDateTime, doc="the listing's lastCommentTime"),
    Column("listed_at", UTCDateTime, nullable=False, doc="when it was last listed"),
    Column(
        "state",
        String(16),
        nullable=False,
        default="pending",
        doc="pending, complete, partial (to resume) or failed (cannot be read)",
    ),
    Column("reason", Text, doc="why it is partial or failed"),
    Column("stored", Integer, doc="comments stored at its last fetch"),
    Column("fetched_at", UTCDateTime, doc="end of its last fetch"),
    Index(None, "collection_id", "state"),
)

# One request budget per account and host, shared by every worker (nico worker on PostgreSQL).
rate_budgets = Table(
    "rate_budgets",
    metadata,
    Column("account", String(64), primary_key=True, doc="a hash of the session, or 'guest'"),
    Column("host", String(255), primary_key=True, doc="host:port"),
    Column("next_slot", Float, nullable=False, doc="Unix time of the next free request slot"),
)

# Niconico Live messages that are not comments: gifts, notifications, nicoads, … (live.md §4).
live_events = Table(
    "live_events",
    metadata,
    Column("id", RowId, primary_key=True, doc="row id"),
    Column(
        "video_id",
        String(32),
        ForeignKey("videos.video_id"),
        nullable=False,
        doc="the program (lv…)",
    ),
    Column("message_id", String(64), nullable=False, doc="the message server's message id"),
    Column(
        "kind",
        String(32),
        nullable=False,
        doc="gift, simple_notification, nicoad, …, or unknown",
    ),
    Column("posted_at", UTCDateTime, doc="when it was posted (UTC)"),
    Column("date_usec", Integer, doc="microseconds of the posting time"),
    Column("payload", Text, nullable=False, doc="the message as JSON (proto3 JSON names)"),
    Column("raw", LargeBinary, doc="the message's bytes as sent (unknown kinds decode later)"),
    Column("run_id", BigInteger, ForeignKey("fetch_runs.id"), doc="the run that first stored it"),
    UniqueConstraint("video_id", "message_id"),
)

# What re-crawls saw change: one row each time a fetch found a stored comment's nicoru count,
# score or deletion different from the last state stored. The first such change also records
# the state it changed from (the run that first stored the comment), so the comments row (which
# holds the latest state) never hides where a comment started; an unchanged re-crawl adds nothing.
comment_observations = Table(
    "comment_observations",
    metadata,
    Column("id", RowId, primary_key=True, doc="row id"),
    Column(
        "comment_row_id",
        BigInteger,
        ForeignKey("comments.id"),
        nullable=False,
        doc="the comment (comments.id)",
    ),
    Column(
        "run_id",
        BigInteger,
        ForeignKey("fetch_runs.id"),
        doc="the fetch_runs row that saw this state",
    ),
    Column("nicoru_count", Integer, doc="nicoru count seen"),
    Column("score", Integer, doc="NG score seen"),
    Column(
        "is_deleted",
        Boolean,
        nullable=False,
        doc="deleted, or no longer served after a complete pass",
    ),
    Column("seen_at", UTCDateTime, nullable=False, doc="when it was seen (UTC)"),
    Index(None, "comment_row_id", "id"),
    Index(None, "run_id"),
)
