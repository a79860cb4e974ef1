"""Import: `nico import` of the NII dataset's JSON Lines against a raw baseline.

The input is generated deterministically from the emulator's big video (the 2018 release's
fields: date, vpos, content, command, easy, owner) and never committed. Ours: nicocomments'
importer (`ingest.import_files`) from the file to committed rows. Baseline: a plain
loop in the same process: read each line, parse it with the same JSON parser (orjson), build the
`Comment` and its row (every column `store.save_comments` writes), and `sqlite3` `executemany`
in batches of 10,000 into a database with the same schema. Target: ours ≥ 0.5× the baseline's
lines per second (CPU time).

    python benchmarks/bench_import.py [--size 1000000]
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

import orjson
from common import (
    Measurement,
    arguments,
    cpu_seconds,
    default_json,
    median_ratio,
    raw_commit,
    raw_database,
    raw_insert_sql,
    raw_row,
    report,
    scratch,
    steady_memory,
)

from nicocomments.records import Comment
from nicosandbox import BIG_VIDEO_ID, expected_comments

BATCH = 10_000
REPEATS = 3


def write_input(path: Path, size: int) -> int:
    from nicosandbox import build_world

    truth = expected_comments(build_world(big_comments=size), BIG_VIDEO_ID)
    lines = 0
    with path.open("w", encoding="utf-8") as out:
        for comment in truth:
            if comment.fork != "main" or comment.is_deleted:
                continue
            record = {
                "date": comment.posted_at,
                "vpos": comment.vpos_ms // 10,
                "content": comment.content,
                "command": comment.commands or None,
                "easy": False,
                "owner": False,
            }
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            lines += 1
    return lines


def ours(path: Path, db: Path) -> tuple[float, int]:
    from nicocomments import store
    from nicocomments.ingest import import_files

    engine = store.open_db(str(db))
    steady_memory()
    started = cpu_seconds()
    [result] = list(import_files(engine, [path], fmt="nii"))
    seconds = cpu_seconds() - started
    engine.dispose()
    if result.error is not None:
        raise RuntimeError(f"the import failed: {result.error}")
    return seconds, result.added


def baseline(path: Path, db: Path) -> float:
    """A plain loop: each line parsed, made a `Comment` as the importer makes one (thread
    ``nii:<video>``, numbers -1, -2, …, 184 meaning anonymous), then a row, in batches."""
    connection = raw_database(db, BIG_VIDEO_ID)  # the same schema, triggers and indexes
    sql = raw_insert_sql()
    thread_id = f"nii:{BIG_VIDEO_ID}"
    steady_memory()
    started = cpu_seconds()
    batch: list[tuple] = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            raw = orjson.loads(line)
            commands = raw["command"] or ""
            comment = Comment(
                thread_id=thread_id,
                fork="main",
                no=-number,
                vpos_ms=raw["vpos"] * 10,
                posted_at=raw["date"],
                content=raw["content"],
                commands=commands,
                is_anonymous="184" in commands.split(),
            )
            batch.append(raw_row(BIG_VIDEO_ID, comment))
            if len(batch) == BATCH:
                raw_commit(connection, sql, batch)
                batch = []
    if batch:
        raw_commit(connection, sql, batch)
    seconds = cpu_seconds() - started
    connection.close()
    return seconds


def run(size: int) -> list[Measurement]:
    with scratch() as directory:
        path = directory / f"{BIG_VIDEO_ID}.jsonl"
        lines = write_input(path, size)
        # Interleaved pairs, each into fresh databases; the median pair decides.
        base_runs, our_runs = [], []
        for attempt in range(REPEATS):
            base_runs.append(baseline(path, directory / f"base-{attempt}.db"))
            seconds, added = ours(path, directory / f"ours-{attempt}.db")
            our_runs.append(seconds)
        ratio = median_ratio(base_runs, our_runs)  # speed: ours / baseline
        base_seconds, our_seconds = statistics.median(base_runs), statistics.median(our_runs)
    if added != lines:
        raise RuntimeError(f"{lines} lines but {added} comments stored")
    ours_rate, base_rate = lines / our_seconds, lines / base_seconds
    return [
        Measurement(
            benchmark="import",
            case=f"NII JSONL, {lines:,} lines",
            measure="lines/s from the file to committed rows vs a raw json+sqlite3 loop",
            value=ours_rate,
            baseline=base_rate,
            ratio=ratio,
            target="≥ 0.5×",
            ok=ratio >= 0.5,
            unit="lines/s",
            details={
                "ours_seconds": round(our_seconds, 2),
                "baseline_seconds": round(base_seconds, 2),
            },
        )
    ]


def main() -> int:
    args = arguments(__doc__.splitlines()[0], default_size=1_000_000, tiny_size=3_000)
    return report(run(args.size), args.json or default_json("import"))


if __name__ == "__main__":
    sys.exit(main())
