"""`nico search` and the full-text index of migration 0002."""

from __future__ import annotations

import sqlite3

import pytest
from alembic import command

from nicocomments import search, store
from nicocomments.records import Comment
from tests.helpers import query


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
            assert search.has_fts(connection)
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
    engine = store.create_db_engine(str(path))
    config = store._alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
    engine.dispose()
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
