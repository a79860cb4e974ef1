"""Ingest: comments a second from raw answers to committed rows, against raw sqlite3.

Ours: the bytes of every page of a full history (legacy XML and nvcomment v1 JSON, as the
emulator sent them) parsed with nicocomments' parsers and committed with `store.save_comments`,
one transaction a page, as `nico fetch` does. Baseline: plain `sqlite3` `executemany` of the
same rows already parsed into tuples, into a database with the same schema, pragmas and
transactions. Target: ours ≥ 0.5× the baseline's comments per second.

    python benchmarks/bench_ingest.py [--size 200000]
"""

from __future__ import annotations

import sqlite3
import statistics
import sys
from datetime import UTC, datetime
from pathlib import Path

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

REPEATS = 5


def capture_pages(size: int) -> dict[str, list[bytes]]:
    """The raw answers of a full walk of the big video, in both protocols."""
    from common import login

    from nicocomments import legacy, nvcomment
    from nicocomments.collect import FetchOptions, fetch_video
    from nicocomments.config import Endpoints
    from nicocomments.http import HttpSettings, make_session
    from nicocomments.sandbox import BIG_VIDEO_ID, Sandbox, build_world

    pages: dict[str, list[bytes]] = {"legacy XML": [], "nvcomment JSON": []}

    class Recording:
        """Wraps a module's fetcher so every raw answer is kept."""

        def __init__(self, module, name, key, content):
            self.module, self.name, self.key, self.content = module, name, key, content
            self.original = getattr(module, name)

        def __enter__(self):
            def recorded(*args, **kwargs):
                answer = self.original(*args, **kwargs)
                pages[self.key].append(self.content(answer))
                return answer

            setattr(self.module, self.name, recorded)

        def __exit__(self, *exc):
            setattr(self.module, self.name, self.original)

    with Sandbox(world=build_world(big_comments=size), rate_limit_per_minute=None) as sandbox:
        from nicocomments import store

        env = sandbox.env()
        endpoints = Endpoints.from_env(env)
        cookie = login(env)
        session = make_session(
            HttpSettings(interval=0), user_session=cookie, cookie_hosts=endpoints.hosts()
        )
        with scratch() as directory:
            for key, client, recording in (
                (
                    "legacy XML",
                    legacy.LegacyClient(session, endpoints),
                    Recording(legacy.client, "fetch_packet", "legacy XML", lambda answer: answer),
                ),
                (
                    "nvcomment JSON",
                    nvcomment.NvcommentClient(session, endpoints, logged_in=True),
                    Recording(
                        nvcomment.client, "fetch_threads", "nvcomment JSON", lambda r: r.content
                    ),
                ),
            ):
                engine = store.open_db(str(directory / f"{key[:3]}.db"))
                with recording:
                    fetch_video(engine, client, BIG_VIDEO_ID, FetchOptions(all_history=True))
                engine.dispose()
    return pages


def parse(key: str, answer: bytes):
    from nicocomments.legacy import parse_packet
    from nicocomments.nvcomment import load_json, parse_threads

    if key == "legacy XML":
        return parse_packet(answer).comments
    return [c for page in parse_threads(load_json(answer)) for c in page.comments]


def ours(key: str, answers: list[bytes], path: Path) -> tuple[float, int]:
    from nicocomments import store
    from nicocomments.records import VideoInfo

    engine = store.open_db(str(path))
    with engine.begin() as connection:
        store.upsert_video(connection, VideoInfo("sm9", ()), store.now_utc())
    steady_memory()
    started = cpu_seconds()
    added = 0
    for answer in answers:
        comments = parse(key, answer)
        with engine.begin() as connection:
            added += store.save_comments(connection, "sm9", None, comments)
    seconds = cpu_seconds() - started
    engine.dispose()
    return seconds, added


def baseline(rows_by_page: list[list[tuple]], path: Path) -> float:
    """Plain sqlite3: the same rows, already tuples with their timestamps formatted."""
    from nicocomments import store
    from nicocomments.records import VideoInfo

    engine = store.open_db(str(path))  # the same schema, triggers and indexes
    with engine.begin() as connection:
        store.upsert_video(connection, VideoInfo("sm9", ()), store.now_utc())
    engine.dispose()
    columns = store._INSERT_COLUMNS
    sql = (
        f"INSERT INTO comments ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "
        "ON CONFLICT (thread_id, fork, no) DO NOTHING"
    )
    connection = sqlite3.connect(path, isolation_level=None)
    for pragma in store.SQLITE_PRAGMAS:
        connection.execute(pragma)
    steady_memory()
    started = cpu_seconds()
    for rows in rows_by_page:
        connection.execute("BEGIN")
        connection.executemany(sql, rows)
        connection.execute("COMMIT")
    seconds = cpu_seconds() - started
    connection.close()
    return seconds


def run(size: int) -> list[Measurement]:
    from nicocomments import store

    at = store._INSERT_COLUMNS.index("posted_at")
    measurements = []
    pages = capture_pages(size)
    with scratch() as directory:
        for key, answers in pages.items():
            rows_by_page = []
            for answer in answers:
                rows = []
                for comment in parse(key, answer):
                    row = ("sm9", None, *comment)
                    when = datetime.fromtimestamp(row[at], UTC).strftime("%Y-%m-%d %H:%M:%S")
                    rows.append((*row[:at], when, *row[at + 1 :]))
                rows_by_page.append(rows)
            # Interleaved pairs, each into fresh databases; the median pair decides.
            base_runs, our_runs = [], []
            for attempt in range(REPEATS):
                base_runs.append(baseline(rows_by_page, directory / f"base-{key[:3]}-{attempt}.db"))
                seconds, added = ours(key, answers, directory / f"ours-{key[:3]}-{attempt}.db")
                our_runs.append(seconds)
            ratio = median_ratio(base_runs, our_runs)  # speed: ours / baseline
            base_seconds, our_seconds = statistics.median(base_runs), statistics.median(our_runs)
            ours_rate, base_rate = added / our_seconds, added / base_seconds
            measurements.append(
                Measurement(
                    benchmark="ingest",
                    case=f"{key}, {added:,} comments",
                    measure="comments/s parsed and committed vs raw sqlite3 executemany",
                    value=ours_rate,
                    baseline=base_rate,
                    ratio=ratio,
                    target="≥ 0.5×",
                    ok=ratio >= 0.5,
                    unit="comments/s",
                    details={
                        "pages": len(answers),
                        "bytes": sum(map(len, answers)),
                        "ours_seconds": [round(x, 3) for x in our_runs],
                        "baseline_seconds": [round(x, 3) for x in base_runs],
                    },
                )
            )
    return measurements


def main() -> int:
    args = arguments(__doc__.splitlines()[0], default_size=200_000, tiny_size=3_000)
    return report(run(args.size), args.json or default_json("ingest"))


if __name__ == "__main__":
    sys.exit(main())
