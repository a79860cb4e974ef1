"""Requests a full history costs, per thread, against the budget ⌈1.05·N/1000⌉ + 2.

The emulator's big video has same-second bursts placed where page boundaries fall, so a walker
that does not overlap pages, or overlaps them wastefully, shows here. The baseline is the
physical minimum: N comments at 1000 an answer.

    python benchmarks/bench_requests.py [--size 100000]
"""

from __future__ import annotations

import math
import sys
import time

from common import Measurement, arguments, default_json, report, scratch


def run(size: int) -> list[Measurement]:
    from common import login

    from nicocomments import store
    from nicocomments.collect import FetchOptions, collect_video
    from nicocomments.config import Endpoints
    from nicocomments.http import HttpSettings, make_session
    from nicocomments.legacy import LegacyClient
    from nicocomments.nvcomment import NvcommentClient
    from nicosandbox import BIG_THREAD_ID, BIG_VIDEO_ID, Sandbox, build_world

    measurements = []
    world = build_world(big_comments=size)
    with Sandbox(world=world, rate_limit_per_minute=None) as sandbox, scratch() as directory:
        env = sandbox.env()
        endpoints = Endpoints.from_env(env)
        cookie = login(env)
        for protocol in ("legacy", "nvcomment"):
            session = make_session(
                HttpSettings(interval=0), user_session=cookie, cookie_hosts=endpoints.hosts()
            )
            client = (
                LegacyClient(session, endpoints)
                if protocol == "legacy"
                else NvcommentClient(session, endpoints, logged_in=True)
            )
            engine = store.open_db(str(directory / f"{protocol}.db"))
            sandbox.reset_stats()
            started = time.perf_counter()
            collect_video(engine, client, BIG_VIDEO_ID, FetchOptions(all_history=True))
            seconds = time.perf_counter() - started
            engine.dispose()
            for fork in ("main", "easy") if protocol == "nvcomment" else ("main",):
                n = len(world.thread(BIG_THREAD_ID, fork).comments)
                if protocol == "legacy":
                    used = sandbox.stats.thread_requests(BIG_THREAD_ID, fork)
                else:
                    used = sandbox.stats.v1_requests(BIG_THREAD_ID, fork)
                allowed = math.ceil(1.05 * n / 1000) + 2
                measurements.append(
                    Measurement(
                        benchmark="requests",
                        case=f"{protocol} {fork}, {n:,} comments",
                        measure="requests for the whole history vs ⌈N/1000⌉",
                        value=used,
                        baseline=math.ceil(n / 1000),
                        ratio=used / allowed,
                        target="≤ ⌈1.05·N/1000⌉+2 (ratio ≤ 1)",
                        ok=used <= allowed,
                        details={"allowed": allowed, "seconds": round(seconds, 2)},
                    )
                )
    return measurements


def main() -> int:
    args = arguments(__doc__.splitlines()[0], default_size=100_000, tiny_size=3_000)
    return report(run(args.size), args.json or default_json("requests"))


if __name__ == "__main__":
    sys.exit(main())
