"""What every benchmark shares: results, the table and JSON they print, the emulator in a process.

Every benchmark compares nicocomments with a baseline measured in the same run on the same
machine (a ratio), so the numbers mean the same on a fast or a slow computer. Nothing here is
asserted by the test suite; tests only run each benchmark at a tiny size so it cannot rot.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import platform
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from nicocomments.records import COMMENT_FIELDS

RESULTS = Path(__file__).resolve().parent / "results"
# The columns `store.save_comments` writes: the video, the run, then the `Comment` fields.
RAW_COLUMNS = ("video_id", "run_id", *COMMENT_FIELDS)
_POSTED_AT = COMMENT_FIELDS.index("posted_at")


@dataclass
class Measurement:
    benchmark: str  # e.g. "ingest"
    case: str  # e.g. "legacy XML"
    measure: str  # what value and baseline are
    value: float
    baseline: float | None
    ratio: float | None  # the number the target is about
    target: str  # e.g. "≥ 0.5×"
    ok: bool
    unit: str = ""
    details: dict = field(default_factory=dict)


def arguments(description: str, default_size: int, tiny_size: int) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--size", type=int, default=default_size, help="comments (or rows)")
    parser.add_argument(
        "--tiny", action="store_true", help=f"a smoke run of {tiny_size} (used by the tests)"
    )
    parser.add_argument("--json", type=Path, help="write the results here as JSON")
    args = parser.parse_args()
    if args.tiny:
        args.size = tiny_size
    return args


def machine() -> dict:
    cpu = platform.processor() or ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
    }


def report(measurements: list[Measurement], json_path: Path | None = None) -> int:
    """Print the table; write JSON; exit status 0 when every target is met."""
    header = ("benchmark", "case", "ours", "baseline", "ratio", "target", "ok")
    rows = [header]
    for m in measurements:
        rows.append(
            (
                m.benchmark,
                m.case,
                f"{figure(m.value)} {m.unit}".strip(),
                "" if m.baseline is None else f"{figure(m.baseline)} {m.unit}".strip(),
                "" if m.ratio is None else f"{m.ratio:.2f}",
                m.target,
                "yes" if m.ok else "NO",
            )
        )
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(header))]
    for index, row in enumerate(rows):
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))
        if index == 0:
            print("  ".join("-" * width for width in widths))
    payload = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(),
        "command": command(),
        "measurements": [asdict(m) for m in measurements],
    }
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    return 0 if all(m.ok for m in measurements) else 1


def command() -> str:
    """How this run was started, as run from the project's directory (kept with its results:
    the README says how to run it again)."""
    return " ".join(["python", f"benchmarks/{Path(sys.argv[0]).name}", *sys.argv[1:]])


def figure(value: float) -> str:
    """A value as the tables show it (this one and the README's, via tests/docgen.py)."""
    if float(value).is_integer() or value >= 1000:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


@contextlib.contextmanager
def emulator(big_comments: int) -> Iterator[dict[str, str]]:
    """The emulator in its own process (so its CPU and memory are not ours), without the
    60-a-minute limit; yields the NICO_*_URL variables pointing at it."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "nicocomments",
            "sandbox",
            "serve",
            "--big-comments",
            str(big_comments),
            "--rate-limit",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        env: dict[str, str] = {}
        while len(env) < 4:
            line = process.stdout.readline()
            if not line:
                raise RuntimeError("the emulator did not start")
            if line.startswith("export "):
                name, value = line[len("export ") :].strip().split("=", 1)
                env[name] = value
        yield env
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def login(env: dict[str, str]) -> str:
    """A user_session for the emulator's demo account."""
    from nicocomments import auth
    from nicocomments.config import Endpoints
    from nicocomments.http import HttpSettings, make_session
    from nicosandbox import DEMO_EMAIL, DEMO_PASSWORD

    session = make_session(HttpSettings(interval=0))
    return auth.login_with_password(
        session, Endpoints.from_env(env), DEMO_EMAIL, DEMO_PASSWORD, lambda attempt: None
    )


@contextlib.contextmanager
def scratch() -> Iterator[Path]:
    """A temporary directory for databases and generated inputs (never committed)."""
    with tempfile.TemporaryDirectory(prefix="nico-bench-") as directory:
        yield Path(directory)


def cpu_seconds() -> float:
    """The clock of the in-process comparisons: this process's CPU time. Both sides of each
    comparison run single-threaded in this process, and CPU time leaves out what the rest of
    the machine (or the virtual machine's host) takes, which makes wall-clock ratios wobble
    by a third from run to run here."""
    return time.process_time()


def in_turn(page: int, sides: tuple) -> tuple:
    """The two ``sides`` of a pair in the order they run on page ``page``: they take turns page
    by page, so that a slow moment of the machine, which lasts longer than a page, slows both
    alike, and which goes first alternates."""
    return sides if page % 2 else sides[::-1]


def median_ratio(top: list[float], bottom: list[float]) -> float:
    """The median of the runs' ratios, run by run: runs are interleaved, so a slow moment of
    the machine slows both sides of one pair, and the median ignores an odd pair out."""
    return statistics.median(t / b for t, b in zip(top, bottom, strict=True))


def steady_memory() -> None:
    """Before a timed section: collect, then freeze what is alive, so the garbage collector
    does not charge one side for the other side's prepared data."""
    gc.collect()
    gc.freeze()


@contextlib.contextmanager
def patched(module, name: str, wrap: Callable[[Callable], Callable]) -> Iterator[None]:
    """``module.name`` replaced by ``wrap(original)`` inside the block, restored after it: how
    a benchmark looks inside a call it does not make itself (to time it, or keep its answer)."""
    original = getattr(module, name)
    setattr(module, name, wrap(original))
    try:
        yield
    finally:
        setattr(module, name, original)


# --- the raw sqlite3 baselines of ingest and import -----------------------------------------


def raw_database(path: Path, video_id: str) -> sqlite3.Connection:
    """A plain `sqlite3` connection (autocommit, nicocomments' pragmas) to a new database with
    nicocomments' schema, triggers and indexes, the video's row already in place."""
    from nicocomments import store
    from nicocomments.records import VideoInfo

    engine = store.open_db(str(path))
    with engine.begin() as connection:
        store.upsert_video(connection, VideoInfo(video_id, ()), store.now_utc())
    engine.dispose()
    connection = sqlite3.connect(path, isolation_level=None)
    for pragma in store.SQLITE_PRAGMAS:
        connection.execute(pragma)
    return connection


def raw_insert_sql() -> str:
    """The baselines' INSERT: `RAW_COLUMNS` with plain placeholders, duplicates skipped as
    `store.save_comments` skips them."""
    marks = ", ".join("?" * len(RAW_COLUMNS))
    return (
        f"INSERT INTO comments ({', '.join(RAW_COLUMNS)}) VALUES ({marks}) "
        "ON CONFLICT (thread_id, fork, no) DO NOTHING"
    )


def raw_row(video_id: str, comment: Sequence) -> tuple:
    """A `Comment` as a row of `raw_insert_sql`: no run, ``posted_at`` formatted as SQLite
    stores it (`store` has the database convert it instead)."""
    at = _POSTED_AT
    when = datetime.fromtimestamp(comment[at], UTC).strftime("%Y-%m-%d %H:%M:%S")
    return (video_id, None, *comment[:at], when, *comment[at + 1 :])


def raw_commit(connection: sqlite3.Connection, sql: str, rows: Iterable[tuple]) -> None:
    """One transaction of rows, as `nico fetch` commits a page."""
    connection.execute("BEGIN")
    connection.executemany(sql, rows)
    connection.execute("COMMIT")


def default_json(name: str) -> Path:
    return RESULTS / f"{name}.json"
