"""`nico search` and the full-text index of migration 0002."""

from __future__ import annotations

import sqlite3

import pytest

from nicocomments import search, store
from nicocomments.records import Comment
from tests.helpers import database_at_revision, query


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("キター", [12, 13, 14, 16]),  # three characters or more: the FTS index (SQLite)
        ("うぽ", [1, 2]),  # shorter: LIKE
        ("8888", [4, 5, 6, 7, 8, 9]),
        ("草", [11, 18]),
        ("ｗｗｗ", [15]),
        ("WWWW", [3]),  # ASCII in either case
        ("nothing like it", []),
        ("100%", []),
    ],
)
def test_search_finds_substrings(analysis_db, text, expected):
    with analysis_db.connect() as connection:
        total, hits = search.search_comments(connection, text, video_id="sm1")
    assert sorted(h.no for h in hits if h.fork == "main") == expected
    assert total == len(hits)


def test_search_limits_and_counts(analysis_db):
    with analysis_db.connect() as connection:
        total, hits = search.search_comments(connection, "8888", limit=2)
    assert total == 6 and [h.no for h in hits] == [4, 5]


def test_the_index_follows_inserts_and_deletes(tmp_path):
    engine = store.open_db(str(tmp_path / "n.db"))
    try:
        with engine.begin() as connection:
            assert store.has_search_index(connection)
            store.ensure_video(connection, "sm2", store.now_utc())
            store.save_comments(
                connection, "sm2", None, [Comment("2", "main", 1, 0, 1, "ねこねこ")]
            )
        with engine.connect() as connection:
            assert search.search_comments(connection, "こねこ")[0] == 1
        with engine.begin() as connection:
            connection.exec_driver_sql("DELETE FROM comments")
        with engine.connect() as connection:
            assert search.search_comments(connection, "こねこ")[0] == 0
    finally:
        engine.dispose()


def test_a_revision_0001_database_is_backed_up_upgraded_and_searchable(tmp_path):
    path = tmp_path / "old.db"
    database_at_revision(path, "0001")
    with sqlite3.connect(path) as connection:
        connection.execute(
            "INSERT INTO videos VALUES ('sm3', NULL, NULL, NULL, '2020-01-01 00:00:00', "
            "'2020-01-01 00:00:00')"
        )
        for no, text in enumerate(["弾幕薄いよ", "なにやってんの", "うぽつ"], 1):
            connection.execute(
                "INSERT INTO comments (video_id, thread_id, fork, no, vpos_ms, posted_at, content, "
                "commands, is_premium, is_anonymous, is_deleted) "
                "VALUES ('sm3', '3', 'main', ?, 0, '2020-01-01 00:00:00', ?, '', 0, 0, 0)",
                (no, text),
            )
    engine = store.open_db(str(path))
    try:
        with engine.connect() as connection:
            assert store.current_revision(connection) == store.head_revision()
            total, [hit] = search.search_comments(connection, "薄いよ")
        assert total == 1 and hit.no == 1
    finally:
        engine.dispose()
    [backup] = list(tmp_path.glob("old.db.bak-0001-*"))
    assert query(backup, "SELECT count(*) FROM comments") == [(3,)]
    assert query(backup, "SELECT version_num FROM alembic_version") == [("0001",)]


def _fts_rows(connection, phrase):
    return connection.exec_driver_sql(
        "SELECT rowid FROM comments_fts WHERE comments_fts MATCH ?", (f'"{phrase}"',)
    ).fetchall()


def test_new_comments_wait_in_a_queue_until_synced(tmp_path):
    engine = store.open_db(str(tmp_path / "n.db"))
    try:
        with engine.begin() as connection:
            store.ensure_video(connection, "sm2", store.now_utc())
            store.save_comments(
                connection,
                "sm2",
                None,
                [Comment("2", "main", n, 0, 1, f"ねこねこ{n}") for n in range(1, 6)],
            )
        with engine.connect() as connection:
            pending = connection.exec_driver_sql("SELECT count(*) FROM comments_fts_pending")
            assert pending.scalar() == 5
            assert _fts_rows(connection, "こねこ") == []  # not indexed yet …
            assert search.search_comments(connection, "こねこ")[0] == 5  # … and still found
        assert store.sync_search_index(engine) == 5
        assert store.sync_search_index(engine) == 0
        with engine.begin() as connection:
            assert len(_fts_rows(connection, "こねこ")) == 5
            # Changing or deleting indexed and queued rows keeps the index exact.
            connection.exec_driver_sql("UPDATE comments SET content = 'いぬいぬ' WHERE no = 1")
            connection.exec_driver_sql("DELETE FROM comments WHERE no = 2")
            store.save_comments(connection, "sm2", None, [Comment("2", "main", 9, 0, 1, "ねこ9")])
            connection.exec_driver_sql("DELETE FROM comments WHERE no = 9")
        assert store.sync_search_index(engine) == 1  # the changed row, queued again
        with engine.connect() as connection:
            assert len(_fts_rows(connection, "こねこ")) == 3
            assert len(_fts_rows(connection, "いぬい")) == 1
            connection.exec_driver_sql(
                "INSERT INTO comments_fts(comments_fts, rank) VALUES ('integrity-check', 1)"
            )
    finally:
        engine.dispose()


def test_a_fetch_leaves_the_index_synced(logged_in, nico, tmp_path):
    db = tmp_path / "n.db"
    assert nico("fetch", "sm500000", "--all-history", "--db", db, "--interval", "0").exit_code == 0
    assert query(db, "SELECT count(*) FROM comments_fts_pending") == [(0,)]
    result = nico("search", "うぽつ", "--db", db)
    assert result.exit_code == 0
