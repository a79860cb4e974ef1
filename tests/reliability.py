"""What the reliability tests do, in one place: the tests use these figures, and the README's
"Reliability" section is generated from them (tests/docgen.py), so it says what the suite does.
"""

from __future__ import annotations

import os

from nicosandbox import FAULT_KINDS, ROUTE_GROUPS, FaultPlan

FAULT_RATE = 0.2  # of the requests to every route group
DEFAULT_FAULT_SEEDS = (3, 11, 20)  # each a whole run of each protocol: it must succeed first time


def _seeds(text: str | None) -> tuple[int, ...]:
    """``NICO_FAULT_SEEDS=0-99`` (or ``1,5,9``) runs the 20 % tests with other seeds."""
    if not text:
        return DEFAULT_FAULT_SEEDS
    seeds: list[int] = []
    for part in text.split(","):
        low, _, high = part.partition("-")
        seeds.extend(range(int(low), int(high or low) + 1))
    return tuple(seeds)


FAULT_SEEDS = _seeds(os.environ.get("NICO_FAULT_SEEDS"))
# Short waits, so that a run with faults takes seconds: no backoff, an answer has 2 s (a
# trickled one is given up on then), more retries than the default.
FAULT_OPTIONS = ("--timeout", "2", "--retries", "10")


def fault_plan(seed: int) -> FaultPlan:
    """Every fault kind the emulator has, on every route group, at `FAULT_RATE`."""
    return FaultPlan(
        rate=FAULT_RATE,
        kinds=FAULT_KINDS,
        targets=ROUTE_GROUPS,
        seed=seed,
        retry_after=0,
        slow_seconds=0.05,
    )


def assert_faults_met(stats, group: str, seed: int | None = None) -> None:
    """The run met faults, on the comments' own route group too (and, with ``seed``, what fell
    on that group is remembered for `assert_every_kind_drawn`)."""
    assert sum(stats.faulted.values()) >= 3 and stats.faulted[group] >= 1, stats.fault_kinds
    if seed is not None:
        DRAWN[(group, seed)] = {kind for (g, kind) in stats.fault_kinds if g == group}


# (route group, seed) → the fault kinds a seeded 20 % run drew on that group.
DRAWN: dict[tuple[str, int], set[str]] = {}


def assert_every_kind_drawn(group: str, run_seed) -> None:
    """Over `FAULT_SEEDS`, every kind of `FAULT_KINDS` fell on ``group`` at least once, so
    the 20 % runs' success says something about each. Seeds whose run did not happen in this
    session (a ``-k`` selection) are run now by ``run_seed(seed)``."""
    drawn: set[str] = set()
    for seed in FAULT_SEEDS:
        if (group, seed) not in DRAWN:
            run_seed(seed)
        drawn |= DRAWN[(group, seed)]
    assert drawn == set(FAULT_KINDS), f"never drawn on {group}: {set(FAULT_KINDS) - drawn}"


# The route groups each protocol's `nico fetch` uses (account: `nico login`, which never
# repeats a password or a one-time code on its own, so faults there fail the login by design).
PROTOCOL_GROUPS = {
    "legacy": ("flapi", "msg", "www"),
    "nvcomment": ("www", "nvapi", "nvcomment"),
}
LIVE_GROUPS = ("live", "live2", "mpn")  # watch pages, the timeshift API, the message server


# --- hostile input: each case runs nico in a subprocess under these limits -------------------

# Bytes of data memory (RLIMIT_DATA: the heap and private writable mappings, what a process
# fills as it reads). Not RLIMIT_AS: address space merely reserved (thread stacks, malloc's
# arenas) counts there, and a plain fetch reserves 640 MB while it uses 160 MB (200 MB of data).
MEMORY_LIMIT = 500 * 2**20
TIME_LIMIT = 120  # seconds a run may take before the test fails (a hang)


def run_limited(*args, cwd=None):
    """``python -m nicocomments *args`` under `MEMORY_LIMIT` and `TIME_LIMIT`: a run that
    follows its input's size instead of staying bounded dies instead of passing."""
    import resource
    import subprocess
    import sys

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_DATA, (MEMORY_LIMIT, MEMORY_LIMIT))
        resource.setrlimit(resource.RLIMIT_CPU, (TIME_LIMIT, TIME_LIMIT))

    return subprocess.run(
        [sys.executable, "-m", "nicocomments", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=TIME_LIMIT,
        preexec_fn=limit,
        cwd=cwd,
    )


def one_error_line(stderr: str) -> str:
    """The one ``Error: …`` line that ends the run's stderr (after its progress display, if
    any): no traceback, no "a bug in nicocomments"."""
    lines = stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("Error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], stderr[-2000:]
    assert "Traceback" not in stderr and "a bug in nicocomments" not in stderr, stderr[-2000:]
    return errors[0]


# --- kills ------------------------------------------------------------------------------------

KILLS = 6  # SIGKILLs at seeded random moments of one whole-history fetch, per protocol
KILL_SEED = 8


def count_cases(module) -> int:
    """How many tests a test module holds, each parametrized case counted (for the README)."""
    total = 0
    for name, function in vars(module).items():
        if not name.startswith("test_") or not callable(function):
            continue
        cases = 1
        for mark in getattr(function, "pytestmark", []):
            if mark.name == "parametrize":
                cases *= len(mark.args[1])
        total += cases
    return total
