"""`nico crawl` end to end over loopback against the emulator's collection world: every REF
kind (a channel's list pages too) stores exactly the ground truth; deleted and private videos
are recorded and skipped; killed with SIGKILL and resumed it ends exact, fetching nothing
complete twice; `--since-last` on the world "later" asks only for the changed videos;
`--dry-run` estimates before any comment request; a dead session stops the crawl with exit 3."""

from __future__ import annotations

import math
import os
import random
import signal
import subprocess
import sys
import threading
import time

import pytest

from nicocomments.http import HostPacer
from nicosandbox import DEMO_EMAIL, DEMO_PASSWORD, FAULT_KINDS, expected_comments
from nicosandbox.collection import (
    CHANNEL_MEMBERS_ONLY,
    COLLECTION_CHANNEL_ID,
    COLLECTION_CHANNEL_SLUG,
    COLLECTION_MYLIST_ID,
    COLLECTION_SERIES_ID,
    COLLECTION_TAG,
    COLLECTION_USER_ID,
    DELETED,
    PRIVATE,
    SMALL_TAG,
    channel_video_id_at,
    video_id_at,
)
from nicosandbox.seed import build_collection_world
from tests.helpers import query, sorted_truth, stored_comments
from tests.reliability import FAULT_OPTIONS, KILL_SEED

FAST = ("--interval", "0", "--backoff", "0")
BASE_WORLD = build_collection_world()  # the same world as the `site` fixture's (seed 0)


def readable(world, video_ids):
    """The videos a crawl can read: not deleted, not for channel members only."""
    return [v for v in video_ids if not world.videos[v].deleted and not world.videos[v].access]


def truth(world, video_ids):
    out = []
    for video_id in readable(world, video_ids):
        out += expected_comments(world, video_id, "nvcomment")
    return sorted_truth([c._replace(source=None) for c in out])


def stored(db):
    return [c._replace(source=None) for c in stored_comments(db)]


def uploads(world):
    return [v.video_id for v in world.uploads(COLLECTION_USER_ID)]


REFS = {
    "user": (f"user/{COLLECTION_USER_ID}", lambda w: readable(w, uploads(w))),
    "mylist": (
        f"https://www.nicovideo.jp/user/{COLLECTION_USER_ID}/mylist/{COLLECTION_MYLIST_ID}",
        lambda w: list(w.mylists[COLLECTION_MYLIST_ID].video_ids),
    ),
    "series": (
        f"https://www.nicovideo.jp/series/{COLLECTION_SERIES_ID}",
        lambda w: list(w.series[COLLECTION_SERIES_ID].video_ids),
    ),
    "tag": (f"tag/{COLLECTION_TAG}", lambda w: readable(w, w.tags)),
    "search": ("search/nicocrawl 検証動画", lambda w: readable(w, w.tags)),
}
CHANNEL = f"channel/{COLLECTION_CHANNEL_SLUG}"


def channel_videos(world):
    """A channel's listing: its free list, then its paid one."""
    channel = world.channels[COLLECTION_CHANNEL_SLUG]
    return [*channel.video_ids, *channel.pay_video_ids]


@pytest.mark.parametrize("kind", list(REFS))
def test_a_crawl_of_each_kind_stores_every_comment_exactly(site, nico, tmp_path, kind):
    ref, listed = REFS[kind]
    db = tmp_path / "c.db"
    if kind == "search":
        site.snapshot_offset_cap = 60  # far below the collection: time windows
    result = nico("crawl", ref, "--all-history", "--db", db, *FAST)
    assert result.exit_code == 0, result.stderr
    world = site.world
    videos = listed(world)
    assert len(videos) >= 200
    assert stored(db) == truth(world, videos)
    states = dict(query(db, "SELECT state, count(*) FROM collection_videos GROUP BY state"))
    gone = [v for v in videos if world.videos[v].deleted]
    assert states == {
        "complete": len(videos) - len(gone),
        **({"failed": len(gone)} if gone else {}),
    }
    if gone:  # the mylist and the series show deleted and private videos
        reasons = dict(query(db, "SELECT video_id, reason FROM collection_videos "
                                 "WHERE state = 'failed'"))  # fmt: skip
        assert sorted(reasons) == sorted(gone)
        assert all(reasons.values())
        assert "cannot be read" in result.stdout
    # One watch request a readable video; a thread ⌈n/1000⌉ pages and one to see the end
    # (three more when its comment no 1 is deleted: the walk cannot see it, and steps back
    # until the page is empty).
    assert set(site.stats.watch) <= set(videos)
    assert max(site.stats.watch.values()) == 1
    for video_id in readable(world, videos):
        for key in world.videos[video_id].threads:
            table = world.threads[key].comments
            budget = max(1, math.ceil(len(table) / 1000)) + 1 + 3 * bool(table.deleted[0])
            assert site.stats.v1_requests(*key) <= budget, key


def test_from_a_file_and_from_sql(site, nico, tmp_path):
    db = tmp_path / "c.db"
    ids = [video_id_at(i) for i in range(0, 40)]
    listing = tmp_path / "ids.txt"
    listing.write_text(
        "# some videos\n" + "\n".join(f"https://www.nicovideo.jp/watch/{v}" for v in ids[:20]),
        encoding="utf-8",
    )
    result = nico("crawl", "--from-file", listing, "--all-history", "--db", db, *FAST)
    assert result.exit_code == 0, result.stderr
    assert stored(db) == truth(site.world, ids[:20])
    # --dry-run stores the listing: a query on the database itself picks from it
    result = nico("crawl", f"mylist/{COLLECTION_MYLIST_ID}", "--dry-run", "--db", db, *FAST)
    assert result.exit_code == 0, result.stderr
    sql = ("SELECT video_id FROM collection_videos WHERE collection_id = "
           f"(SELECT id FROM collections WHERE name = 'mylist/{COLLECTION_MYLIST_ID}') "
           "AND position < 40")  # fmt: skip
    result = nico("crawl", "--sql", sql, "--all-history", "--db", db, *FAST)
    assert result.exit_code == 0, result.stderr
    assert stored(db) == truth(site.world, ids)
    bad = nico("crawl", "--sql", "SELECT nothing FROM nowhere", "--db", db)
    assert bad.exit_code == 2 and bad.stderr.startswith("Error: --sql")


@pytest.mark.parametrize(
    "ref", [CHANNEL, f"https://ch.nicovideo.jp/{COLLECTION_CHANNEL_ID}/video?ref=pc"]
)
def test_a_crawl_of_a_channel_stores_every_comment_exactly(site, nico, tmp_path, ref):
    """Listed from its pages (free, then paid), every video fetched: the key-protected channel
    threads and the ordinary ones; the paid video for members only fails with its reason."""
    db = tmp_path / "c.db"
    result = nico("crawl", ref, "--all-history", "--db", db, *FAST)
    assert result.exit_code == 0, result.stderr
    world = site.world
    videos = channel_videos(world)
    assert len(videos) == 52
    assert stored(db) == truth(world, videos)
    listed = query(db, "SELECT video_id, state, comment_count FROM collection_videos "
                       "ORDER BY position")  # fmt: skip
    members_only = channel_video_id_at(CHANNEL_MEMBERS_ONLY)
    assert listed == [
        (v, "failed" if v == members_only else "complete", None) for v in videos
    ]  # in the listing's order, no counts invented
    assert f"{members_only}: {members_only} is for channel members only" in result.stdout
    assert site.stats.requests["channel"] == 4 + 2  # 47 free: 3 pages and an empty one; 5 paid
    assert max(site.stats.watch.values()) == 1 and set(site.stats.watch) == set(videos)
    for video_id in readable(world, videos):
        for key in world.videos[video_id].threads:
            table = world.threads[key].comments
            budget = max(1, math.ceil(len(table) / 1000)) + 1 + 3 * bool(table.deleted[0])
            assert site.stats.v1_requests(*key) <= budget, key
    again = nico("crawl", ref, "--all-history", "--db", db, *FAST)
    assert again.exit_code == 0 and "0 videos fetched" in again.stdout
    assert site.stats.requests["channel"] == 6  # the stored listing is not read again
    import json

    status = nico("status", "--collections", "--json", "--db", db)
    (report,) = json.loads(status.stdout)
    assert report["comments_listed"] is None  # not 0: the listing counted nothing
    assert report["comments_stored"] == len(truth(world, videos))
    (row,) = [line for line in nico("status", "--collections", "--db", db).stdout.splitlines()
              if line.startswith("│ channel/")]  # fmt: skip
    assert row.split("│")[-3].strip() == "unknown"  # the listed count, before the last crawl


def test_a_missing_channel_is_not_found_exit_4(site, nico, tmp_path):
    result = nico("crawl", "channel/no-such-channel", "--db", tmp_path / "c.db", *FAST)
    assert result.exit_code == 4
    assert result.stderr.strip().splitlines()[-1] == (
        "Error: channel/no-such-channel: no such channel (ch.nicovideo.jp answered HTTP 404)"
    )
    assert not site.stats.watch


def test_dry_run_of_a_channel_says_its_counts_are_unknown(site, nico, tmp_path):
    db = tmp_path / "c.db"
    result = nico("crawl", CHANNEL, "--dry-run", "--all-history", "--interval", "1", "--db", db)
    assert result.exit_code == 0, result.stderr
    videos = channel_videos(site.world)
    # nothing known but the ids: one watch request and at least one comment page a video
    assert f"{len(videos)} of {len(videos)} listed videos to fetch: about {2 * len(videos)} " \
        "requests" in result.stdout  # fmt: skip
    assert f"{len(videos)} of these videos have no listed comment count" in result.stdout
    assert result.stdout.count("unknown") == len(videos)
    assert not site.stats.watch and not site.stats.v1_threads


def test_dry_run_estimates_before_any_comment_request(site, nico, tmp_path):
    db = tmp_path / "c.db"
    result = nico("crawl", f"series/{COLLECTION_SERIES_ID}", "--dry-run", "--all-history",
                  "--interval", "1.5", "--db", db)  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "unknown" not in result.stdout and "no listed comment count" not in result.stdout
    world = site.world
    videos = list(world.series[COLLECTION_SERIES_ID].video_ids)
    pages = sum(1 + max(1, math.ceil(world.comment_count(v) / 1000)) for v in videos)
    assert f"about {pages:,} requests" in result.stdout
    assert f"{pages * 1.5 / 60:.0f} min at --interval 1.5" in result.stdout
    assert not site.stats.watch and not site.stats.v1_threads


def _start(db, ref, env):
    return subprocess.Popen(
        [sys.executable, "-m", "nicocomments", "crawl", ref, "--all-history", "--db", str(db),
         "--interval", "0.003", "--backoff", "0"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
    )  # fmt: skip


def _complete(db) -> int:
    try:
        return query(db, "SELECT count(*) FROM collection_videos WHERE state = 'complete'")[0][0]
    except Exception:  # not created yet, or locked for a moment
        return 0


def test_killed_twice_and_resumed_it_ends_exact_and_fetches_nothing_twice(site, tmp_path):
    rng = random.Random(KILL_SEED)
    db = tmp_path / "c.db"
    ref, listed = REFS["user"]
    env = dict(os.environ)
    for _ in range(2):
        process = _start(db, ref, env)
        target = _complete(db) + rng.randint(20, 60)
        deadline = time.monotonic() + 60
        while _complete(db) < target and process.poll() is None and time.monotonic() < deadline:
            time.sleep(rng.uniform(0.001, 0.01))
        assert process.poll() is None, process.stderr.read()[-500:]
        time.sleep(rng.uniform(0, 0.03))
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        process.stderr.close()
    process = _start(db, ref, env)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr[-2000:]
    videos = listed(site.world)
    assert stored(db) == truth(site.world, videos)
    # Each video's watch data was asked once, but for the (at most two) cut off by a kill.
    assert sum(site.stats.watch.values()) <= len(videos) + 2
    assert site.stats.requests["nvapi"] <= 3 + 2  # the listing: 3 pages, read once (or twice)


def crawled_then_later(site, nico, db, ref, make_later):
    """Crawl ``ref`` whole, wait until the emulator's clock has passed the crawl, then serve a
    later world (``make_later(world, seed=0, at=…)`` adds comments and videos): (later world,
    the videos it changed)."""
    result = nico("crawl", ref, "--all-history", "--db", db, *FAST)
    assert result.exit_code == 0, result.stderr
    since = query(db, "SELECT CAST(strftime('%s', since) AS INTEGER) FROM collections")[0][0]
    at = max(int(time.time()), since + 8)
    while time.time() < at:
        time.sleep(0.1)
    later = build_collection_world()
    changed = make_later(later, seed=0, at=at)
    site.world = later
    site.reset_stats()
    return later, changed


@pytest.mark.parametrize("kind", ["user", "tag"])
def test_since_last_on_the_later_world_fetches_only_what_changed(site, nico, tmp_path, kind):
    from nicosandbox.collection import add_later

    ref, listed = REFS[kind]
    db = tmp_path / "c.db"
    later, changed = crawled_then_later(site, nico, db, ref, add_later)
    result = nico("crawl", ref, "--since-last", "--all-history", "--db", db, *FAST)
    assert result.exit_code == 0, result.stderr
    assert sorted(site.stats.watch) == sorted(changed)
    asked = {thread_id for (thread_id, _), n in site.stats.v1_threads.items() if n}
    assert asked == {later.videos[v].main_thread_id for v in changed}
    assert stored(db) == truth(later, listed(later))
    # forward only: the changed videos' old history was not walked again
    old_pages = sum(max(1, math.ceil(len(BASE_WORLD.threads[k].comments) / 1000))
                    for v in changed if v in BASE_WORLD.videos
                    for k in BASE_WORLD.videos[v].threads)  # fmt: skip
    assert sum(site.stats.v1_threads.values()) < old_pages + 2 * len(changed)


def test_since_last_lists_a_channel_again_and_fetches_only_what_changed(site, nico, tmp_path):
    """A channel's pages say nothing of comments: --since-last lists it again (for new videos)
    and asks Snapshot Search, by the listed ids, which ones got comments since."""
    from nicosandbox.collection import add_channel_later

    db = tmp_path / "c.db"
    later, changed = crawled_then_later(site, nico, db, CHANNEL, add_channel_later)
    result = nico("crawl", CHANNEL, "--since-last", "--all-history", "--db", db, *FAST)
    assert result.exit_code == 0, result.stderr
    assert site.stats.requests["channel"] == 4 + 2  # listed again: 48 free videos, 5 paid
    assert sorted(site.stats.watch) == sorted(changed)
    assert stored(db) == truth(later, channel_videos(later))
    assert query(db, "SELECT count(*) FROM collection_videos")[0][0] == 53


def test_a_session_that_stops_working_stops_the_crawl_with_exit_3(site, nico, tmp_path):
    db = tmp_path / "c.db"
    site.expire_sessions()
    result = nico("crawl", f"series/{COLLECTION_SERIES_ID}", "--all-history", "--db", db, *FAST)
    assert result.exit_code == 3
    error = result.stderr.strip().splitlines()[-1]  # after the progress line
    assert error.startswith("Error: ") and "nico login" in error
    assert "resumes" in result.stderr
    assert len(site.stats.watch) == 1  # it stopped at the first video
    result = nico("login", "--email", DEMO_EMAIL, "--password-stdin", input=DEMO_PASSWORD + "\n")
    result = nico("crawl", f"series/{COLLECTION_SERIES_ID}", "--all-history", "--db", db, *FAST)
    assert result.exit_code == 0, result.stderr
    assert stored(db) == truth(site.world, list(site.world.series[COLLECTION_SERIES_ID].video_ids))


def test_threads_share_one_budget_and_store_the_same(site, nico, tmp_path):
    db = tmp_path / "c.db"
    result = nico("crawl", f"tag/{COLLECTION_TAG}", "--all-history", "--workers", "4",
                  "--db", db, *FAST)  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert stored(db) == truth(site.world, readable(site.world, site.world.tags))
    assert max(site.stats.watch.values()) == 1


def test_too_many_requests_pauses_every_worker_of_the_budget():
    """A server's wait held on the shared pacer delays every worker's next request."""
    now = [100.0]
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        now[0] += seconds

    pacer = HostPacer(clock=lambda: now[0], sleep=sleep)
    pacer.wait("nv.example", 0.5)
    pacer.hold("nv.example", 60)  # one worker heard TOO_MANY_REQUESTS
    pacer.wait("nv.example", 0.5)  # another worker's next request
    assert slept and slept[-1] >= 59.5


def test_status_per_collection(site, nico, tmp_path):
    db = tmp_path / "c.db"
    nico("crawl", f"mylist/{COLLECTION_MYLIST_ID}", "--all-history", "--db", db, *FAST)
    result = nico("status", "--collections", "--json", "--db", db)
    assert result.exit_code == 0, result.stderr
    import json

    (report,) = json.loads(result.stdout)
    world = site.world
    videos = list(world.mylists[COLLECTION_MYLIST_ID].video_ids)
    gone = {video_id_at(i) for i in (*DELETED, *PRIVATE)} & set(videos)
    assert report["listed"] == len(videos)
    assert report["states"]["failed"] == len(gone)
    assert report["states"]["complete"] == len(videos) - len(gone)
    assert report["comments_stored"] == len(truth(world, videos))
    assert report["comments_listed"] == sum(world.comment_count(v) for v in videos)
    assert report["title"] == world.mylists[COLLECTION_MYLIST_ID].name
    assert {f["video_id"] for f in report["failed"]} == gone


@pytest.mark.parametrize("kind", ["tag", "mylist", "channel"])
def test_a_crawl_through_faults_on_every_surface_ends_exact(site, nico, tmp_path, kind):
    """Errors, dropped and cut answers on the listings (a channel's pages too), Snapshot
    Search, watch data and the comment server: retried (a Snapshot Search 503 waits
    --search-wait), and nothing lost."""
    from nicosandbox import FaultPlan

    ref, listed = {**REFS, "channel": (CHANNEL, channel_videos)}[kind]
    site.faults = FaultPlan(
        rate=0.15, kinds=FAULT_KINDS, seed=11, retry_after=0, slow_seconds=0.05,
        targets=("nvapi", "snapshot", "www", "nvcomment", "channel"),
    )  # fmt: skip
    db = tmp_path / "c.db"
    result = nico(
        "crawl", ref, "--all-history", "--search-wait", "0", "--db", db, *FAST, *FAULT_OPTIONS
    )
    assert result.exit_code == 0, result.stderr
    assert sum(site.stats.faulted.values()) > 20
    assert {kind for _, kind in site.stats.fault_kinds} == set(FAULT_KINDS), site.stats.fault_kinds
    assert stored(db) == truth(site.world, listed(site.world))


@pytest.mark.parametrize("kind", FAULT_KINDS)
@pytest.mark.parametrize("collection", ["mylist", "channel"])
def test_each_fault_kind_on_the_listing_pages_themselves(site, nico, tmp_path, collection, kind):
    """Every fault kind on the pages that list a collection (a mylist's nvapi pages, a
    channel's HTML pages), not somewhere else in the crawl: the first two requests to that
    surface fail that way, are retried, and the crawl stores all it lists."""
    from nicosandbox import FaultPlan

    group = {"mylist": "nvapi", "channel": "channel"}[collection]
    ref, listed = {**REFS, "channel": (CHANNEL, channel_videos)}[collection]
    site.faults = FaultPlan(
        rate=1, kinds=(kind,), targets=(group,), limit=2, retry_after=0, slow_seconds=0.05
    )
    db = tmp_path / "c.db"
    result = nico("crawl", ref, "--all-history", "--db", db, *FAST, *FAULT_OPTIONS)
    assert result.exit_code == 0, result.stderr
    assert dict(site.stats.fault_kinds) == {(group, kind): 2}
    assert stored(db) == truth(site.world, listed(site.world))


def test_a_missing_collection_is_an_error_not_an_empty_crawl(site, nico, tmp_path):
    result = nico("crawl", "mylist/999", "--db", tmp_path / "c.db", *FAST)
    assert result.exit_code == 4
    assert (
        result.stderr.strip().splitlines()[-1]
        == "Error: mylist/999 was not found (deleted, or never existed)"
    )


def test_report_of_a_collection(site, nico, tmp_path):
    """nico report --collection: one section for each stored video of the crawled collection,
    in the listing's order; a collection never crawled is exit 4."""
    db, page = tmp_path / "c.db", tmp_path / "mylist.html"
    nico("crawl", f"mylist/{COLLECTION_MYLIST_ID}", "--all-history", "--db", db, *FAST)
    result = nico(
        "report", "--collection", f"mylist/{COLLECTION_MYLIST_ID}", "-o", page, "--db", db
    )
    assert result.exit_code == 0, result.stderr
    videos = list(site.world.mylists[COLLECTION_MYLIST_ID].video_ids)
    gone = {video_id_at(i) for i in (*DELETED, *PRIVATE)}
    text = page.read_text(encoding="utf-8")
    sections = [v for v in videos if f'<section class="video" id="video-{v}"' in text]
    assert sections == [v for v in videos if v not in gone]
    missing = nico("report", "--collection", "mylist/999", "-o", page, "--db", db)
    assert missing.exit_code == 4 and missing.stderr.startswith("Error: no collection mylist/999")


# --- review fixes -------------------------------------------------------------------------------


def test_all_history_after_a_window_crawl_walks_what_the_window_left(site, nico, tmp_path):
    """A crawl without --all-history completes each video's current window; a crawl with it
    afterwards walks every thread's history all the same (the threads' own state says what
    is left), and the next one finds nothing left."""
    db = tmp_path / "c.db"
    ref = f"tag/{SMALL_TAG}"
    world = site.world
    videos = readable(world, [v for v, tags in world.tags.items() if SMALL_TAG in tags])
    assert any(
        len(world.threads[k].comments) > 1000 for v in videos for k in world.videos[v].threads
    )
    result = nico("crawl", ref, "--db", db, *FAST)
    assert result.exit_code == 0, result.stderr
    assert stored(db) != truth(world, videos)  # the long video's window, not its history
    site.reset_stats()
    result = nico("crawl", ref, "--all-history", "--db", db, *FAST)
    assert result.exit_code == 0, result.stderr
    assert stored(db) == truth(world, videos)
    assert sorted(site.stats.watch) == sorted(videos) and max(site.stats.watch.values()) == 1
    site.reset_stats()
    result = nico("crawl", ref, "--all-history", "--db", db, *FAST)
    assert result.exit_code == 0, result.stderr
    assert not site.stats.watch and "0 videos fetched" in result.stdout


def test_all_history_finishes_a_catch_up_left_unfinished_after_the_crawl(site, nico, tmp_path):
    """A video the collection holds complete whose thread a later fetch left mid catch-up
    (newer comments walked down only part way: ``catchup_when`` still set) is not complete:
    a crawl with --all-history fetches it again, finishes the catch-up, and stores the
    stretch it had not read."""
    db = tmp_path / "c.db"
    ref = f"tag/{SMALL_TAG}"
    world = site.world
    videos = readable(world, [v for v, tags in world.tags.items() if SMALL_TAG in tags])
    result = nico("crawl", ref, "--all-history", "--db", db, *FAST)
    assert result.exit_code == 0, result.stderr
    assert stored(db) == truth(world, videos)
    # As a fetch interrupted in its catch-up leaves it: the newest comments of one thread
    # not read yet, the cursor above them, the stop at the last number it had stored.
    [(thread_id, newest_no)] = query(
        db,
        "SELECT thread_id, max(no) FROM comments WHERE fork = 'main' AND video_id = ? "
        "GROUP BY thread_id",
        videos[0],
    )
    cut = newest_no - 20
    query(
        db, "DELETE FROM comments WHERE thread_id = ? AND fork = 'main' AND no > ?", thread_id, cut
    )
    query(
        db,
        "UPDATE threads SET catchup_when = ?, catchup_stop_no = ? "
        "WHERE thread_id = ? AND fork = 'main'",
        int(time.time()),
        cut,
        thread_id,
    )
    assert stored(db) != truth(world, videos)
    site.reset_stats()
    result = nico("crawl", ref, "--all-history", "--db", db, *FAST)
    assert result.exit_code == 0, result.stderr
    assert stored(db) == truth(world, videos)
    assert dict(site.stats.watch) == {videos[0]: 1}
    assert query(db, "SELECT count(*) FROM threads WHERE catchup_when IS NOT NULL") == [(0,)]


def test_nvapi_503s_are_retried_and_one_that_persists_is_one_clear_error(site, nico, tmp_path):
    db = tmp_path / "c.db"
    down = b"<html><body>503 Service Temporarily Unavailable</body></html>"
    site.inject("nvapi", down, status=503, content_type="text/html", times=2)
    result = nico("crawl", f"mylist/{COLLECTION_MYLIST_ID}", "--dry-run", "--db", db, *FAST)
    assert result.exit_code == 0, result.stderr
    assert site.stats.injected["nvapi"] == 2
    assert f"of {len(site.world.mylists[COLLECTION_MYLIST_ID].video_ids)} listed" in result.stdout
    site.inject("nvapi", down, status=503, content_type="text/html", times=3)
    result = nico("crawl", f"series/{COLLECTION_SERIES_ID}", "--dry-run", "--retries", "2",
                  "--db", db, *FAST)  # fmt: skip
    assert result.exit_code == 5, result.stderr
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith(f"Error: listing series/{COLLECTION_SERIES_ID}: "), error
    assert "HTTP 503" in error and error.endswith("try again later")


@pytest.mark.parametrize(
    "answer", [(b"<html>maintenance</html>", 200, 1), (b"busy", 503, 2)], ids=["garbage", "503"]
)
def test_without_the_index_time_since_last_will_ask_from_a_day_before(site, nico, tmp_path, answer):
    """The search index's time unknown (an answer that is not its version, or none after the
    retries): the next --since-last asks from a day before the crawl started (the index is
    rebuilt daily), not from now, and says so."""
    body, status, times = answer
    db = tmp_path / "c.db"
    site.inject("snapshot", body, status=status, content_type="text/html", times=times)
    started = int(time.time())
    result = nico("crawl", f"series/{COLLECTION_SERIES_ID}", "--dry-run", "--retries", "1",
                  "--db", db, *FAST)  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert site.stats.injected["snapshot"] == times
    (since,) = query(db, "SELECT CAST(strftime('%s', crawl_started_at) AS INTEGER) "
                         "FROM collections")[0]  # fmt: skip
    assert started - 86_400 <= since <= int(time.time()) - 86_400
    assert "a day before" in result.stderr


def test_a_file_and_a_query_are_listed_again_by_every_crawl(site, nico, tmp_path):
    db = tmp_path / "c.db"
    ids = [video_id_at(i) for i in range(20, 30)]
    listing = tmp_path / "ids.txt"
    sql = ("SELECT video_id FROM collection_videos WHERE collection_id = "
           "(SELECT id FROM collections WHERE kind = 'file')")  # fmt: skip

    def crawl_both():
        for option, value in (("--from-file", listing), ("--sql", sql)):
            result = nico("crawl", option, value, "--all-history", "--db", db, *FAST)
            assert result.exit_code == 0, result.stderr

    def listed(kind):
        statement = ("SELECT video_id FROM collection_videos WHERE collection_id = "
               "(SELECT id FROM collections WHERE kind = ?) ORDER BY video_id")  # fmt: skip
        rows = query(db, statement, kind)
        return [video_id for (video_id,) in rows]

    listing.write_text("\n".join(ids[:5]), encoding="utf-8")
    crawl_both()
    assert listed("file") == listed("sql") == ids[:5]
    listing.write_text("\n".join(ids[3:]), encoding="utf-8")
    site.reset_stats()
    crawl_both()
    assert listed("file") == listed("sql") == ids[3:]  # what the file and the query say now
    assert stored(db) == truth(site.world, ids)  # the comments of the dropped ones stay
    assert set(site.stats.watch) >= set(ids[5:])


def test_ctrl_c_stops_a_crawl_with_workers(site, tmp_path):
    """SIGINT with --workers 3: every worker stores the page it is on and stops; the crawl
    exits 130 (interrupted) at once, its unfinished videos partial, and the same command
    resumes it."""
    db = tmp_path / "c.db"
    ref, listed = REFS["user"]
    command = [sys.executable, "-m", "nicocomments", "crawl", ref, "--all-history",
               "--workers", "3", "--db", str(db), "--backoff", "0"]  # fmt: skip
    process = subprocess.Popen(
        [*command, "--interval", "0.05"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True, env=dict(os.environ),
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while _complete(db) < 10 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert process.poll() is None, process.stderr.read()[-500:]
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr[-2000:]
    assert stderr.strip().splitlines()[-1].startswith("Error: interrupted")
    videos = listed(site.world)
    assert _complete(db) < len(videos) / 2
    partial = query(db, "SELECT reason FROM collection_videos WHERE state = 'partial'")
    assert len(partial) <= 3 and all(reason == "interrupted" for (reason,) in partial)
    resumed = subprocess.run([*command, "--interval", "0"], capture_output=True, text=True,
                             env=dict(os.environ), timeout=300)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert stored(db) == truth(site.world, videos)


def test_too_many_requests_holds_every_worker_of_the_crawl(site, tmp_path):
    """Two workers' comment clients, as a crawl makes them, on one pacer (a public hook, the
    one their sessions wait on): the comment server's TOO_MANY_REQUESTS to one holds the
    other's next request too."""
    from nicocomments import store
    from nicocomments.cli.common import crawl_network, network_settings

    wait = 1.0
    with store.database(str(tmp_path / "c.db")) as engine:
        crawler = crawl_network(engine, network_settings(0, 2, 0, 0, 10), wait)
        first, second = crawler.make_client(), crawler.make_client()
    assert first.pacer is second.pacer is first.session.pacer is second.session.pacer
    video_id = video_id_at(1)
    refs = [
        next(t for t in client.video_info(video_id).threads if t.fork == "main")
        for client in (first, second)
    ]
    held = threading.Event()
    first.on_wait = lambda message: held.set()
    took = []

    def second_worker():
        held.wait(10)
        start = time.monotonic()
        second.thread_page(refs[1])
        took.append(time.monotonic() - start)

    other = threading.Thread(target=second_worker)
    other.start()
    site.inject("nvcomment", b"", status=429, content_type="application/json")
    start = time.monotonic()
    page = first.thread_page(refs[0])
    took.append(time.monotonic() - start)
    other.join(10)
    assert held.is_set() and page.comments
    assert len(took) == 2 and min(took) >= wait * 0.9, took
