"""Writing: videos, threads, comments, run records and the search index.

Writing videos, threads, comments and walk state is idempotent: the same page saved twice is
stored once (`save_comments` skips comments already stored, `upsert_*` overwrite, `ensure_*`
add what is missing, counts only move forward); `save_skipped` adds a row each time, as the run
records of `store.runs` do.

Functions take the caller's connection, so the caller decides what one transaction holds; those
that open their own transaction (`sync_search_index`, and `start_run`, `rename_run_video`,
`finish_run` of `store.runs`) take the engine. Callers write through `save_retrying`, which runs a
transaction again when another writer was in the way, so several processes may write one
database at once; rows are written in one order everywhere (comments by key, then threads), so
PostgreSQL transactions that meet wait for each other instead of deadlocking.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from operator import itemgetter
from typing import TypeVar

from sqlalchemy import (
    Connection,
    Engine,
    Integer,
    bindparam,
    case,
    func,
    inspect,
    update,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql, sqlite

from nicocomments.interrupts import deferred_interrupt
from nicocomments.records import COMMENT_FIELDS, Comment, ThreadRef, ThreadStatus, VideoInfo
from nicocomments.schema import skipped_seconds, threads, videos
from nicocomments.store.db import WRITE_OPTION, database_failure, is_contention

log = logging.getLogger(__name__)
T = TypeVar("T")

# `write`: attempts in all, and the first wait between two (doubled each time, with jitter).
WRITE_ATTEMPTS = 6
WRITE_BACKOFF_S = 0.05

# --- writing -----------------------------------------------------------------------------------


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """A write transaction, with Ctrl-C held back until it has committed or rolled back (see
    `nicocomments.interrupts`). On SQLite it takes the write lock as it begins, waiting up to
    the busy timeout while another process writes."""
    with deferred_interrupt(), engine.connect() as connection:
        connection.execution_options(**{WRITE_OPTION: True})
        with connection.begin():
            yield connection


def save_retrying(engine: Engine, work: Callable[[Connection], T]) -> T:
    """``work(connection)`` in one `transaction`, run again from the start (up to
    `WRITE_ATTEMPTS` times, with backoff) when another writer was in the way: a PostgreSQL
    deadlock or serialisation failure, or SQLite still locked after its busy timeout. ``work``
    must change nothing outside the database (the caller acts on what it returns)."""
    for attempt in range(1, WRITE_ATTEMPTS + 1):
        try:
            with transaction(engine) as connection:
                return work(connection)
        except sa_exc.DBAPIError as exc:
            if not is_contention(exc):
                raise
            if attempt == WRITE_ATTEMPTS:
                url = engine.url
                target = url.database if url.get_backend_name() == "sqlite" else str(url)
                raise database_failure(target, exc) from None
            delay = WRITE_BACKOFF_S * 2 ** (attempt - 1) * random.uniform(0.5, 1.5)
            log.info("another writer was in the way (%s); again in %.2f s", exc.orig, delay)
            time.sleep(delay)
    raise AssertionError("unreachable")


def now_utc() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def insert_on_conflict(connection: Connection, table):
    """INSERT with ON CONFLICT: one statement, so two writers adding the same row at once
    both succeed (an UPDATE-then-INSERT lets the second fail on the key)."""
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def upsert_video(connection: Connection, info: VideoInfo, seen_at: datetime) -> None:
    values = {
        "title": info.title,
        "duration_s": info.duration_s,
        "posted_at": info.posted_at,
        "last_fetched_at": seen_at,
    }
    values = {k: v for k, v in values.items() if v is not None}
    statement = insert_on_conflict(connection, videos).values(
        video_id=info.video_id, first_fetched_at=seen_at, **values
    )
    connection.execute(
        statement.on_conflict_do_update(index_elements=[videos.c.video_id], set_=values)
    )


def ensure_video(connection: Connection, video_id: str, seen_at: datetime) -> None:
    """A bare `videos` row (imports know little more than the id)."""
    upsert_video(connection, VideoInfo(video_id=video_id, threads=()), seen_at)


def upsert_threads(connection: Connection, video_id: str, refs: Iterable[ThreadRef]) -> None:
    for ref in sorted(refs, key=lambda r: (r.thread_id, r.fork)):
        values = {"video_id": video_id, "label": ref.label, "needs_key": ref.needs_key}
        statement = insert_on_conflict(connection, threads).values(
            thread_id=ref.thread_id, fork=ref.fork, **values
        )
        connection.execute(
            statement.on_conflict_do_update(
                index_elements=[threads.c.thread_id, threads.c.fork], set_=values
            )
        )


def ensure_threads(connection: Connection, video_id: str, rows: Iterable[dict]) -> list[tuple]:
    """Add the threads an imported file names that are not stored yet; never change a stored
    one (its label, key and counts came from the server). ``rows`` hold ``thread_id``, ``fork``
    and optionally ``label``, ``last_res``, ``comment_count``, ``server_time``. Returns the
    (thread_id, fork) keys that were added."""
    added = []
    for row in rows:
        statement = insert_on_conflict(connection, threads).values(
            thread_id=row["thread_id"],
            fork=row["fork"],
            video_id=video_id,
            label=row.get("label"),
            needs_key=False,
            last_res=row.get("last_res"),
            comment_count=row.get("comment_count"),
            server_time=row.get("server_time"),
            history_complete=False,
        )
        # One statement: another writer adding the same thread meanwhile is no error.
        if connection.execute(statement.on_conflict_do_nothing()).rowcount:
            added.append((row["thread_id"], row["fork"]))
    return added


def _forward(column: str):
    """The column's new value: the reported one if it is larger (counts only move forward)."""
    current, reported = threads.c[column], bindparam(column, type_=Integer)
    return case(
        (reported.is_(None), current),
        (current.is_(None) | (current < reported), reported),
        else_=current,
    )


# Built once: this runs after every page.
_SAVE_THREAD_STATUS = (
    update(threads)
    .where(
        (threads.c.thread_id == bindparam("key_thread")) & (threads.c.fork == bindparam("key_fork"))
    )
    .values(
        resultcode=bindparam("resultcode"),
        checked_at=bindparam("checked_at", type_=threads.c.checked_at.type),
        server_time=func.coalesce(
            bindparam("server_time", type_=threads.c.server_time.type), threads.c.server_time
        ),
        last_res=_forward("last_res"),
        comment_count=_forward("comment_count"),
        global_num_res=_forward("global_num_res"),
    )
)


def save_thread_status(connection: Connection, status: ThreadStatus, checked_at: datetime) -> None:
    """Record what the server said about a thread (counts only ever move forward)."""
    connection.execute(
        _SAVE_THREAD_STATUS,
        {
            "key_thread": status.thread_id,
            "key_fork": status.fork,
            "resultcode": status.resultcode,
            "checked_at": checked_at,
            "server_time": status.server_time,
            "last_res": status.last_res,
            "comment_count": status.comment_count,
            "global_num_res": status.global_num_res,
        },
    )


_INSERT_COLUMNS = ("video_id", "run_id", *COMMENT_FIELDS)
_COMMENT_KEY = itemgetter(0, 1, 2)  # thread_id, fork, no: the comments' unique key


def insert_comments_sql(
    dialect: str,
    columns: Sequence[str] = _INSERT_COLUMNS,
    conflict: str = "(thread_id, fork, no)",
) -> str:
    """The INSERT of `save_comments` (and of live comments, with their columns): ``posted_at``
    converted from Unix seconds by the database; a row whose key is stored already (``conflict``:
    the conflict target, or "" for any unique key) is left out."""
    if dialect == "sqlite":
        mark, timestamp = "?", "datetime(?, 'unixepoch')"
    else:
        mark, timestamp = "%s", "to_timestamp(%s)"
    values = ", ".join(timestamp if c == "posted_at" else mark for c in columns)
    return (
        f"INSERT INTO comments ({', '.join(columns)}) VALUES ({values}) "
        f"ON CONFLICT {conflict + ' ' if conflict else ''}DO NOTHING"
    )


def save_comments(
    connection: Connection, video_id: str, run_id: int | None, batch: Sequence[Comment]
) -> int:
    """Insert comments not stored yet; return how many were new.

    The one hot path of the program: a single prepared statement, executemany over plain tuples,
    timestamps converted by the database itself."""
    if not batch:
        return 0
    sql = insert_comments_sql(connection.dialect.name)
    if connection.dialect.name == "postgresql":
        # Row locks taken in key order: two writers storing overlapping pages (servers need
        # not sort them) wait for each other instead of deadlocking.
        batch = sorted(batch, key=_COMMENT_KEY)
    prefix = (video_id, run_id)
    result = connection.exec_driver_sql(sql, [prefix + comment for comment in batch])
    return max(result.rowcount, 0)


def set_history(connection: Connection, thread_id: str, fork: str, **values) -> None:
    """Update a thread's walk state: history_when, history_complete, history_end, catchup_*."""
    key = (threads.c.thread_id == thread_id) & (threads.c.fork == fork)
    connection.execute(update(threads).where(key).values(values))


def save_skipped(
    connection: Connection, run_id: int, thread_id: str, fork: str, seconds: tuple[int, int]
) -> None:
    connection.execute(
        skipped_seconds.insert().values(
            run_id=run_id,
            thread_id=thread_id,
            fork=fork,
            from_second=seconds[0],
            to_second=seconds[1],
        )
    )


# --- the search index --------------------------------------------------------------------------

# SQLite only, and only where FTS5 has the trigram tokenizer (migration 0002); migration 0003
# added the queue of comments not indexed yet, exactly where the index exists.
SEARCH_INDEX = "comments_fts"
SEARCH_PENDING = "comments_fts_pending"


def has_search_index(connection: Connection) -> bool:
    return connection.dialect.name == "sqlite" and inspect(connection).has_table(SEARCH_INDEX)


def sync_search_index(engine: Engine) -> int:
    """Index the comments queued since the last sync (SQLite with search only; see migration
    0003: indexing in one statement costs a tenth of indexing row by row). Returns how many."""
    if engine.dialect.name != "sqlite":
        return 0

    def sync(connection: Connection) -> int:
        if not has_search_index(connection):
            return 0
        queued = connection.exec_driver_sql(f"SELECT count(*) FROM {SEARCH_PENDING}").scalar()
        if queued:
            connection.exec_driver_sql(
                f"INSERT INTO {SEARCH_INDEX}(rowid, content) SELECT c.id, c.content "
                f"FROM comments AS c JOIN {SEARCH_PENDING} AS p ON p.id = c.id"
            )
            connection.exec_driver_sql(f"DELETE FROM {SEARCH_PENDING}")
        return queued or 0

    return save_retrying(engine, sync)
