"""Every benchmark, one after the other, each in its own process; one table; one JSON file.

    python benchmarks/run.py            # the sizes the targets are about (about 10 minutes)
    python benchmarks/run.py --tiny     # a smoke run of every benchmark (seconds)

Writes benchmarks/results/latest.json (the README's Performance table is that file's table).
Exit status 0 when every target is met.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from common import RESULTS, Measurement, report

HERE = Path(__file__).resolve().parent
BENCHMARKS = (
    "requests",
    "ingest",
    "recrawl",
    "fetch",
    "memory",
    "load",
    "import",
    "deadline",
    "crawl",
    "nii",
    "corpus",
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="a smoke run of every benchmark")
    parser.add_argument("--json", type=Path, default=None, help="where to write the results")
    parser.add_argument("only", nargs="*", choices=[*BENCHMARKS, []], help="just these")
    args = parser.parse_args()
    measurements: list[Measurement] = []
    with tempfile.TemporaryDirectory() as scratch:
        for name in args.only or BENCHMARKS:
            out = Path(scratch) / f"{name}.json"
            command = [sys.executable, str(HERE / f"bench_{name}.py"), "--json", str(out)]
            if args.tiny:
                command.append("--tiny")
            print(f"== {name}", flush=True)
            subprocess.run(command, check=False)
            if not out.exists():
                print(f"{name} produced no results", file=sys.stderr)
                return 2
            measurements += [Measurement(**m) for m in json.loads(out.read_text())["measurements"]]
    print("\n== all")
    default = RESULTS / ("tiny.json" if args.tiny else "latest.json")
    return report(measurements, args.json or default)


if __name__ == "__main__":
    sys.exit(main())
