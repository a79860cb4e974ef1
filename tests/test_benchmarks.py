"""Every benchmark runs (at a tiny size) and reports what it measures: so none can rot.

No timing is asserted here: speed is judged by the benchmarks themselves, as ratios against
baselines run beside them (benchmarks/README in the main README's Performance section).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT

EXPECTED = {
    "requests",
    "ingest",
    "recrawl",
    "fetch overhead",
    "memory",
    "load",
    "import",
    "deadline",
    "crawl overhead",
    "crawl requests",
    "nii",
    "corpus",
}


@pytest.mark.slow
def test_every_benchmark_runs_and_reports(tmp_path):
    out = tmp_path / "results.json"
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--tiny", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    # 0: every target met; 1: some target missed (tiny sizes mean nothing); 2: a benchmark broke.
    assert result.returncode in (0, 1), result.stdout[-3000:] + result.stderr[-3000:]
    payload = json.loads(out.read_text())
    assert {"cpu", "cores", "python", "sqlite"} <= set(payload["machine"])
    # How to run it again (the README's table cites the command of each run of its own).
    assert payload["command"] == f"python benchmarks/run.py --tiny --json {out}"
    measurements = payload["measurements"]
    assert {m["benchmark"] for m in measurements} == EXPECTED
    for m in measurements:
        assert m["value"] >= 0 and m["target"] and isinstance(m["ok"], bool), m
        if m["ratio"] is not None:
            assert m["ratio"] > 0, m
    # The NII import beside the bare copy in the dataset's own layout (its ceiling; the
    # benchmark stops if that copy's columns are not the dataset's).
    nii = next(m for m in measurements if m["benchmark"] == "nii" and m["unit"] == "lines/s")
    details = nii["details"]
    assert details["bare_layout_s"] > 0
    assert details["ceiling_ratio"] == pytest.approx(details["bare_s"] / details["bare_layout_s"])
    requests = [m for m in measurements if m["benchmark"] == "requests"]
    # The request budget is a count, not a timing: it must hold at any size.
    assert requests and all(m["ok"] for m in requests)
    assert "benchmark" in result.stdout and "target" in result.stdout
