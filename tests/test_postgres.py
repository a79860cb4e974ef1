"""The main job into PostgreSQL: the same rows as SQLite, resumable, audited."""

from __future__ import annotations

import json

import pytest
import sqlalchemy

from nicocomments.records import Comment
from nicosandbox import BIG_VIDEO_ID, MEDIUM_VIDEO_ID, expected_comments
from tests.helpers import sorted_truth

pytestmark = pytest.mark.postgres

COLUMNS = (
    "thread_id, fork, no, vpos_ms, CAST(EXTRACT(EPOCH FROM posted_at) AS BIGINT), content, "
    "commands, date_usec, user_id, is_premium, is_anonymous, is_deleted, deleted_reason, score, "
    "nicoru_count, comment_id, source"
)


def stored(url: str, video_id: str) -> list[Comment]:
    engine = sqlalchemy.create_engine(url)
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(
            f"SELECT {COLUMNS} FROM comments WHERE video_id = %s", (video_id,)
        ).fetchall()
    engine.dispose()
    return sorted_truth([Comment(*row) for row in rows])


@pytest.mark.parametrize("protocol", ["legacy", "nvcomment"])
def test_a_whole_history_into_postgresql(logged_in, nico, pg_url, world, protocol):
    args = ("--db", pg_url, "--interval", "0", "--protocol", protocol)
    result = nico("fetch", MEDIUM_VIDEO_ID, "--all-history", *args)
    assert result.exit_code == 0, result.stderr
    truth = sorted_truth(expected_comments(world, MEDIUM_VIDEO_ID, protocol))
    rows = stored(pg_url, MEDIUM_VIDEO_ID)
    if protocol == "nvcomment":
        rows = [c._replace(source=None) for c in rows]
    assert rows == truth
    # Idempotent, and the audit works there too.
    assert nico("fetch", MEDIUM_VIDEO_ID, "--all-history", *args).exit_code == 0
    assert len(stored(pg_url, MEDIUM_VIDEO_ID)) == len(truth)
    status = nico("status", MEDIUM_VIDEO_ID, "--db", pg_url, "--json")
    assert status.exit_code == 0
    main = next(r for r in json.loads(status.stdout) if r["fork"] == "main")
    assert main["history_complete"] is True and len(main["runs"]) == 1
    found = nico("search", "うぽつ", "--db", pg_url)
    assert found.exit_code == 0


def test_password_in_a_database_url_never_shows(nico, pg_url):
    # A wrong password on a trusting server still connects; the URL must not be echoed anyway.
    url = pg_url.replace("postgres@", "postgres:s3cret-pw@")
    result = nico("status", BIG_VIDEO_ID, "--db", url)
    assert "s3cret-pw" not in result.stdout + result.stderr
