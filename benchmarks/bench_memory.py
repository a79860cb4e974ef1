"""Memory: peak RSS of `nico fetch --all-history` of a 1,000,000-comment video.

The emulator runs in its own process; `nico fetch` runs as a child of this one and its peak
resident set size is read from the kernel (`wait4`). The baseline is the same program doing
nothing (`nico --version`: the interpreter and nicocomments' imports), so the ratio says how
much the walk itself adds. Target: under 200 MB, whatever the history's length (pages are
parsed, stored and dropped one at a time; nothing keeps the whole history).

    python benchmarks/bench_memory.py [--size 1000000]
"""

from __future__ import annotations

import os
import subprocess
import sys

from common import Measurement, arguments, default_json, emulator, login, report, scratch

from nicosandbox import BIG_VIDEO_ID

LIMIT_MB = 200


def peak_rss_mb(arguments: list[str], env: dict[str, str]) -> tuple[float, int]:
    """(peak RSS in MB, exit status) of ``python -m nicocomments …``."""
    process = subprocess.Popen(
        [sys.executable, "-m", "nicocomments", *arguments],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_maxrss / 1024, process.returncode  # ru_maxrss is in KiB on Linux


def run(size: int) -> list[Measurement]:
    measurements = []
    with emulator(size) as endpoints, scratch() as directory:
        env = {
            **os.environ,
            **endpoints,
            "NICO_USER_SESSION": login(endpoints),
            "NICO_CONFIG_DIR": str(directory / "config"),
        }
        idle, _ = peak_rss_mb(["--version"], env)
        for protocol in ("legacy", "nvcomment"):
            db = directory / f"{protocol}.db"
            peak, status = peak_rss_mb(
                [
                    "fetch",
                    BIG_VIDEO_ID,
                    "--all-history",
                    "--interval",
                    "0",
                    "--protocol",
                    protocol,
                    "--db",
                    str(db),
                ],
                env,
            )
            if status != 0:
                raise RuntimeError(f"nico fetch --protocol {protocol} exited with {status}")
            measurements.append(
                Measurement(
                    benchmark="memory",
                    case=f"{protocol}, {size:,} comments",
                    measure="peak RSS of the whole fetch vs nico --version",
                    value=peak,
                    baseline=idle,
                    ratio=peak / idle,
                    target=f"< {LIMIT_MB} MB",
                    ok=peak < LIMIT_MB,
                    unit="MB",
                    details={"database_mb": round(db.stat().st_size / 2**20, 1)},
                )
            )
    return measurements


def main() -> int:
    args = arguments(__doc__.splitlines()[0], default_size=1_000_000, tiny_size=3_000)
    return report(run(args.size), args.json or default_json("memory"))


if __name__ == "__main__":
    sys.exit(main())
