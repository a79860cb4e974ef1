"""Re-crawl: what change tracking costs when a stored video is fetched again unchanged.

Ours: every page of a full history (nvcomment v1 JSON and legacy XML, as the emulator sent
them) parsed and saved again with change tracking (`store.save_comments(..., observe=True)`),
into a database that already holds them. Baseline: the same pages parsed and saved again
without it (ON CONFLICT DO NOTHING, as imports do). Measured: rows a re-crawl adds (comments
and observations; target 0), and the tracking's overhead as a share of a page's ingest time
(target ≤ 10 %: ours ≤ 1.10× the baseline's seconds). The two take turns page by page
(CPU time), into copies of one database; the median of nine such pairs decides.

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
    in_turn,
    median_ratio,
    report,
    scratch,
    steady_memory,
)

from nicosandbox import BIG_VIDEO_ID

REPEATS = 9  # pairs; a noisy machine varies a run by a quarter, a pair's ratio far less


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


def recrawl(answers: list[bytes], key: str, plain: Path, tracked: Path) -> tuple:
    """Seconds to parse and save every page again into ``plain`` (untracked) and into
    ``tracked`` (with change tracking), page by page in turn (`in_turn`); and the rows the
    tracked database gained."""
    from sqlalchemy import func, select

    from nicocomments import store
    from nicocomments.schema import comment_observations, comments

    engines = {False: store.open_db(str(plain)), True: store.open_db(str(tracked))}

    def rows() -> int:
        with engines[True].connect() as connection:
            return sum(
                connection.execute(select(func.count()).select_from(table)).scalar()
                for table in (comments, comment_observations)
            )

    before = rows()
    runs = {
        observe: store.start_run(engine, video_id=BIG_VIDEO_ID, protocol="nvcomment", mode="window")
        for observe, engine in engines.items()
    }
    seconds = {False: 0.0, True: 0.0}
    steady_memory()
    for page, answer in enumerate(answers):
        for observe in in_turn(page, (False, True)):
            started = cpu_seconds()
            with engines[observe].begin() as connection:
                batch = parse(key, answer)
                store.save_comments(connection, BIG_VIDEO_ID, runs[observe], batch, observe=observe)
            seconds[observe] += cpu_seconds() - started
    added = rows() - before
    for engine in engines.values():
        engine.dispose()
    return seconds[False], seconds[True], added


def run(size: int) -> list[Measurement]:
    measurements = []
    pages = capture_pages(size)
    with scratch() as directory:
        for key, answers in pages.items():
            first = directory / f"first-{key[:3]}.db"
            stored(answers, key, first)
            plain_runs, our_runs, added = [], [], []
            for attempt in range(REPEATS):  # pairs interleaved page by page; the median decides
                copies = [directory / f"again-{key[:3]}-{attempt}-{side}.db" for side in "pt"]
                for copy in copies:
                    shutil.copy(first, copy)
                plain, tracked, gained = recrawl(answers, key, *copies)
                plain_runs.append(plain)
                our_runs.append(tracked)
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
