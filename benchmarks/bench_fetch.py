"""Fetch overhead: CPU time a page of `nico fetch` costs, the emulator's own time excluded.

The emulator runs in another process, so this process's CPU time is nicocomments' alone.
`nico fetch --all-history --interval 0` walks the big video with the progress display on. Its
CPU time (all threads) is split, in the same run, into the ingest work — parsing each answer and
committing its rows (search index included), timed where it happens (the main thread's CPU clock
around the parser, `store.save_comments` and `store.sync_search_index`) and judged by the ingest
benchmark — and the overhead around it: HTTP, paging, keys, bookkeeping, the progress display.
The ingest work is the baseline. Target: the overhead ≤ 0.5× of it, i.e. a page costs at most
half as much again as the work it must do. The milliseconds a page are in the details.

    python benchmarks/bench_fetch.py [--size 100000]
"""

from __future__ import annotations

import contextlib
import sys
import time

from common import (
    Measurement,
    arguments,
    cpu_seconds,
    default_json,
    emulator,
    login,
    patched,
    report,
    scratch,
)

from nicosandbox import BIG_VIDEO_ID

LIMIT = 0.5  # overhead / ingest work, per page


def timed(spent: list[float]):
    """A wrapper adding the main thread's CPU time inside the call to ``spent[0]`` (the other
    threads' work, such as the progress display's, stays overhead)."""

    def wrap(original):
        def timing(*args, **kwargs):
            started = time.thread_time()
            try:
                return original(*args, **kwargs)
            finally:
                spent[0] += time.thread_time() - started

        return timing

    return wrap


def run(size: int) -> list[Measurement]:
    from rich.console import Console

    from nicocomments import legacy, nvcomment, store
    from nicocomments.cli.progress import RichProgress
    from nicocomments.collect import FetchOptions, collect_video
    from nicocomments.config import Endpoints
    from nicocomments.http import HttpSettings, make_session

    measurements = []
    with emulator(size) as env, scratch() as directory:
        endpoints = Endpoints.from_env(env)
        cookie = login(env)
        for protocol in ("legacy", "nvcomment"):
            session = make_session(
                HttpSettings(interval=0), user_session=cookie, cookie_hosts=endpoints.hosts()
            )
            if protocol == "legacy":
                client = legacy.LegacyClient(session, endpoints)
                parsers = [(legacy.client, "parse_packet")]
            else:
                client = nvcomment.NvcommentClient(session, endpoints, logged_in=True)
                parsers = [(nvcomment.client, "answer_json"), (nvcomment.client, "parse_threads")]
            engine = store.open_db(str(directory / f"{protocol}.db"))
            console = Console(file=open("/dev/null", "w"), force_terminal=True)  # noqa: SIM115
            ingest = [0.0]
            with contextlib.ExitStack() as stack:
                # Storing includes indexing the rows for search, done in bulk at the run's end.
                for module, name in [
                    *parsers,
                    (store, "save_comments"),
                    (store, "sync_search_index"),
                ]:
                    stack.enter_context(patched(module, name, timed(ingest)))
                cpu = cpu_seconds()
                with RichProgress(console) as progress:
                    result = collect_video(
                        engine, client, BIG_VIDEO_ID, FetchOptions(all_history=True), progress
                    )
                cpu = cpu_seconds() - cpu
            engine.dispose()
            pages = result.pages
            overhead, work = (cpu - ingest[0]) / pages * 1000, ingest[0] / pages * 1000
            ratio = overhead / work
            measurements.append(
                Measurement(
                    benchmark="fetch overhead",
                    case=f"{protocol}, {pages} pages",
                    measure="CPU ms a page beyond parsing and storing it vs parsing and storing it",
                    value=overhead,
                    baseline=work,
                    ratio=ratio,
                    target=f"≤ {LIMIT}×",
                    ok=ratio <= LIMIT,
                    unit="ms/page",
                    details={
                        "overhead_cpu_ms_per_page": round(overhead, 2),
                        "ingest_cpu_ms_per_page": round(work, 2),
                        "total_cpu_ms_per_page": round(cpu / pages * 1000, 2),
                        "comments": result.comments_added,
                    },
                )
            )
    return measurements


def main() -> int:
    args = arguments(__doc__.splitlines()[0], default_size=100_000, tiny_size=3_000)
    return report(run(args.size), args.json or default_json("fetch"))


if __name__ == "__main__":
    sys.exit(main())
