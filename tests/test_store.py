"""Opening, migrating and writing databases (SQLite and PostgreSQL)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import inspect, select, text

from nicocomments import store
from nicocomments.errors import BadInput, DatabaseError, SchemaTooNew
from nicocomments.records import Comment, ThreadRef, ThreadStatus, VideoInfo
from nicocomments.schema import comments, fetch_runs, threads

TABLES = {"videos", "threads", "comments", "fetch_runs", "skipped_seconds", "alembic_version"}


def _video(engine, video_id="sm9"):
    refs = (ThreadRef("1173108780", "owner", "owner"), ThreadRef("1173108780", "main", "default"))
    with engine.begin() as connection:
        store.upsert_video(connection, VideoInfo(video_id, refs, duration_s=319), store.now_utc())
        store.upsert_threads(connection, video_id, refs)
    return refs


def test_upgrade_head_on_an_empty_database(db_target):
    engine = store.open_db(db_target)
    try:
        assert set(inspect(engine).get_table_names()) >= TABLES
        with engine.connect() as connection:
            assert store.current_revision(connection) == store.head_revision()
    finally:
        engine.dispose()


def test_models_and_migrations_never_drift(db_target):
    engine = store.open_db(db_target)
    config = store.alembic_config()
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.check(config)  # raises if autogenerate would change anything
    finally:
        engine.dispose()


def test_opening_again_changes_nothing(tmp_path):
    path = tmp_path / "n.db"
    store.open_db(str(path)).dispose()
    result = store.upgrade_db(store.create_db_engine(str(path)), str(path))
    assert result.from_revision == result.to_revision == store.head_revision()
    assert result.backup is None
    assert not list(tmp_path.glob("n.db.bak-*"))


def test_sqlite_is_in_wal_mode_with_a_busy_timeout(tmp_path):
    engine = store.open_db(str(tmp_path / "n.db"))
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()


def test_a_database_newer_than_the_code_is_refused(tmp_path):
    path = tmp_path / "n.db"
    store.open_db(str(path)).dispose()
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")
    before = path.read_bytes()
    with pytest.raises(SchemaTooNew, match="newer nicocomments"):
        store.open_db(str(path))
    assert path.read_bytes() == before


def test_someone_elses_database_is_refused(tmp_path):
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY)")
    with pytest.raises(DatabaseError, match="not a nicocomments database"):
        store.open_db(str(path))


def test_a_file_that_is_not_a_database(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello, this is not SQLite " * 100)
    with pytest.raises(DatabaseError, match="cannot use the database"):
        store.open_db(str(path))
    assert path.read_text().startswith("hello")


def test_a_missing_directory_is_bad_input(tmp_path):
    with pytest.raises(BadInput, match="not a directory"):
        store.open_db(str(tmp_path / "nowhere" / "n.db"))


def test_a_bad_url_is_bad_input():
    with pytest.raises(BadInput, match="cannot use the database URL"):
        store.open_db("nosuchdialect://x/y")


def test_urls_never_show_passwords():
    assert store.describe_target("postgresql://me:s3cret@db/nico") == "postgresql://me:***@db/nico"
    assert store.database_url("postgresql://me@db/nico").startswith("postgresql+psycopg://")


def test_saving_is_idempotent_and_counts_new_rows(db_target):
    engine = store.open_db(db_target)
    _video(engine)
    run_id = store.start_run(engine, video_id="sm9", protocol="legacy", mode="window")
    batch = [
        Comment(
            "1173108780", "main", 1, 1230, 1173108780, "うぽつ", "184", 123456, "u1", True, True
        ),
        Comment("1173108780", "main", 2, 0, 1173108790, "", is_deleted=True, deleted_reason=2),
        Comment("1173108780", "owner", 1, 0, 1173108780, "@ボタン", "ue red"),
    ]
    with engine.begin() as connection:
        assert store.save_comments(connection, "sm9", run_id, batch) == 3
        assert store.save_comments(connection, "sm9", run_id, batch + batch) == 0
    with engine.connect() as connection:
        rows = (
            connection.execute(select(comments).order_by(comments.c.fork, comments.c.no))
            .mappings()
            .all()
        )
    assert [(r["fork"], r["no"]) for r in rows] == [("main", 1), ("main", 2), ("owner", 1)]
    first = rows[0]
    assert first["posted_at"] == datetime(2007, 3, 5, 15, 33, tzinfo=UTC)
    assert (first["vpos_ms"], first["date_usec"], first["user_id"]) == (1230, 123456, "u1")
    assert first["is_premium"] is True and first["is_anonymous"] is True
    assert first["run_id"] == run_id and first["video_id"] == "sm9"
    assert rows[1]["is_deleted"] is True and rows[1]["deleted_reason"] == 2
    engine.dispose()


def test_sqlite_posted_at_gives_unix_seconds(tmp_path):
    engine = store.open_db(str(tmp_path / "n.db"))
    _video(engine)
    with engine.begin() as connection:
        store.save_comments(
            connection, "sm9", None, [Comment("1173108780", "main", 1, 0, 1173108780, "x")]
        )
        assert (
            connection.execute(text("SELECT strftime('%s', posted_at) FROM comments")).scalar()
            == "1173108780"
        )
    engine.dispose()


def test_server_counts_only_move_forward(db_target):
    engine = store.open_db(db_target)
    _video(engine)
    with engine.begin() as connection:
        store.save_thread_status(
            connection, ThreadStatus("1173108780", "main", last_res=500), store.now_utc()
        )
        store.save_thread_status(
            connection, ThreadStatus("1173108780", "main", last_res=400), store.now_utc()
        )
        store.save_thread_status(
            connection, ThreadStatus("1173108780", "main", resultcode=0), store.now_utc()
        )
        row = connection.execute(select(threads.c.last_res).where(threads.c.fork == "main")).one()
    assert row.last_res == 500
    engine.dispose()


def test_thread_counts_take_the_larger_of_reported_and_stored(db_target):
    engine = store.open_db(db_target)
    _video(engine)
    with engine.begin() as connection:
        # main: commentCount wins over last_res, and more than the 2 stored; owner: 3 stored,
        # nothing reported, then a smaller count reported.
        store.save_thread_status(
            connection,
            ThreadStatus("1173108780", "main", last_res=900, comment_count=700),
            store.now_utc(),
        )
        store.save_comments(
            connection,
            "sm9",
            None,
            [Comment("1173108780", "owner", no, 0, 1, "x") for no in (1, 2, 3)]
            + [Comment("1173108780", "main", no, 0, 1, "x") for no in (1, 2)],
        )
        counts = store.thread_counts(connection, "sm9")
        assert store.server_count(connection, "1173108780", "main") == 700
        assert store.server_count(connection, "1173108780", "owner") is None
        store.save_thread_status(
            connection, ThreadStatus("1173108780", "owner", last_res=1), store.now_utc()
        )
        assert store.thread_counts(connection, "sm9")[("1173108780", "owner")] == 3
    assert counts == {("1173108780", "main"): 700, ("1173108780", "owner"): 3}
    engine.dispose()


def test_a_new_run_marks_a_killed_one_interrupted(db_target):
    engine = store.open_db(db_target)
    first = store.start_run(engine, video_id="sm9", protocol="legacy", mode="window")
    second = store.start_run(engine, video_id="sm9", protocol="legacy", mode="window")
    with engine.connect() as connection:
        statuses = dict(connection.execute(select(fetch_runs.c.id, fetch_runs.c.status)).all())
    assert statuses == {first: "interrupted", second: "running"}
    engine.dispose()


def test_ctrl_c_inside_a_transaction_lands_after_the_commit(tmp_path):
    import os
    import signal

    engine = store.open_db(str(tmp_path / "n.db"))
    try:
        with pytest.raises(KeyboardInterrupt), store.transaction(engine) as connection:
            store.ensure_video(connection, "sm9", store.now_utc())
            os.kill(os.getpid(), signal.SIGINT)
            store.ensure_video(connection, "sm10", store.now_utc())
        with engine.connect() as connection:
            stored = connection.exec_driver_sql("SELECT video_id FROM videos ORDER BY 1").all()
        assert stored == [("sm10",), ("sm9",)]
    finally:
        engine.dispose()


def test_iter_comments_streams_records_with_real_booleans(db_target):
    engine = store.open_db(db_target)
    _video(engine)
    saved = [
        Comment("1173108780", "main", 1, 0, 1_300_000_000, "a", is_premium=True),
        Comment("1173108780", "main", 2, 10, 1_300_000_001, "", is_deleted=True),
        Comment("1173108780", "owner", 1, 0, 1_300_000_002, "b", is_anonymous=True),
    ]
    with engine.begin() as connection:
        store.save_comments(connection, "sm9", None, saved)
    with engine.connect() as connection:
        streamed = list(store.iter_comments(connection, "sm9", chunk=2))
    assert streamed == [saved[2], saved[0], saved[1]]  # owner first, then main by no
    flags = [(c.is_premium, c.is_anonymous, c.is_deleted) for c in streamed]
    assert all(type(flag) is bool for flag in sum(flags, ()))
    engine.dispose()


def test_summaries_give_the_oldest_and_newest_comment_as_utc_datetimes(db_target):
    engine = store.open_db(db_target)
    _video(engine)
    with engine.begin() as connection:
        store.save_comments(
            connection,
            "sm9",
            None,
            [Comment("1173108780", "main", no, 0, 1_300_000_000 + no, "a") for no in (1, 2, 3)],
        )
        summaries = {s.fork: s for s in store.thread_summaries(connection, "sm9")}
    main = summaries["main"]
    assert main.oldest == datetime(2011, 3, 13, 7, 6, 41, tzinfo=UTC)
    assert main.newest == datetime(2011, 3, 13, 7, 6, 43, tzinfo=UTC)
    assert main.oldest.tzinfo == main.newest.tzinfo == UTC
    assert summaries["owner"].oldest is None and summaries["owner"].newest is None
    engine.dispose()


def test_database_disposes_of_its_engine_however_the_block_ends(tmp_path, monkeypatch):
    from nicocomments.store import db

    engines = []
    real = db.open_db

    def spy(target, **options):
        engine = real(target, **options)
        engines.append(engine)
        dispose = engine.dispose
        monkeypatch.setattr(engine, "dispose", lambda: (dispose(), engines.append("disposed")))
        return engine

    monkeypatch.setattr(db, "open_db", spy)
    with store.database(str(tmp_path / "n.db")) as engine, engine.connect() as connection:
        assert store.current_revision(connection) == store.head_revision()
    with pytest.raises(KeyError), store.database(str(tmp_path / "n.db"), read_only=True):
        raise KeyError("boom")
    assert engines[1::2] == ["disposed", "disposed"]
