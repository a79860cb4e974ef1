"""Load: `analysis.load_comments` of 1,000,000 rows against a bare `pandas.read_sql`, and
against a bare ADBC ``fetch_arrow_table().to_pandas()`` (what it reads through).

Both read the same rows with the same SQL statement (the one `load_comments` sends, captured
as it runs); `load_comments` then gives every column its documented dtype. The baselines stop
at what `read_sql` returns (target ≤ 1.3×) and at ADBC's untyped frame (target ≤ 1.5×).

    python benchmarks/bench_load.py [--size 1000000]
"""

from __future__ import annotations

import statistics
import sys
import time

from common import (
    Measurement,
    arguments,
    default_json,
    median_ratio,
    report,
    scratch,
    steady_memory,
)

from nicosandbox import BIG_VIDEO_ID, expected_comments

REPEATS = 5


def build_database(path, size: int) -> None:
    """A database holding the emulator's big video (its ground truth), written in batches."""
    from nicocomments import store
    from nicocomments.records import VideoInfo
    from nicosandbox import build_world

    truth = expected_comments(build_world(big_comments=size), BIG_VIDEO_ID)
    engine = store.open_db(str(path))
    with engine.begin() as connection:
        store.upsert_video(connection, VideoInfo(BIG_VIDEO_ID, ()), store.now_utc())
    for start in range(0, len(truth), 20_000):
        with engine.begin() as connection:
            store.save_comments(connection, BIG_VIDEO_ID, None, truth[start : start + 20_000])
    store.sync_search_index(engine)
    engine.dispose()


def run(size: int) -> list[Measurement]:
    import adbc_driver_sqlite.dbapi as adbc_sqlite
    import pandas as pd

    from nicocomments import store
    from nicocomments.analysis import load_comments
    from nicocomments.analysis.load import ADBC_SQLITE_BATCH

    with scratch() as directory:
        path = directory / "load.db"
        build_database(path, size)
        engine = store.open_db(str(path))
        sent: list[str] = []
        with engine.connect() as connection:
            # sqlite3 reports each statement as it runs, with its values filled in.
            raw = connection.connection.driver_connection
            raw.set_trace_callback(sent.append)
            load_comments(connection, BIG_VIDEO_ID)  # also warms the page cache
            raw.set_trace_callback(None)
        statement = next(s for s in reversed(sent) if s.lstrip().upper().startswith("SELECT"))
        timings = {"ours": [], "baseline": [], "adbc": []}
        # Interleaved pairs; the median pair decides. Wall-clock time: pandas and Arrow may use
        # threads, so CPU time would charge them for parallel work.
        for _ in range(REPEATS):
            steady_memory()
            started = time.perf_counter()
            frame = load_comments(engine, BIG_VIDEO_ID)
            timings["ours"].append(time.perf_counter() - started)
            steady_memory()
            started = time.perf_counter()
            with engine.connect() as connection:
                # The DB-API connection underneath: no SQLAlchemy, no types, just the rows.
                raw = connection.connection.driver_connection
                bare = pd.read_sql_query(statement, raw)
            timings["baseline"].append(time.perf_counter() - started)
            steady_memory()
            started = time.perf_counter()
            uri = path.resolve().as_uri() + "?mode=ro"
            with adbc_sqlite.connect(uri) as raw, raw.cursor() as cursor:
                cursor.adbc_statement.set_options(
                    **{"adbc.sqlite.query.batch_rows": str(ADBC_SQLITE_BATCH)}
                )
                cursor.execute(statement)
                arrow = cursor.fetch_arrow_table().to_pandas()
            timings["adbc"].append(time.perf_counter() - started)
        engine.dispose()
    ratio = median_ratio(timings["ours"], timings["baseline"])
    adbc_ratio = median_ratio(timings["ours"], timings["adbc"])
    assert len(arrow) == len(frame)
    ours, base = statistics.median(timings["ours"]), statistics.median(timings["baseline"])
    assert len(frame) == len(bare)
    return [
        Measurement(
            benchmark="load",
            case=f"load_comments, {len(frame):,} rows",
            measure="seconds to a typed DataFrame vs bare pandas.read_sql",
            value=ours,
            baseline=base,
            ratio=ratio,
            target="≤ 1.3×",
            ok=ratio <= 1.3,
            unit="s",
            details={"ours_runs": timings["ours"], "baseline_runs": timings["baseline"]},
        ),
        Measurement(
            benchmark="load",
            case=f"load_comments, {len(frame):,} rows",
            measure="seconds to a typed DataFrame vs bare ADBC fetch_arrow_table().to_pandas()",
            value=ours,
            baseline=statistics.median(timings["adbc"]),
            ratio=adbc_ratio,
            target="≤ 1.5×",
            ok=adbc_ratio <= 1.5,
            unit="s",
            details={"adbc_runs": timings["adbc"]},
        ),
    ]


def main() -> int:
    args = arguments(__doc__.splitlines()[0], default_size=1_000_000, tiny_size=3_000)
    return report(run(args.size), args.json or default_json("load"))


if __name__ == "__main__":
    sys.exit(main())
