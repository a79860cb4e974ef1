"""Crawl overhead and requests: a whole collection through `nico crawl`'s job, against the
emulator's collection world (in its own process, so this process's CPU is nicocomments' alone).

* overhead: CPU a video costs beyond `collect.collect_video` (listing, the state of each video,
  the workers), against the CPU of `collect_video` itself (fetching, parsing, storing its pages).
  Target ≤ 0.25×: a crawl costs at most a quarter more than fetching its videos one by one.
* requests: every request of the crawl (listing pages, the search index's time, watch data,
  comment pages) against the minimum the protocol allows: one listing request a page of 100,
  one watch-data request a readable video, and ⌈n/1000⌉ pages (at least one) for each thread
  the watch data names. Target ≤ 1.1×.

    python benchmarks/bench_crawl.py [--size 220]       # videos in the collection
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import subprocess
import sys
import time

from bench_fetch import timed
from common import (
    Measurement,
    arguments,
    cpu_seconds,
    default_json,
    login,
    patched,
    report,
    scratch,
)

OVERHEAD_LIMIT = 0.25
REQUEST_LIMIT = 1.1
SERVE = """
import json, sys, time
from nicosandbox import Sandbox
from nicosandbox.seed import build_collection_world
sandbox = Sandbox(world=build_collection_world(size=int(sys.argv[1])), rate_limit_per_minute=None)
sandbox.start()
print(json.dumps(sandbox.env()), flush=True)
sys.stdin.read()
"""


@contextlib.contextmanager
def collection_emulator(size: int):
    process = subprocess.Popen(
        [sys.executable, "-c", SERVE, str(size)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        yield json.loads(process.stdout.readline())
    finally:
        process.stdin.close()
        process.wait(timeout=30)


def minimum_requests(size: int, listing_pages: int) -> int:
    from nicosandbox.collection import COLLECTION_USER_ID
    from nicosandbox.seed import build_collection_world

    world = build_collection_world(size=size)
    total = listing_pages
    for video in world.uploads(COLLECTION_USER_ID):
        if video.deleted:
            continue
        total += 1  # its watch data
        for key in world.nvcomment_targets(video.video_id):
            thread = world.threads.get(key)
            n = len(thread.comments) if thread is not None else 0
            total += max(1, math.ceil(n / 1000))
    return total


def run(size: int) -> list[Measurement]:
    from nicocomments import crawl, store
    from nicocomments.config import Endpoints
    from nicocomments.http import HttpSettings, make_session
    from nicocomments.listings import SnapshotSearch, parse_ref
    from nicocomments.nvcomment import NvcommentClient
    from nicosandbox.collection import COLLECTION_USER_ID

    with collection_emulator(size) as env, scratch() as directory:
        endpoints = Endpoints.from_env(env)
        cookie = login(env)
        sessions = []

        def session():
            made = make_session(
                HttpSettings(interval=0), user_session=cookie, cookie_hosts=endpoints.hosts()
            )
            sessions.append(made)
            return made

        def client():
            return NvcommentClient(session(), endpoints, logged_in=True)

        engine = store.open_db(str(directory / "crawl.db"))
        listing = session()
        lister = crawl.Lister(listing, endpoints, SnapshotSearch(listing, endpoints))
        ref = parse_ref(f"user/{COLLECTION_USER_ID}")
        options = crawl.CrawlOptions(all_history=True)
        inside = [0.0]
        with patched(crawl, "collect_video", timed(inside)):
            cpu = cpu_seconds()
            wall = time.perf_counter()
            plan = crawl.plan_crawl(engine, lister, ref, options, crawl.CrawlProgress())
            result = crawl.run_crawl(engine, plan, client, options, crawl.CrawlProgress())
            wall = time.perf_counter() - wall
            cpu = cpu_seconds() - cpu
        engine.dispose()
        videos = len(result.outcomes)
        overhead, work = (cpu - inside[0]) / videos * 1000, inside[0] / videos * 1000
        used = sum(s.request_count for s in sessions)
        pages = math.ceil(plan.listed / 100)
        least = minimum_requests(size, pages)
    return [
        Measurement(
            benchmark="crawl overhead",
            case=f"user uploads, {videos} videos",
            measure="CPU ms a video beyond collect_video vs collect_video",
            value=overhead,
            baseline=work,
            ratio=overhead / work,
            target=f"≤ {OVERHEAD_LIMIT}×",
            ok=overhead / work <= OVERHEAD_LIMIT,
            unit="ms/video",
            details={"seconds": round(wall, 2), "comments": sum(o.added for o in result.outcomes)},
        ),
        Measurement(
            benchmark="crawl requests",
            case=f"user uploads, {videos} videos, {pages} listing pages",
            measure="requests of the whole crawl vs Σ⌈n/1000⌉ + watch data + listing pages",
            value=used,
            baseline=least,
            ratio=used / least,
            target=f"≤ {REQUEST_LIMIT}×",
            ok=used / least <= REQUEST_LIMIT,
            details={"listing_requests": plan.listing_requests},
        ),
    ]


def main() -> int:
    args = arguments(__doc__.splitlines()[0], default_size=220, tiny_size=30)
    return report(run(args.size), args.json or default_json("crawl"))


if __name__ == "__main__":
    sys.exit(main())
