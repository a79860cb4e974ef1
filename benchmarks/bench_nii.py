"""NII import: `nico import DIR --to OUT` of a synthetic NII corpus against a bare DuckDB
``COPY (SELECT … FROM read_json(…)) TO … (FORMAT parquet)`` of the same files.

Both run as child processes of this one, one after the other, so each has the machine's cores
and its peak resident set size is read from the kernel (`wait4`). The baseline reads the same
fields and writes one zstd Parquet file; nico also numbers, de-duplicates, checks every value
as `nico import` does, types and partitions. Targets: ≥ 0.7× the baseline's speed (lines a
second); peak memory < 1 GB. Beside it (details, no target) the same bare COPY written by
month, and written in the dataset's layout (every column of its schema, typed, by month; no
checks, numbering or de-duplication): that one is the most any import writing this layout
could reach, its ratio the ceiling of ours.

    python benchmarks/bench_nii.py [--size 2000000]
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from common import Measurement, arguments, default_json, report, scratch
from nii_corpus import write_files

LIMIT_MB = 1024
SPEED = 0.7
READ = (
    "read_json('{files}/*', format = 'newline_delimited', filename = true, columns = "
    "{{'date': 'VARCHAR', 'vpos': 'BIGINT', 'content': 'VARCHAR', 'comment': 'VARCHAR', "
    "'command': 'VARCHAR', 'no': 'BIGINT', 'owner': 'BOOLEAN', 'easy': 'BOOLEAN'}})"
)
FIELDS = "filename, date, vpos, content, comment, command, no, owner, easy"
# The baseline: one zstd file. Beside it, the same written by month as the dataset is.
BARE = f"COPY (SELECT {FIELDS} FROM {READ}) TO '{{out}}' (FORMAT parquet, COMPRESSION zstd)"
BY_MONTH = (
    "COPY (SELECT *, strftime(posted_at, '%Y-%m') AS month FROM (SELECT "
    "coalesce(try_strptime(date, '%Y-%m-%d %H:%M:%S') - INTERVAL 9 HOUR, "
    f"to_timestamp(TRY_CAST(date AS BIGINT))) AS posted_at, {FIELDS} FROM {READ})) "
    "TO '{out}' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (month))"
)


def layout_sql() -> str:
    """The bare COPY written as the dataset is: the fields read as the baseline reads them,
    every column of the dataset's schema (`dataset.COLUMN_TYPES`, those NII has no value for
    NULL, as the import writes them), partitioned by month. A template as `BARE`."""
    from nicocomments.formats import dataset

    video = "regexp_extract(filename, '([a-z][a-z][0-9]+)[^/]*$', 1)"  # sm123.jsonl: sm123
    given = {
        "video_id": video,
        "thread_id": f"'nii:' || {video}",
        "fork": "CASE WHEN owner THEN 'owner' WHEN easy THEN 'easy' ELSE 'main' END",
        "no": "no",
        "vpos_ms": "vpos * 10",
        "posted_at": "coalesce(try_strptime(date, '%Y-%m-%d %H:%M:%S') - INTERVAL 9 HOUR, "
        "to_timestamp(TRY_CAST(date AS BIGINT)))",
        "content": "coalesce(content, comment, '')",
        "commands": "coalesce(command, '')",
        "is_premium": "false",
        "is_anonymous": "contains(command, '184')",
        "is_deleted": "false",
    }
    columns = ", ".join(
        f"CAST({given.get(name, 'NULL')} AS {kind}) AS {name}"
        for name, kind in dataset.COLUMN_TYPES.items()
    )
    return (
        "COPY (SELECT *, strftime(posted_at, '%Y-%m') AS month FROM (SELECT "
        f"{columns} FROM {READ})) TO '{{out}}' (FORMAT parquet, COMPRESSION zstd, "
        "PARTITION_BY (month))"
    )


def same_columns(ours, layout) -> None:
    """Stop the benchmark unless the layout copy wrote the columns, and types, ours wrote."""
    import duckdb

    def columns(directory) -> list[tuple]:
        files = str(directory / "*=*" / "*.parquet").replace("'", "''")
        return duckdb.sql(f"DESCRIBE SELECT * FROM read_parquet('{files}')").fetchall()

    if columns(ours) != columns(layout):
        raise SystemExit(f"the layout copy wrote {columns(layout)}, not {columns(ours)}")


RUN_SQL = """
import duckdb, sys
connection = duckdb.connect()
connection.execute("SET TimeZone = 'UTC'")
connection.execute(sys.argv[1]).fetchall()
"""


def _sql(template: str, files, out) -> str:
    quoted = {"files": str(files).replace("'", "''"), "out": str(out).replace("'", "''")}
    return template.format(**quoted)


def child(arguments: list[str]) -> tuple[float, float]:
    """(wall-clock seconds, peak RSS in MB) of ``python …``."""
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, *arguments], stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{arguments[:3]} failed")
    return elapsed, usage.ru_maxrss / 1024


def run(size: int) -> list[Measurement]:
    with scratch() as directory:
        files = directory / "nii"
        lines = write_files(files, size, max(size // 1000, 1))
        ours_s, ours_mb = child(
            [
                "-m",
                "nicocomments",
                "import",
                str(files),
                "--to",
                str(directory / "ds"),
                "--by",
                "month",
            ]
        )
        bare_s, bare_mb = child(["-c", RUN_SQL, _sql(BARE, files, directory / "bare.parquet")])
        by_month_s, _ = child(["-c", RUN_SQL, _sql(BY_MONTH, files, directory / "by-month")])
        layout_s, _ = child(["-c", RUN_SQL, _sql(layout_sql(), files, directory / "layout")])
        same_columns(directory / "ds", directory / "layout")
    ours, bare = lines / ours_s, lines / bare_s
    return [
        Measurement(
            benchmark="nii",
            case=f"NII files to a dataset, {lines:,} lines",
            measure="lines/s vs a bare DuckDB read_json COPY to Parquet",
            value=ours,
            baseline=bare,
            ratio=ours / bare,
            target=f"≥ {SPEED}×",
            ok=ours / bare >= SPEED,
            unit="lines/s",
            details={
                "ours_s": ours_s,
                "bare_s": bare_s,
                "bare_peak_mb": bare_mb,
                "bare_by_month_s": by_month_s,
                "ratio_to_bare_by_month": by_month_s / ours_s,
                "bare_layout_s": layout_s,
                "ceiling_ratio": bare_s / layout_s,
            },
        ),
        Measurement(
            benchmark="nii",
            case=f"NII files to a dataset, {lines:,} lines",
            measure="peak RSS of nico import --to (MB)",
            value=ours_mb,
            baseline=None,
            ratio=None,
            target=f"< {LIMIT_MB} MB",
            ok=ours_mb < LIMIT_MB,
            unit="MB",
        ),
    ]


def main() -> int:
    args = arguments(__doc__.splitlines()[0], default_size=2_000_000, tiny_size=20_000)
    return report(run(args.size), args.json or default_json("nii"))


if __name__ == "__main__":
    sys.exit(main())
