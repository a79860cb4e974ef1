"""Ingest: comments a second from raw answers to committed rows, against raw sqlite3.

Ours: the bytes of every page of a full history (legacy XML and nvcomment v1 JSON, as the
emulator sent them) parsed with nicocomments' parsers and committed with `store.save_comments`,
one transaction a page, as `nico fetch` does. Baseline: plain `sqlite3` `executemany` of the
same rows already parsed into tuples, into a database with the same schema, pragmas and
transactions, the two taking turns page by page (CPU time). Target: ours ≥ 0.5× the
baseline's comments per second (the median of five such pairs).

    python benchmarks/bench_ingest.py [--size 200000]
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

from common import (
    Measurement,
    arguments,
    cpu_seconds,
    default_json,
    in_turn,
    median_ratio,
    patched,
    raw_commit,
    raw_database,
    raw_insert_sql,
    raw_row,
    report,
    scratch,
    steady_memory,
)

from nicosandbox import BIG_VIDEO_ID

REPEATS = 5


def capture_pages(size: int) -> dict[str, list[bytes]]:
    """The raw answers of a full walk of the big video, in both protocols."""
    from common import login

    from nicocomments import legacy, nvcomment
    from nicocomments.collect import FetchOptions, collect_video
    from nicocomments.config import Endpoints
    from nicocomments.http import HttpSettings, make_session
    from nicosandbox import Sandbox, build_world

    pages: dict[str, list[bytes]] = {"legacy XML": [], "nvcomment JSON": []}

    def keeping(key, content):
        """Wraps a module's fetcher so every raw answer is kept."""

        def wrap(original):
            def recorded(*args, **kwargs):
                answer = original(*args, **kwargs)
                pages[key].append(content(answer))
                return answer

            return recorded

        return wrap

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
                    patched(legacy.client, "fetch_packet", keeping("legacy XML", lambda a: a)),
                ),
                (
                    "nvcomment JSON",
                    nvcomment.NvcommentClient(session, endpoints, logged_in=True),
                    patched(
                        nvcomment.client,
                        "fetch_threads",
                        keeping("nvcomment JSON", lambda r: r.content),
                    ),
                ),
            ):
                engine = store.open_db(str(directory / f"{key[:3]}.db"))
                with recording:
                    collect_video(engine, client, BIG_VIDEO_ID, FetchOptions(all_history=True))
                engine.dispose()
    return pages


def parse(key: str, answer: bytes):
    from nicocomments.http import parse_json
    from nicocomments.legacy import parse_packet
    from nicocomments.nvcomment import parse_threads

    if key == "legacy XML":
        return parse_packet(answer).comments
    return [c for page in parse_threads(parse_json(answer)) for c in page.comments]


def pair(
    key: str, answers: list[bytes], rows_by_page: list[list[tuple]], base: Path, path: Path
) -> tuple[float, float, int]:
    """Seconds of the baseline and of ours, each into a fresh database, page by page in turn
    (`in_turn`); and the comments ours added.

    Ours: a page's bytes parsed and saved as nico fetch saves a page (with change tracking:
    bench_recrawl measures it). The baseline, plain sqlite3: the same rows, already tuples with
    their timestamps formatted, into the same schema, triggers and indexes."""
    from nicocomments import store
    from nicocomments.records import VideoInfo

    raw, sql = raw_database(base, BIG_VIDEO_ID), raw_insert_sql()
    engine = store.open_db(str(path))
    with engine.begin() as connection:
        store.upsert_video(connection, VideoInfo(BIG_VIDEO_ID, ()), store.now_utc())
    run = store.start_run(engine, video_id=BIG_VIDEO_ID, protocol="nvcomment", mode="window")
    seconds, added = {"base": 0.0, "ours": 0.0}, 0
    steady_memory()
    for page, (answer, rows) in enumerate(zip(answers, rows_by_page, strict=True)):
        for side in in_turn(page, ("base", "ours")):
            started = cpu_seconds()
            if side == "base":
                raw_commit(raw, sql, rows)
            else:
                comments = parse(key, answer)
                with engine.begin() as connection:
                    added += store.save_comments(
                        connection, BIG_VIDEO_ID, run, comments, observe=True
                    )
            seconds[side] += cpu_seconds() - started
    raw.close()
    engine.dispose()
    return seconds["base"], seconds["ours"], added


def run(size: int) -> list[Measurement]:
    measurements = []
    pages = capture_pages(size)
    with scratch() as directory:
        for key, answers in pages.items():
            rows_by_page = [
                [raw_row(BIG_VIDEO_ID, comment) for comment in parse(key, answer)]
                for answer in answers
            ]
            # Pairs interleaved page by page, each into fresh databases; the median decides.
            base_runs, our_runs = [], []
            for attempt in range(REPEATS):
                base_s, ours_s, added = pair(
                    key,
                    answers,
                    rows_by_page,
                    directory / f"base-{key[:3]}-{attempt}.db",
                    directory / f"ours-{key[:3]}-{attempt}.db",
                )
                base_runs.append(base_s)
                our_runs.append(ours_s)
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
