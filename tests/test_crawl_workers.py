"""`nico crawl --enqueue` and `nico worker` on PostgreSQL (procrastinate): two worker processes
share the queue and one request budget, and the collection ends exactly as the ground truth,
each video fetched once."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
import sqlalchemy

from nicocomments.records import Comment
from nicosandbox.collection import COLLECTION_TAG, COLLECTION_USER_ID, SMALL_TAG
from tests.helpers import sorted_truth
from tests.test_crawl import REFS, truth
from tests.test_postgres import COLUMNS

FAST = ("--interval", "0.002", "--backoff", "0")


def stored_pg(url: str) -> list[Comment]:
    engine = sqlalchemy.create_engine(url)
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(f"SELECT {COLUMNS} FROM comments").fetchall()
    engine.dispose()
    return sorted_truth([Comment(*row)._replace(source=None) for row in rows])


def query_pg(url: str, sql: str):
    engine = sqlalchemy.create_engine(url)
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(sql).fetchall()
    engine.dispose()
    return rows


def _worker(url: str):
    return subprocess.Popen(
        [sys.executable, "-m", "nicocomments", "worker", "--db", url, "--burst", *FAST],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ),
    )  # fmt: skip


@pytest.mark.postgres
def test_two_workers_crawl_a_collection_exactly_once(site, nico, pg_url):
    ref, listed = REFS["user"]
    result = nico("crawl", ref, "--all-history", "--enqueue", "--db", pg_url, *FAST)
    assert result.exit_code == 0, result.stderr
    videos = listed(site.world)
    assert f"{len(videos)} videos queued" in result.stdout
    again = nico("crawl", ref, "--all-history", "--enqueue", "--db", pg_url, *FAST)
    assert f"0 videos queued ({len(videos)} were queued already)" in again.stdout
    workers = [_worker(pg_url), _worker(pg_url)]
    outputs = [w.communicate(timeout=300) for w in workers]
    for w, (_, stderr) in zip(workers, outputs, strict=True):
        assert w.returncode == 0, stderr[-2000:]
    done = [int(re.search(r"(\d+) videos fetched", stdout).group(1)) for stdout, _ in outputs]
    assert sum(done) == len(videos)
    assert stored_pg(pg_url) == truth(site.world, videos)
    assert max(site.stats.watch.values()) == 1  # no video fetched twice, by either worker
    states = dict(query_pg(pg_url, "SELECT state, count(*) FROM collection_videos GROUP BY 1"))
    assert states == {"complete": len(videos)}
    # one budget: a single row for the account on the emulator's host, both workers on it
    budgets = query_pg(pg_url, "SELECT account, host FROM rate_budgets")
    assert len(budgets) == 1
    # the crawl is over: --since-last may follow
    (since,) = query_pg(pg_url, "SELECT since FROM collections")[0]
    assert since is not None


@pytest.mark.postgres
def test_in_process_workers_on_postgresql_share_the_budget_in_the_database(site, nico, pg_url):
    result = nico("crawl", f"tag/{COLLECTION_TAG}", "--all-history", "--workers", "3",
                  "--db", pg_url, *FAST)  # fmt: skip
    assert result.exit_code == 0, result.stderr
    world = site.world
    readable = [v for v in world.tags if not world.videos[v].deleted]
    assert stored_pg(pg_url) == truth(world, readable)
    assert len(query_pg(pg_url, "SELECT * FROM rate_budgets")) == 1


def test_the_queue_needs_postgresql(site, nico, tmp_path):
    result = nico("crawl", f"user/{COLLECTION_USER_ID}", "--enqueue", "--db", tmp_path / "c.db")
    assert result.exit_code == 2
    assert "PostgreSQL" in result.stderr
    result = nico("worker", "--db", tmp_path / "c.db", "--burst")
    assert result.exit_code == 2 and "PostgreSQL" in result.stderr


@pytest.mark.postgres
def test_an_all_history_crawl_is_queued_beside_one_without(site, nico, pg_url):
    """Jobs of a crawl without --all-history (the current windows) do not keep out those of one
    with it: both are queued, and the workers end with every video's whole history."""
    ref = f"tag/{SMALL_TAG}"
    world = site.world
    videos = [
        v for v, tags in world.tags.items() if SMALL_TAG in tags and not world.videos[v].deleted
    ]
    window = nico("crawl", ref, "--enqueue", "--db", pg_url, *FAST)
    assert f"{len(videos)} videos queued" in window.stdout, window.stderr
    whole = nico("crawl", ref, "--all-history", "--enqueue", "--db", pg_url, *FAST)
    assert f"{len(videos)} videos queued" in whole.stdout, whole.stderr
    again = nico("crawl", ref, "--all-history", "--enqueue", "--db", pg_url, *FAST)
    assert f"0 videos queued ({len(videos)} were queued already)" in again.stdout
    worker = _worker(pg_url)
    _, stderr = worker.communicate(timeout=300)
    assert worker.returncode == 0, stderr[-2000:]
    assert stored_pg(pg_url) == truth(world, videos)
    states = dict(query_pg(pg_url, "SELECT state, count(*) FROM collection_videos GROUP BY 1"))
    assert states == {"complete": len(videos)}
