"""Corpus analysis: comments per month and the busiest videos over a synthetic NII-shaped
dataset (benchmarks/nii_corpus.py), by `analysis.scan_comments` (DuckDB over the Parquet
files) against the same computation through pandas on the same rows, already in memory.

Both start from the files on disk: the pandas side reads the columns the two questions need
into a frame (pyarrow, all cores) and computes with the same functions on it; its computing
time alone is kept in the details (pandas on rows already in memory is faster than DuckDB
reading the files: the target is about a user's whole computation). Target: ≥ 10× faster.
The issue's size is 100,000,000 comments over 100,000 videos (`--size 100000000`; a few
minutes and ~10 GB of memory for pandas' frame); the default run is a tenth of it.

    python benchmarks/bench_corpus.py [--size 10000000]
"""

from __future__ import annotations

import statistics
import sys
import time

from common import Measurement, arguments, default_json, report, scratch
from nii_corpus import write_dataset

TARGET = 10.0
REPEATS = 3


def run(size: int) -> list[Measurement]:
    import pandas as pd
    import pyarrow.dataset as pads

    from nicocomments import analysis as na

    videos = max(size // 1000, 10)
    with scratch() as directory:
        out = directory / "ds"
        rows = write_dataset(out, size, videos)
        timings = {"ours": [], "pandas": [], "pandas_compute": []}
        for _ in range(REPEATS):
            started = time.perf_counter()
            scan = na.scan_comments(out, tz=na.JAPAN)
            months, busiest = na.comments_per_month(scan), na.busiest_videos(scan, 10)
            timings["ours"].append(time.perf_counter() - started)
            started = time.perf_counter()
            frame = _pandas_rows(pads, pd, out, na.JAPAN)
            computing = time.perf_counter()
            months_pd, busiest_pd = na.comments_per_month(frame), na.busiest_videos(frame, 10)
            done = time.perf_counter()
            timings["pandas"].append(done - started)
            timings["pandas_compute"].append(done - computing)
            del frame
        pd.testing.assert_frame_equal(months, months_pd)
        assert busiest["comments"].tolist() == busiest_pd["comments"].tolist()
    ours, base = statistics.median(timings["ours"]), statistics.median(timings["pandas"])
    return [
        Measurement(
            benchmark="corpus",
            case=f"per month + busiest videos, {rows:,} comments, {videos:,} videos",
            measure="speed-up of DuckDB over the dataset vs pandas (load the rows, then compute)",
            value=ours,
            baseline=base,
            ratio=base / ours,
            target=f"≥ {TARGET:.0f}× faster",
            ok=base / ours >= TARGET,
            unit="s",
            details={
                "ours_runs": timings["ours"],
                "pandas_runs": timings["pandas"],
                "pandas_compute_only_runs": timings["pandas_compute"],
            },
        )
    ]


def _pandas_rows(pads, pd, directory, tz):
    """The rows the two questions need, as pandas holds them: the columns read from the same
    files (pyarrow), viewers' comments kept, times in ``tz``."""
    columns = ["video_id", "posted_at", "fork", "is_deleted"]
    frame = (
        pads.dataset(directory, format="parquet", partitioning="hive")
        .to_table(columns=columns)
        .to_pandas()
    )
    frame = frame[frame["fork"].isin(["main", "easy"]) & ~frame["is_deleted"]]
    frame["posted_at"] = frame["posted_at"].dt.tz_convert(tz).astype(pd.DatetimeTZDtype("ns", tz))
    return frame


def main() -> int:
    args = arguments(__doc__.splitlines()[0], default_size=10_000_000, tiny_size=50_000)
    return report(run(args.size), args.json or default_json("corpus"))


if __name__ == "__main__":
    sys.exit(main())
