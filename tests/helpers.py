"""Small helpers shared by the end-to-end tests."""

from __future__ import annotations

import math
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nicocomments.records import Comment

STORED_COLUMNS = (
    "thread_id, fork, no, vpos_ms, CAST(strftime('%s', posted_at) AS INTEGER), content, commands, "
    "date_usec, user_id, is_premium, is_anonymous, is_deleted, deleted_reason, score, "
    "nicoru_count, comment_id, source, message_id, is_overflowed, name"
)
BOOLEAN_FIELDS = ("is_premium", "is_anonymous", "is_deleted")


def stored_comments(db: Path, video_id: str | None = None) -> list[Comment]:
    """Every stored comment of a video as a `Comment`, sorted like `sorted_truth`."""
    with sqlite3.connect(db) as connection:
        query = f"SELECT {STORED_COLUMNS} FROM comments"
        rows = connection.execute(
            query + (" WHERE video_id = ?" if video_id else ""), (video_id,) if video_id else ()
        ).fetchall()
    comments = []
    for row in rows:
        comment = Comment(*row)
        booleans = {f: bool(getattr(comment, f)) for f in BOOLEAN_FIELDS}
        if comment.is_overflowed is not None:  # live only: NULL for a video's comments
            booleans["is_overflowed"] = bool(comment.is_overflowed)
        comments.append(comment._replace(**booleans))
    return sorted(comments, key=_key)


def sorted_truth(comments: list[Comment]) -> list[Comment]:
    return sorted(comments, key=_key)


def _key(comment: Comment):
    return (comment.thread_id, comment.fork, comment.no)


def budget(n: int) -> int:
    """The request budget per thread of n comments (issue #2): ⌈1.05·n/1000⌉ + 2."""
    return math.ceil(1.05 * n / 1000) + 2


def query(db: Path, sql: str, *params):
    with sqlite3.connect(db) as connection:
        return connection.execute(sql, params).fetchall()


def database_at_revision(path: Path, revision: str) -> None:
    """A new SQLite database at an older schema revision, as an older nicocomments left it."""
    from alembic import command

    from nicocomments import store

    engine = store.create_db_engine(str(path))
    config = store.alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    engine.dispose()


# --- kill -9 and resume ------------------------------------------------------------------------


def start_fetch(db: Path, *args: str) -> subprocess.Popen:
    """``nico fetch … --all-history --db DB`` in a subprocess, stderr kept for failures."""
    return subprocess.Popen(
        [sys.executable, "-m", "nicocomments", "fetch", *args, "--all-history", "--db", str(db),
         "--backoff", "0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=dict(os.environ),
    )  # fmt: skip


def pages_stored(db: Path) -> int:
    """Pages (answers) the database's runs have committed so far."""
    try:
        return query(db, "SELECT coalesce(sum(pages), 0) FROM fetch_runs")[0][0]
    except Exception:  # not created yet, or locked for a moment
        return 0


def kill_again_and_again(
    db: Path, args: tuple[str, ...], *, kills: int, rng: random.Random, most_pages: int
) -> subprocess.Popen:
    """Start the fetch and `kill -9` it ``kills`` times, each after 1 to ``most_pages`` more
    committed pages and a random moment inside the next one; then start it once more and
    return that last process."""
    for done in range(kills):
        process = start_fetch(db, *args)
        target = pages_stored(db) + rng.randint(1, most_pages)
        deadline = time.monotonic() + 60
        while pages_stored(db) < target and process.poll() is None and time.monotonic() < deadline:
            time.sleep(rng.uniform(0.001, 0.02))
        if process.poll() is not None:  # it finished before its kill: the walk is too short
            pytest.fail(f"the fetch ended after {done} kills: {process.stderr.read()[-500:]}")
        time.sleep(rng.uniform(0, 0.05))  # anywhere in a page, not only just after one
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        process.stderr.close()
    return start_fetch(db, *args)


def dataset_comments(directory: Path, video_id: str | None = None) -> list[tuple[str, Comment]]:
    """Every comment of a Parquet dataset (nico export --partitioned, nico import --to) as
    (video id, `Comment`), read back by DuckDB on its own, sorted like `sorted_truth`."""
    import duckdb

    columns = ", ".join(
        "CAST(epoch(posted_at) AS BIGINT)" if f == "posted_at" else f'"{f}"'
        for f in Comment._fields
    )
    where = "WHERE video_id = ?" if video_id else ""
    rows = (
        duckdb.connect()
        .execute(
            f"SELECT video_id, {columns} FROM read_parquet(?, hive_partitioning = true) {where}",
            [str(directory / "*=*" / "*.parquet"), *([video_id] if video_id else [])],
        )
        .fetchall()
    )
    return sorted(((r[0], Comment(*r[1:])) for r in rows), key=lambda p: (p[0], *_key(p[1])))
