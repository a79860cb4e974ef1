"""Several `nico fetch` processes writing one database at once (issue 8, item 5), SQLite and
PostgreSQL, over real HTTP against the emulator.

Left to chance, processes started together collide only some of the time, so every collision
here is lined up: the processes start with everything imported, and while they are released
the test holds a lock they all need (as a fourth writer would), letting go only once all of
them wait on it. They then meet at the same point every time: creating the schema, or storing
the same video's first page. The emulator answers pages unsorted (`shuffle_chats`), as a
server may: overlapping pages written in two orders are what deadlocks PostgreSQL.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import contextmanager

import pytest
import sqlalchemy

from nicocomments import store
from nicocomments.errors import DatabaseError
from nicocomments.records import Comment
from nicocomments.search import search_comments
from nicocomments.store.write import WRITE_ATTEMPTS
from nicosandbox import (
    BIG_VIDEO_ID,
    CHANNEL_VIDEO_ID,
    MEDIUM_VIDEO_ID,
    SHORT_VIDEO_ID,
    expected_comments,
)
from tests.helpers import sorted_truth, stored_comments
from tests.test_postgres import stored as stored_in_postgres

FAST = ("--interval", "0", "--backoff", "0")
# Imports everything, says so on stderr, waits for a line on stdin, then runs `nico` with the
# arguments given.
HELD_NICO = (
    "import sys; import alembic.command; from nicocomments.cli import main; "
    "print('ready', file=sys.stderr, flush=True); sys.stdin.readline(); "
    "sys.argv[0] = 'nico'; main()"
)
# PostgreSQL: what the test holds so that the processes queue behind it. The version table is
# the first thing a migration creates; the first page of a video writes its `videos` row.
CREATING_THE_SCHEMA = "CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)"
WRITING_VIDEOS = "LOCK TABLE videos IN SHARE ROW EXCLUSIVE MODE"
# What runs at once (the README's Reliability section is generated from these).
THREE_VIDEOS = (SHORT_VIDEO_ID, MEDIUM_VIDEO_ID, CHANNEL_VIDEO_ID)
ONE_VIDEO_TWICE = (BIG_VIDEO_ID, BIG_VIDEO_ID)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def new_db(request, tmp_path):
    """A database that does not exist yet (SQLite) or is empty (PostgreSQL)."""
    if request.param == "sqlite":
        return str(tmp_path / "new.db")
    return request.getfixturevalue("pg_url")


def fetch_together(db: str, videos: list[str], *, holding: str) -> list[tuple[int, str]]:
    """`nico fetch VIDEO --all-history` for each of ``videos``, released together while the
    test holds ``holding`` (PostgreSQL; SQLite: the write lock); (exit status, stderr) each."""
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", HELD_NICO, "fetch", video, "--all-history", "--db", db, *FAST],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for video in videos
    ]
    for process in processes:
        assert process.stderr.readline() == "ready\n"
    with lined_up(db, holding, len(processes)) as wait_for_all:
        for process in processes:
            process.stdin.write("go\n")
            process.stdin.flush()
        wait_for_all()
    results = []
    for process in processes:
        _, stderr = process.communicate(timeout=300)
        results.append((process.returncode, stderr))
    return results


@contextmanager
def lined_up(db: str, holding: str, count: int):
    """Hold a lock until ``count`` processes wait on it (PostgreSQL tells; SQLite cannot, so
    two seconds, several times what they need to get there)."""
    if "://" not in db:
        connection = sqlite3.connect(db, isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")  # what every nico does first
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield lambda: time.sleep(2)
        finally:
            connection.execute("ROLLBACK")
            connection.close()
        return
    engine = sqlalchemy.create_engine(db)
    with engine.connect() as connection:
        connection.exec_driver_sql(holding)

        def wait_for_all():
            with engine.connect() as watcher:
                for _ in range(600):
                    waiting = watcher.exec_driver_sql(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                        " AND wait_event_type = 'Lock'"
                    ).scalar()
                    watcher.rollback()  # a transaction sees one snapshot of the statistics
                    if waiting >= count:
                        return
                    time.sleep(0.1)
                rows = watcher.exec_driver_sql(
                    "SELECT state, wait_event_type, wait_event, query FROM pg_stat_activity"
                    " WHERE datname = current_database()"
                ).fetchall()
            raise AssertionError(f"{count} processes never queued behind {holding!r}: {rows}")

        yield wait_for_all
        connection.rollback()
    engine.dispose()


def stored(db: str, video_id: str):
    rows = stored_in_postgres(db, video_id) if "://" in db else stored_comments(db, video_id)
    return [c._replace(source=None) for c in rows]


def runs(db: str) -> list[tuple[str, str]]:
    engine = sqlalchemy.create_engine(store.database_url(db))
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT video_id, status FROM fetch_runs ORDER BY id"
        ).fetchall()
    engine.dispose()
    return sorted(tuple(row) for row in rows)


def assert_all_exact(db, videos, results, world):
    for video, (code, stderr) in zip(videos, results, strict=True):
        assert code == 0, f"{video}: exit {code}: {stderr[-2000:]}"
        assert "Error" not in stderr
    for video in set(videos):
        truth = sorted_truth(expected_comments(world, video, "nvcomment"))
        assert stored(db, video) == truth, video
    assert runs(db) == sorted((video, "completed") for video in videos)


def test_three_fetches_at_once_on_a_new_database(logged_in, new_db, world):
    logged_in.shuffle_chats = True
    videos = list(THREE_VIDEOS)
    results = fetch_together(new_db, videos, holding=CREATING_THE_SCHEMA)
    assert_all_exact(new_db, videos, results, world)


def test_one_video_fetched_twice_at_once(logged_in, nico, new_db, world):
    logged_in.shuffle_chats = True
    assert nico("db", "upgrade", "--db", new_db).exit_code == 0
    videos = list(ONE_VIDEO_TWICE)
    results = fetch_together(new_db, videos, holding=WRITING_VIDEOS)
    assert_all_exact(new_db, videos, results, world)


# --- what makes it work, one piece at a time ----------------------------------------------------


@pytest.mark.postgres
def test_a_deadlocked_transaction_is_run_again(pg_url):
    """Two transactions take two rows in opposite orders: PostgreSQL kills one, and
    `store.save_retrying` runs it again."""
    engine = store.open_db(pg_url)
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE pair (id int PRIMARY KEY, n int)")
        connection.exec_driver_sql("INSERT INTO pair VALUES (1, 0), (2, 0)")
    both_hold_one = threading.Barrier(2, timeout=30)
    attempts = {1: 0, 2: 0}

    def take(first: int, second: int) -> None:
        def work(connection):
            attempts[first] += 1
            connection.exec_driver_sql(f"UPDATE pair SET n = n + 1 WHERE id = {first}")
            if attempts[first] == 1:
                both_hold_one.wait()
            connection.exec_driver_sql(f"UPDATE pair SET n = n + 1 WHERE id = {second}")

        store.save_retrying(engine, work)

    threads = [threading.Thread(target=take, args=pair) for pair in ((1, 2), (2, 1))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    with engine.connect() as connection:
        counts = connection.exec_driver_sql("SELECT n FROM pair ORDER BY id").scalars().all()
    engine.dispose()
    assert counts == [2, 2]  # both transactions took effect, once each
    assert sorted(attempts.values()) == [1, 2]  # the deadlock's loser ran twice


def test_the_search_index_flush_waits_for_another_writer(tmp_path):
    """The flush at the end of every fetch reads (what is queued), then writes. With a deferred
    BEGIN, SQLite fails it at once when another process commits in between ("database is
    locked", whatever the busy timeout): a fetch that had stored everything exited 1."""
    path = tmp_path / "n.db"
    engine = store.open_db(str(path))
    with engine.begin() as connection:  # one comment waits to be indexed
        store.ensure_video(connection, "sm1", store.now_utc())
        comment = Comment("1", "main", 2, 0, 1577836800, "stored before", "")
        store.save_comments(connection, "sm1", None, [comment])
    other = subprocess.Popen(
        [sys.executable, "-c", OTHER_WRITER, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert other.stdout.readline() == "locked\n"
    try:
        indexed = store.sync_search_index(engine)  # starts while the other one writes
    finally:
        assert other.wait(timeout=30) == 0
    with engine.connect() as connection:
        queued = connection.exec_driver_sql(f"SELECT count(*) FROM {store.SEARCH_PENDING}")
        assert queued.scalar() == 0
        _, hits = search_comments(connection, "meanwhile")
    engine.dispose()
    assert indexed == 2  # it waited, then indexed its own and what the other one stored
    assert [hit.content for hit in hits] == ["written meanwhile"]


# Holds SQLite's write lock for a second, stores one comment, commits.
OTHER_WRITER = """
import sqlite3, sys, time
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(1)
connection.execute(
    "INSERT INTO comments (video_id, thread_id, fork, no, vpos_ms, posted_at, content, "
    "commands, is_premium, is_anonymous, is_deleted) "
    "VALUES ('sm1', '1', 'main', 1, 0, '2020-01-01 00:00:00', 'written meanwhile', '', 0, 0, 0)"
)
connection.execute("COMMIT")
"""


def test_a_database_locked_for_good_is_a_database_error_not_a_bug(tmp_path, monkeypatch):
    """Retries have a bound: then the error is exit 7 ("locked"), never exit 1."""
    path = tmp_path / "n.db"
    engine = store.open_db(str(path))
    engine.dispose()
    begun = []
    sqlalchemy.event.listen(
        engine, "connect", lambda dbapi, _: dbapi.execute("PRAGMA busy_timeout=0")
    )
    sqlalchemy.event.listen(
        engine, "before_cursor_execute", lambda _c, _cursor, sql, *_: begun.append(sql)
    )
    monkeypatch.setattr("nicocomments.store.write.WRITE_BACKOFF_S", 0)
    locker = sqlite3.connect(path, isolation_level=None)
    locker.execute("BEGIN IMMEDIATE")
    try:
        locked = f"the database {path}: database is locked (another program kept it busy"
        with pytest.raises(DatabaseError, match=re.escape(locked)):
            store.start_run(engine, video_id="sm9", protocol="legacy", mode="window")
    finally:
        locker.execute("ROLLBACK")
        locker.close()
        engine.dispose()
    assert begun == ["BEGIN IMMEDIATE"] * WRITE_ATTEMPTS  # tried again, then gave up
