"""Fetch overhead: CPU time a page of `nico fetch` costs, the emulator's own time excluded.

The emulator runs in another process, so this process's CPU time is nicocomments' alone.
`nico fetch --all-history --interval 0` walks the big video; its CPU time per page is split into
the ingest work (parsing the answer and committing its rows, measured again on the same bytes)
and the overhead around it (HTTP, paging, keys, bookkeeping, the progress display).
Targets: overhead < 10 ms a page; the total is reported.

    python benchmarks/bench_fetch.py [--size 100000]
"""

from __future__ import annotations

import sys
import time

from bench_ingest import ours as ingest
from common import (
    Measurement,
    arguments,
    default_json,
    emulator,
    login,
    report,
    scratch,
)


def run(size: int) -> list[Measurement]:
    from rich.console import Console

    from nicocomments import legacy, nvcomment, store
    from nicocomments.cli.progress import RichProgress
    from nicocomments.collect import FetchOptions, fetch_video
    from nicocomments.config import Endpoints
    from nicocomments.http import HttpSettings, make_session

    measurements = []
    with emulator(size) as env, scratch() as directory:
        endpoints = Endpoints.from_env(env)
        cookie = login(env)
        for protocol, key in (("legacy", "legacy XML"), ("nvcomment", "nvcomment JSON")):
            session = make_session(
                HttpSettings(interval=0), user_session=cookie, cookie_hosts=endpoints.hosts()
            )
            answers: list[bytes] = []
            if protocol == "legacy":
                client = legacy.LegacyClient(session, endpoints)
                module, name, content = legacy, "fetch_packet", lambda answer: answer
            else:
                client = nvcomment.NvcommentClient(session, endpoints, logged_in=True)
                module, name, content = nvcomment, "fetch_threads", lambda r: r.content
            original = getattr(module, name)

            def recorded(*args, _original=original, _content=content, _kept=answers, **kwargs):
                answer = _original(*args, **kwargs)
                _kept.append(_content(answer))
                return answer

            setattr(module, name, recorded)
            engine = store.open_db(str(directory / f"{protocol}.db"))
            console = Console(file=open("/dev/null", "w"), force_terminal=True)  # noqa: SIM115
            try:
                cpu = time.process_time()
                with RichProgress(console) as progress:
                    result = fetch_video(
                        engine, client, "sm9", FetchOptions(all_history=True), progress
                    )
                cpu = time.process_time() - cpu
            finally:
                setattr(module, name, original)
                engine.dispose()
            pages = result.pages
            started = time.process_time()
            ingest(key, answers, directory / f"ingest-{protocol}.db")
            ingest_cpu = time.process_time() - started
            per_page = cpu / pages * 1000
            overhead = (cpu - ingest_cpu) / pages * 1000
            measurements.append(
                Measurement(
                    benchmark="fetch overhead",
                    case=f"{protocol}, {pages} pages",
                    measure="CPU ms a page beyond parsing and storing it (total in details)",
                    value=max(overhead, 0.0),
                    baseline=ingest_cpu / pages * 1000,
                    ratio=None,
                    target="< 10 ms a page",
                    ok=overhead < 10,
                    unit="ms/page",
                    details={
                        "total_cpu_ms_per_page": round(per_page, 2),
                        "ingest_cpu_ms_per_page": round(ingest_cpu / pages * 1000, 2),
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
