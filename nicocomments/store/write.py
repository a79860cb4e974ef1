"""Writing: videos, threads, comments, run records and the search index.

Writing videos, threads, comments and walk state is idempotent: the same page saved twice is
stored once (`save_comments` stores a comment once and, for fetches, brings a stored one to the
state the server reports, recording a change only when there is one; `upsert_*` overwrite,
`ensure_*` add what is missing, counts only move forward); `save_skipped` adds a row each time,
as the run records of `store.runs` do.

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
from nicocomments.schema import comments, skipped_seconds, threads, videos
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


def insert_comments_sql(dialect: str, conflict: str = "(thread_id, fork, no)") -> str:
    """The INSERT of `save_comments`: ``posted_at`` converted from Unix seconds by the
    database; a row whose key is stored already (``conflict``: the conflict target, or "" for
    any unique key) is left out."""
    columns = _INSERT_COLUMNS
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
    connection: Connection,
    video_id: str,
    run_id: int | None,
    batch: Sequence[Comment],
    *,
    observe: bool = False,
) -> int:
    """Insert comments not stored yet; return how many were new.

    With ``observe`` (fetches, which always have their run: not imports), a comment stored
    before whose nicoru count, score or deletion the server now reports differently is updated
    to that state, and the change is recorded in ``comment_observations`` (`_observe_page`).

    The one hot path of the program: one prepared statement, executemany over plain tuples,
    timestamps converted by the database itself (observing adds two one-row queries, and the
    set-based comparison only for a page where something changed)."""
    if not batch:
        return 0
    dialect = connection.dialect.name
    if dialect == "postgresql":
        # Row locks taken in key order: two writers storing overlapping pages (servers need
        # not sort them) wait for each other instead of deadlocking.
        batch = sorted(batch, key=_COMMENT_KEY)
    prefix = (video_id, run_id)
    rows = [prefix + comment for comment in batch]
    if not observe:
        # Any unique key: a live comment (from a file) is also known by its message id.
        result = connection.exec_driver_sql(insert_comments_sql(dialect, conflict=""), rows)
        return max(result.rowcount, 0)
    # The cheap first look: the plain insert, where a stored comment in another state counts
    # as a (no-op) update. Only a page that has some goes the set-based way below.
    newest = connection.exec_driver_sql(_NEWEST_ID).scalar() or 0
    touched = max(connection.exec_driver_sql(_UPSERT_SQL[dialect], rows).rowcount, 0)
    added = connection.exec_driver_sql(_ADDED_SQL[dialect], (newest, run_id)).scalar() or 0
    if touched > added:
        _observe_page(connection, run_id, rows)
    return added


# --- change tracking ---------------------------------------------------------------------------
# A page the upsert of `save_comments` found stored comments in another state in is copied
# into a temporary table (one executemany, no index) and compared with the stored rows in one
# join on the comments' key: everything set-based, in SQL. An unchanged re-crawl costs the
# upsert and two one-row queries, and writes nothing else.
PAGE_TABLE = "nico_page_comments"
_KEY_JOIN = "c.thread_id = p.thread_id AND c.fork = p.fork AND c.no = p.no"
# A deleted chat carries no counts (legacy leaves them out): the last known ones stay. Legacy
# also leaves out a zero score or nicoru count, so a missing one reads as 0.
_NEW_NICORU = "CASE WHEN p.is_deleted THEN c.nicoru_count ELSE p.nicoru_count END"
_NEW_SCORE = "CASE WHEN p.is_deleted THEN c.score ELSE p.score END"
_DIFFERS = (
    "(p.is_deleted <> c.is_deleted OR (NOT p.is_deleted AND ("
    "COALESCE(p.nicoru_count, 0) <> COALESCE(c.nicoru_count, 0) "
    "OR COALESCE(p.score, 0) <> COALESCE(c.score, 0))))"
)
_NEWEST_ID = "SELECT max(id) FROM comments"
_ADDED_SQL = {
    "sqlite": "SELECT count(*) FROM comments WHERE id > ? AND run_id = ?",
    "postgresql": "SELECT count(*) FROM comments WHERE id > %s AND run_id = %s",
}
_OBSERVATION_COLUMNS = "comment_row_id, run_id, nicoru_count, score, is_deleted, seen_at"


def _page_sql(dialect: str) -> dict[str, str]:
    if dialect == "sqlite":
        mark, timestamp, table = "?", "datetime(?, 'unixepoch')", f"temp.{PAGE_TABLE}"
    else:
        mark, timestamp, table = "%s", "to_timestamp(%s)", PAGE_TABLE
    create, param = f"CREATE TEMP TABLE IF NOT EXISTS {PAGE_TABLE}", mark
    columns = ", ".join(_INSERT_COLUMNS)
    values = ", ".join(timestamp if c == "posted_at" else mark for c in _INSERT_COLUMNS)
    # The comments table's own column types (posted_at as the database converts it).
    compiler = (sqlite if dialect == "sqlite" else postgresql).dialect()
    types = {c: comments.c[c].type.compile(dialect=compiler) for c in _INSERT_COLUMNS}
    types["posted_at"] = "TEXT" if dialect == "sqlite" else "TIMESTAMPTZ"
    typed = ", ".join(f"{c} {types[c]}" for c in _INSERT_COLUMNS)
    joined = f"FROM {table} AS p JOIN comments AS c ON {_KEY_JOIN} WHERE {_DIFFERS}"
    return {
        "create": f"{create} ({typed})",
        "fill": f"INSERT INTO {table} ({columns}) VALUES ({values})",
        "changed": f"SELECT count(*) {joined}",
        # The state a comment changed from, the first time it changes: what the run that first
        # stored it saw.
        "baseline": f"INSERT INTO comment_observations ({_OBSERVATION_COLUMNS}) "
        f"SELECT c.id, c.run_id, c.nicoru_count, c.score, c.is_deleted, "
        f"COALESCE(r.started_at, {param}) FROM {table} AS p "
        f"JOIN comments AS c ON {_KEY_JOIN} LEFT JOIN fetch_runs AS r ON r.id = c.run_id "
        f"WHERE {_DIFFERS} AND NOT EXISTS "
        "(SELECT 1 FROM comment_observations AS o WHERE o.comment_row_id = c.id)",
        "observe": f"INSERT INTO comment_observations ({_OBSERVATION_COLUMNS}) "
        f"SELECT c.id, {param}, {_NEW_NICORU}, {_NEW_SCORE}, p.is_deleted, {param} {joined}",
        "update": "UPDATE comments SET "
        "nicoru_count = CASE WHEN p.is_deleted THEN comments.nicoru_count "
        "ELSE p.nicoru_count END, "
        "score = CASE WHEN p.is_deleted THEN comments.score ELSE p.score END, "
        "is_deleted = p.is_deleted, "
        "deleted_reason = CASE WHEN p.is_deleted THEN p.deleted_reason END "
        f"FROM {table} AS p WHERE comments.thread_id = p.thread_id "
        "AND comments.fork = p.fork AND comments.no = p.no AND "
        + _DIFFERS.replace("c.", "comments."),
        "clear": f"DELETE FROM {table}",
    }


_PAGE_SQL = {dialect: _page_sql(dialect) for dialect in ("sqlite", "postgresql")}
# The plain insert, with a stored comment in another state counted as touched (its row is
# rewritten unchanged: `_observe_page` then records and applies the change).
_UPSERT_SQL = {
    dialect: insert_comments_sql(dialect).replace(
        "DO NOTHING",
        "DO UPDATE SET run_id = comments.run_id WHERE "
        + _DIFFERS.replace("p.", "excluded.").replace("c.", "comments."),
    )
    for dialect in ("sqlite", "postgresql")
}


def _observe_page(connection: Connection, run_id: int, rows: list[tuple]) -> int:
    """Compare ``rows`` (values of `_INSERT_COLUMNS`) with the stored comments of the same
    keys: record in ``comment_observations`` what ``run_id`` saw differ (after the state it
    changed from, the first time), and bring those comments to it. Returns how many differed."""
    sql = _PAGE_SQL[connection.dialect.name]
    connection.exec_driver_sql(sql["create"])
    connection.exec_driver_sql(sql["fill"], rows)
    try:
        changed = connection.exec_driver_sql(sql["changed"]).scalar() or 0
        if changed:
            seen_at = _timestamp(connection, now_utc())
            connection.exec_driver_sql(sql["baseline"], (seen_at,))
            connection.exec_driver_sql(sql["observe"], (run_id, seen_at))
            connection.exec_driver_sql(sql["update"])
    finally:
        connection.exec_driver_sql(sql["clear"])
    return changed


def _timestamp(connection: Connection, moment: datetime):
    """A timestamp as the driver binds it into the columns of `UTCDateTime`."""
    if connection.dialect.name == "sqlite":
        return moment.strftime("%Y-%m-%d %H:%M:%S")
    return moment


def save_unserved(
    connection: Connection, run_id: int, thread_id: str, fork: str, nos: Sequence[int]
) -> int:
    """Mark stored comments a complete pass of ``run_id`` no longer found as deleted ("no
    longer served": today's servers leave deleted comments out) and record the change. Returns
    how many changed (comments already marked deleted are left as they are)."""
    if not nos:
        return 0
    rows = [(None, run_id, *Comment(thread_id, fork, no, 0, 0, "", is_deleted=True)) for no in nos]
    return _observe_page(connection, run_id, rows)


def save_voltage_zone(connection: Connection, video_id: str, raw: str) -> None:
    """Keep the answer's ``voltageZone`` (raw JSON) on the video: the latest one sent."""
    connection.execute(update(videos).where(videos.c.video_id == video_id).values(voltage_zone=raw))


def set_history(connection: Connection, thread_id: str, fork: str, **values) -> None:
    """Update a thread's walk state: history_when, history_complete, history_end, catchup_*."""
    key = (threads.c.thread_id == thread_id) & (threads.c.fork == fork)
    connection.execute(update(threads).where(key).values(values))


def forget_history(connection: Connection, thread_id: str, fork: str) -> None:
    """Forget a thread's walks (``--refresh``): the next one starts from now, all over."""
    set_history(
        connection,
        thread_id,
        fork,
        history_when=None,
        history_complete=False,
        history_end=None,
        catchup_when=None,
        catchup_stop_no=None,
    )


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
