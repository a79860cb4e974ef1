"""Re-crawl: what change tracking costs when a stored video is fetched again unchanged.

Ours: every page of a full history (nvcomment v1 JSON and legacy XML, as the emulator sent
them) parsed and saved again with change tracking (`store.save_comments(..., observe=True)`),
into a database that already holds them. Baseline: the same pages parsed and saved again
without it (ON CONFLICT DO NOTHING, as imports do). Measured: rows a re-crawl adds (comments
and observations; target 0), and the tracking's overhead as a share of a page's ingest time
(target ≤ 10 %: ours ≤ 1.10× the baseline's seconds).

    python benchmarks/bench_recrawl.py [--size 100000]
"""

from __future__ import annotations

import shutil
import statistics
import sys
from pathlib import Path

from bench_ingest import capture_pages, parse
from common import (
    Measurement,
    arguments,
    cpu_seconds,
    default_json,
    median_ratio,
    report,
    scratch,
    steady_memory,
)

from nicosandbox import BIG_VIDEO_ID

REPEATS = 9  # interleaved pairs: a noisy machine varies a run by a quarter


def stored(answers: list[bytes], key: str, path: Path) -> None:
    """A database holding every page once, as the first crawl leaves it."""
    from nicocomments import store
    from nicocomments.records import VideoInfo

    engine = store.open_db(str(path))
    with engine.begin() as connection:
        store.upsert_video(connection, VideoInfo(BIG_VIDEO_ID, ()), store.now_utc())
    run = store.start_run(engine, video_id=BIG_VIDEO_ID, protocol="nvcomment", mode="window")
    for answer in answers:
        with engine.begin() as connection:
            store.save_comments(connection, BIG_VIDEO_ID, run, parse(key, answer), observe=True)
    store.sync_search_index(engine)
    engine.dispose()


def recrawl(answers: list[bytes], key: str, path: Path, observe: bool) -> tuple[float, int]:
    """Seconds to parse and save every page again; rows the database gained."""
    from sqlalchemy import func, select

    from nicocomments import store
    from nicocomments.schema import comment_observations, comments

    engine = store.open_db(str(path))

    def rows() -> int:
        with engine.connect() as connection:
            return sum(
                connection.execute(select(func.count()).select_from(table)).scalar()
                for table in (comments, comment_observations)
            )

    before = rows()
    run = store.start_run(engine, video_id=BIG_VIDEO_ID, protocol="nvcomment", mode="window")
    steady_memory()
    started = cpu_seconds()
    for answer in answers:
        with engine.begin() as connection:
            store.save_comments(connection, BIG_VIDEO_ID, run, parse(key, answer), observe=observe)
    seconds = cpu_seconds() - started
    added = rows() - before
    engine.dispose()
    return seconds, added


def run(size: int) -> list[Measurement]:
    measurements = []
    pages = capture_pages(size)
    with scratch() as directory:
        for key, answers in pages.items():
            first = directory / f"first-{key[:3]}.db"
            stored(answers, key, first)
            plain_runs, our_runs, added = [], [], []
            for attempt in range(REPEATS):  # interleaved pairs; the median pair decides
                for observe, runs in ((False, plain_runs), (True, our_runs)):
                    copy = directory / f"again-{key[:3]}-{attempt}-{observe}.db"
                    shutil.copy(first, copy)
                    seconds, gained = recrawl(answers, key, copy, observe)
                    runs.append(seconds)
                    if observe:
                        added.append(gained)
            comments = sum(len(parse(key, answer)) for answer in answers)
            measurements.append(
                Measurement(
                    benchmark="recrawl",
                    case=f"{key}, {comments:,} comments, rows added",
                    measure="rows (comments + observations) an unchanged re-crawl adds",
                    value=max(added),
                    baseline=None,
                    ratio=None,
                    target="0",
                    ok=max(added) == 0,
                    unit="rows",
                    details={"pages": len(answers)},
                )
            )
            ratio = median_ratio(our_runs, plain_runs)  # time: tracked / untracked
            measurements.append(
                Measurement(
                    benchmark="recrawl",
                    case=f"{key}, {comments:,} comments, tracking overhead",
                    measure="seconds to parse and save a re-crawl, tracked vs untracked",
                    value=statistics.median(our_runs),
                    baseline=statistics.median(plain_runs),
                    ratio=ratio,
                    target="≤ 1.10×",
                    ok=ratio <= 1.10,
                    unit="s",
                    details={
                        "ours_seconds": [round(x, 3) for x in our_runs],
                        "baseline_seconds": [round(x, 3) for x in plain_runs],
                    },
                )
            )
    return measurements


def main() -> int:
    args = arguments(__doc__.splitlines()[0], default_size=100_000, tiny_size=3_000)
    return report(run(args.size), args.json or default_json("recrawl"))


if __name__ == "__main__":
    sys.exit(main())
