"""Generates the README's command reference and schema (run by cog; checked by test_docs.py).

    cog -r README.md          # regenerate
    cog --check README.md     # what tests/test_docs.py does

The reference is built from the commands' own definitions rather than from rich's --help
rendering, so it changes only when the commands do.
"""

from __future__ import annotations

import inspect
import re

import typer

from nicocomments.cli import app
from nicocomments.schema import metadata


def _command(*path: str):
    command = typer.main.get_command(app)
    for part in path:
        command = command.commands[part]
    return command


def help_markdown(*path: str) -> str:
    """Usage, description and an options table for ``nico <path>``."""
    command = _command(*path)
    ctx = command.make_context("nico " + " ".join(path), [], resilient_parsing=True)
    usage = " ".join(command.collect_usage_pieces(ctx))
    lines = [f"Usage: `nico {' '.join(path)} {usage}`", ""]
    description = inspect.cleandoc(command.help or "")
    description = description.split("**Example", 1)[0].strip()
    lines += [description.replace("\n", " ").replace("  ", "\n\n"), ""]
    rows = []
    for param in command.params:
        if param.name in ("help",):
            continue
        if param.param_type_name == "argument":
            name = f"`{param.name.upper()}`"
        else:
            flags = ", ".join(f"`{o}`" for o in [*param.opts, *param.secondary_opts])
            metavar = getattr(param, "metavar", None)
            name = flags + (f" {metavar}".replace("|", "\\|") if metavar else "")
        notes = []
        default = param.default
        if (
            param.param_type_name == "option"
            and default not in (None, False, 0, ())
            and not (callable(default))
        ):
            notes.append(f"default {default}")
        if getattr(param, "envvar", None):
            notes.append(f"env {param.envvar}")
        text = (getattr(param, "help", None) or "").replace("|", "\\|").replace("\n", " ")
        if notes:
            text += f" ({'; '.join(notes)})"
        rows.append(f"| {name} | {text} |")
    if rows:
        lines += ["| argument / option | meaning |", "|---|---|", *rows]
    return "\n".join(lines).strip() + "\n"


TYPE_NAMES = {
    "String": "text",
    "Text": "text",
    "Integer": "integer",
    "BigInteger": "integer",
    "SmallInteger": "integer",
    "Boolean": "boolean",
    "Float": "real number",
    "UTCDateTime": "timestamp (UTC)",
}


def schema_markdown() -> str:
    """Every table and column with its type and meaning, from nicocomments.schema."""
    out = []
    for table in metadata.sorted_tables:
        out.append(f"**`{table.name}`**\n")
        out.append("| column | type | meaning |")
        out.append("|---|---|---|")
        for column in table.columns:
            kind = TYPE_NAMES.get(type(column.type).__name__, type(column.type).__name__)
            if column.primary_key:
                kind += ", key"
            elif not column.nullable:
                kind += ", not null"
            out.append(f"| `{column.name}` | {kind} | {(column.doc or '').replace('|', '/')} |")
        unique = [c for c in table.constraints if type(c).__name__ == "UniqueConstraint"]
        for constraint in unique:
            names = ", ".join(c.name for c in constraint.columns)
            out.append(f"\nUnique on ({names}).")
        out.append("")
    return "\n".join(out)


def several_writers_markdown() -> str:
    """What the tests of several writers, damaged and read-only databases and export targets
    check, from their own parameters (tests/test_several_writers.py and its neighbours)."""
    from nicocomments.store.db import BUSY_TIMEOUT_S
    from nicocomments.store.write import WRITE_ATTEMPTS, WRITE_BACKOFF_S
    from tests import test_damaged_and_read_only as damaged
    from tests import test_export_paths as export_paths
    from tests import test_several_writers as writers

    def fetches(videos) -> str:
        return f"{len(videos)} × `nico fetch --all-history` ({', '.join(videos)})"

    commands = [" ".join(c[:2]) if c[0] == "db" else c[0] for c in damaged.WRITERS]
    readers = sorted({c[0] for c in damaged.READERS})
    kinds = len(damaged.READ_ONLY)
    cases = len(damaged.DAMAGE) * len(damaged.READERS + damaged.WRITERS)
    rows = [
        (
            "a new SQLite file, an empty PostgreSQL database",
            f"{fetches(writers.THREE_VIDEOS)} at the same moment",
            "all exit 0; every video's comments exactly the emulator's; every run completed",
        ),
        (
            "SQLite and PostgreSQL",
            f"`nico fetch --all-history {writers.ONE_VIDEO_TWICE[0]}` "
            f"{len(writers.ONE_VIDEO_TWICE)} times at the same moment",
            "all exit 0; the video's comments exactly the emulator's, each stored once",
        ),
        (
            f"a damaged SQLite file ({len(damaged.DAMAGE)} kinds of damage)",
            f"each of {', '.join(readers)}, {', '.join(commands)} ({cases} cases)",
            "exit 7 with the way out in one line; not one byte of the file changed",
        ),
        (
            f"a read-only SQLite database ({', '.join(damaged.READ_ONLY)}: {kinds} cases)",
            f"{', '.join(readers)}; {', '.join(commands)}",
            "readers print what they print on a writable file and write nothing; "
            "writers exit 7 saying it is read-only",
        ),
        (
            "`nico export -o` "
            + ", ".join(f"/dev/{name}" for name in export_paths.DEVICES)
            + ", a FIFO, a symlink, /dev/fd/N, `>(gzip …)`",
            "one export each",
            "written through (/dev/full: exit 2, no space left); each stays what it was",
        ),
    ]
    out = ["| where | what runs | what the tests require |", "|---|---|---|"]
    out += [f"| {where} | {what} | {required} |" for where, what, required in rows]
    out += [
        "",
        f"A writer waits up to {BUSY_TIMEOUT_S} s for SQLite's write lock, and a transaction "
        f"that still meets another writer (or loses a PostgreSQL deadlock) runs again, "
        f"{WRITE_ATTEMPTS} attempts in all, {WRITE_BACKOFF_S * 1000:.0f} ms apart and doubling.",
    ]
    return "\n".join(out) + "\n"


def cog_out(text: str) -> None:
    import cog  # only available while cog runs

    cog.out(text)


def performance_markdown() -> str:
    """The table of benchmarks/results/latest.json (written by `python benchmarks/run.py`)."""
    payload, large = _results()
    machine = payload["machine"]
    figure = _benchmarks_common().figure
    out = [
        f"Measured {payload['when'][:10]} on {machine['cpu']} ({machine['cores']} cores), "
        f"Python {machine['python']}, SQLite {machine['sqlite']}:",
        "",
        "| benchmark | case | nicocomments | baseline | ratio | target | met |",
        "|---|---|---|---|---|---|---|",
    ]
    for m in payload["measurements"] + [m for run in large for m in run["measurements"]]:
        unit = f" {m['unit']}" if m["unit"] else ""
        baseline = "" if m["baseline"] is None else f"{figure(m['baseline'])}{unit}"
        ratio = "" if m["ratio"] is None else f"{m['ratio']:.2f}"
        out.append(
            f"| {m['benchmark']} | {m['case']} | {figure(m['value'])}{unit} | {baseline} "
            f"| {ratio} | {m['target']} | {'yes' if m['ok'] else '**no**'} |"
        )
    if large:
        rows = sum(len(run["measurements"]) for run in large)
        out += ["", f"The last {rows} rows are runs of their own, at the issue's size:", ""]
        out += [f"- {run['when'][:10]}: `{run['command']}`" for run in large]
    return "\n".join(out) + "\n"


def nii_ceiling_markdown() -> str:
    """The NII rows' details: the bare copy, the same written by month and in the dataset's
    layout (its ceiling: the most any import writing that layout could reach), and ours."""
    latest, large = _results()
    found = [
        (run, m)
        for run in (latest, *large)
        for m in run["measurements"]
        if m["benchmark"] == "nii" and "bare_layout_s" in (m.get("details") or {})
    ]
    if not found:
        return "  - (no run with these details yet)\n"
    out = []
    for run, m in found:
        d, lines = m["details"], m["case"].rsplit(", ", 1)[-1]
        out.append(
            f"  - {lines} ({run['when'][:10]}): the bare copy {d['bare_s']:.1f} s; written by "
            f"month {d['bare_by_month_s']:.1f} s; in the dataset's layout "
            f"{d['bare_layout_s']:.1f} s, a ceiling of {d['ceiling_ratio']:.2f}×; "
            f"`nico import` {d['ours_s']:.1f} s ({m['ratio']:.2f}×)."
        )
    below = all(m["details"]["ceiling_ratio"] < float(m["target"].strip("≥ ×")) for _, m in found)
    verdict = "under" if below else "not always under"
    out.append(f"\n  In these runs the ceiling is {verdict} the target itself.")
    return "\n".join(out) + "\n"


def _results() -> tuple[dict, list[dict]]:
    """benchmarks/results/latest.json, and the runs of their own at the issue's sizes
    (`LARGE_RUNS`, those present)."""
    import json
    from pathlib import Path

    results = Path(__file__).resolve().parents[1] / "benchmarks" / "results"

    def read(name: str) -> dict:
        return json.loads((results / name).read_text(encoding="utf-8"))

    return read("latest.json"), [read(n) for n in LARGE_RUNS if (results / n).exists()]


#: Results of runs at the issue's 100 million (kept in git; the table's last rows, each with
#: the command that made it).
LARGE_RUNS = ("corpus-100m.json", "nii-100m.json")


def _benchmarks_common():
    """benchmarks/common.py, loaded by path (benchmarks/ is scripts, not a package), for the
    figures to read as in the benchmarks' own table."""
    import importlib.util
    import sys
    from pathlib import Path

    name = "_nico_benchmarks_common"
    if name not in sys.modules:
        path = Path(__file__).resolve().parents[1] / "benchmarks" / "common.py"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # before running it: its dataclass looks itself up there
        spec.loader.exec_module(module)
    return sys.modules[name]


# --- example outputs, from running them on `nico demo`'s database ------------------------------

README_CLOCK = "2026-11-27T01:27:00+00:00"  # "now" for the runs the README shows
# The live examples' emulator: its programs' times from this anchor, its clock 100 s past it.
README_LIVE_ANCHOR = 1795742820  # 2026-11-27T01:27:00Z
HOME = "/home/me"  # where the README's reader runs them


class Demo:
    """What the README's examples run on: a folder holding ``nico-demo.db`` as ``nico demo``
    makes it, the emulator it came from (running, with a logged-in session, for the examples
    that fetch), and a fixed clock for the times runs record. Commands run in-process, as a
    user would type them in that folder (shown as `HOME`). Progress bars are left out: they
    show the time."""

    def __init__(self) -> None:
        import atexit
        import shutil
        import tempfile
        from pathlib import Path

        from nicosandbox import Sandbox, build_world

        self.folder = Path(tempfile.mkdtemp(prefix="nico-readme-"))
        self.sandbox = Sandbox(world=build_world()).start()
        atexit.register(shutil.rmtree, self.folder, ignore_errors=True)
        atexit.register(self.sandbox.stop)
        self.config = self.folder / ".config" / "nicocomments"  # ~/.config/nicocomments
        self.run("nico demo --db nico-demo.db")
        self.run("nico login --email demo@example.com --password-stdin", stdin="demo-password\n")
        # Live programs on an emulator of their own, whose clock stands still (the README shows
        # dates), logged in as the demo account.
        self.live_sandbox = Sandbox(
            world=build_world(big_comments=1000, live_anchor=README_LIVE_ANCHOR),
            clock=lambda: README_LIVE_ANCHOR + 100,
        ).start()
        atexit.register(self.live_sandbox.stop)
        demo_account = self.live_sandbox.world.accounts["demo@example.com"]
        self.live_session = self.live_sandbox.sessions.create(demo_account)

    def cookies_file(self, relative: str) -> None:
        """A browser's cookies.txt holding the logged-in demo session (as exporters write it)."""
        import json

        session = json.loads((self.config / "session.json").read_text())["user_session"]
        path = self.folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            "# Netscape HTTP Cookie File\n"
            f".nicovideo.jp\tTRUE\t/\tTRUE\t2147483647\tuser_session\t{session}\n"
        )

    def run(
        self, command: str, stdin: str | None = None, *, terminal: bool = False, live: bool = False
    ) -> str:
        """The output (stdout and stderr, as a terminal shows them) of one command line: a
        ``nico …`` command, optionally piped into ``head -N``; ``#`` starts a comment, ``~`` is
        the folder. ``--port N`` runs on a free port, shown as N (N may be taken here), and
        the emulator it starts stops at once, as after Ctrl-C. ``terminal``: stdin is a
        terminal, so nico prompts (for ``nico login``), and ``stdin`` is what is typed.
        ``live``: against the live examples' emulator, logged in there."""
        import os
        import shlex
        from contextlib import ExitStack
        from datetime import datetime
        from unittest import mock

        from typer.testing import CliRunner

        words = shlex.split(command, comments=True)
        head = None
        if "|" in words:
            words, pipe = words[: words.index("|")], words[words.index("|") + 1 :]
            assert pipe[0] == "head" and pipe[1].startswith("-"), command
            head = int(pipe[1][1:])
        assert words[0] == "nico", command
        words = [self._home(word) for word in words]
        shown_port = None
        if "--port" in words:
            at = words.index("--port") + 1
            shown_port, words[at] = words[at], "0"
        now = datetime.fromisoformat(README_CLOCK)
        env = {**self.sandbox.env(), "NICO_CONFIG_DIR": str(self.config)}
        env.update(NICO_DB=None, NICO_USER_SESSION=None, NICO_DEBUG=None, COLUMNS=None)
        if live:
            env.update(self.live_sandbox.env(), NICO_USER_SESSION=self.live_session)
        before = os.getcwd()
        with ExitStack() as stack:
            for name in (
                "nicocomments.store.now_utc",
                "nicocomments.store.write.now_utc",
                "nicocomments.store.runs.now_utc",
                "nicocomments.store.collections.now_utc",
            ):
                stack.enter_context(mock.patch(name, lambda: now))
            stack.enter_context(mock.patch("nicocomments.store.db.datetime", _Clock))
            if terminal:
                stack.enter_context(mock.patch("nicocomments.cli.account.sys", _Terminal()))
            stack.enter_context(mock.patch("nicosandbox.Sandbox.serve_forever", _serve_once))
            for name in ("fetch", "sandbox", "live"):
                quiet = mock.patch(
                    f"nicocomments.cli.{name}.RichProgress", lambda console: _Quiet()
                )
                stack.enter_context(quiet)
            stack.enter_context(mock.patch("nicocomments.cli.crawl._View", lambda *a: _Quiet()))
            os.chdir(self.folder)
            try:
                result = CliRunner().invoke(app, words[1:], input=stdin, env=env)
            finally:
                os.chdir(before)
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            command,
            result.exception,
        )
        # The folder is a temporary one; the README's reader is in their own.
        output = result.output.replace(str(self.folder), HOME)
        if shown_port is not None:
            port = re.search(r"127\.0\.0\.1:(\d+)", output).group(1)
            output = output.replace(f"127.0.0.1:{port}", f"127.0.0.1:{shown_port}")
            # The live watch WebSocket listens on a free port of its own.
            output = re.sub(r"ws://127\.0\.0\.1:\d+", "ws://127.0.0.1:<a free port>", output)
        lines = [line.rstrip() for line in output.splitlines()]
        return "\n".join(lines[:head] if head is not None else lines)

    def _home(self, word: str) -> str:
        return str(self.folder) + word[1:] if word == "~" or word.startswith("~/") else word


def _serve_once(sandbox, ready=None) -> None:
    """`Sandbox.serve_forever` as if Ctrl-C came at once: announce, then stop."""
    sandbox.start()
    try:
        if ready is not None:
            ready(sandbox)
    finally:
        sandbox.stop()


class _Terminal:
    """`sys` as `nico login` sees it, with stdin a terminal (someone typing at the prompts)."""

    def __getattr__(self, name):
        import sys

        return getattr(sys, name)

    @property
    def stdin(self):
        import sys

        class _Typed:
            def isatty(self):
                return True

            def __getattr__(self, name):
                return getattr(sys.stdin, name)

        return _Typed()


class _Clock:
    """`datetime` whose now() is the README's."""

    @staticmethod
    def now(tz=None):
        from datetime import datetime

        return datetime.fromisoformat(README_CLOCK).astimezone(tz)


class _Quiet:
    """No progress bars (they show the time, which would change the README on every run)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None

    def __getattr__(self, name):
        return lambda *args, **kwargs: None


class CrawlDemo(Demo):
    """`Demo` on the emulator's collection world (`nicosandbox.seed.build_collection_world`),
    for the `nico crawl` examples: an empty folder, the demo account logged in."""

    def __init__(self) -> None:  # no `nico demo`: the world is another
        import atexit
        import shutil
        import tempfile
        from pathlib import Path

        from nicosandbox import Sandbox
        from nicosandbox.seed import build_collection_world

        self.folder = Path(tempfile.mkdtemp(prefix="nico-readme-crawl-"))
        self.sandbox = Sandbox(world=build_collection_world(), rate_limit_per_minute=None).start()
        atexit.register(shutil.rmtree, self.folder, ignore_errors=True)
        atexit.register(self.sandbox.stop)
        self.config = self.folder / ".config" / "nicocomments"
        self.run("nico login --email demo@example.com --password-stdin", stdin="demo-password\n")


_crawl_demo = None


def crawl_console(*commands: str) -> str:
    """A ``console`` block of `nico crawl` commands and their outputs, run on `CrawlDemo`."""
    global _crawl_demo
    if _crawl_demo is None:
        _crawl_demo = CrawlDemo()
    lines = ["```console"]
    for command in commands:
        lines.append(f"$ {command}")
        output = _crawl_demo.run(command)
        if output:
            lines.append(output)
    lines.append("```")
    return "\n".join(lines) + "\n"


_demo = None


def demo() -> Demo:
    global _demo
    if _demo is None:
        _demo = Demo()
    return _demo


def console(
    *commands: str,
    old_database: str | None = None,
    cookies_file: str | None = None,
    stdin: tuple[str, ...] = (),
    terminal: bool = False,
    keep_session: bool = False,
    live: bool = False,
) -> str:
    """A ``console`` block of commands and their outputs, run on `demo`. First, if asked:
    ``old_database`` makes an SQLite file of that name at schema revision 0001 (for ``nico db
    upgrade``), ``cookies_file`` a browser's cookies.txt with the demo session. ``stdin`` is
    what is typed into the commands, one string each, in order; ``terminal``: at prompts.
    ``keep_session``: the stored session is put back afterwards (the examples after it run
    as the demo account). ``live``: on the live examples' emulator."""
    session = demo()
    if old_database is not None:
        _revision_0001(session.folder / old_database)
    if cookies_file is not None:
        session.cookies_file(cookies_file)
    session_file = session.config / "session.json"
    kept = session_file.read_bytes() if keep_session else None
    lines = ["```console"]
    typed = list(stdin) + [None] * len(commands)
    for command, text in zip(commands, typed, strict=False):
        lines.append(f"$ {command}")
        output = session.run(command, stdin=text, terminal=terminal, live=live)
        if output:
            lines.append(output)
    lines.append("```")
    if kept is not None:
        session_file.write_bytes(kept)
    return "\n".join(lines) + "\n"


def _revision_0001(path) -> None:
    from alembic import command

    from nicocomments import store

    for suffix in ("", "-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    for backup in path.parent.glob(f"{path.name}.bak-*"):
        backup.unlink()
    engine = store.create_db_engine(str(path))
    config = store.alembic_config()
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0001")
    finally:
        engine.dispose()


def reliability_markdown() -> str:
    """What the reliability tests do and the limits nico keeps, from the constants they use
    (tests/reliability.py, nicocomments.limits) and the cases they hold."""
    from nicocomments import limits
    from nicocomments.formats import ytdlp
    from nicocomments.records import MIN_POSTED_AT
    from nicosandbox import FAULT_KINDS, ROUTE_GROUPS, build_world
    from tests import (
        reliability,
        test_faults,
        test_hostile_answers,
        test_hostile_files,
        test_live_reliability,
    )

    seeds = len(reliability.DEFAULT_FAULT_SEEDS)  # not what NICO_FAULT_SEEDS asks for today
    big = inspect.signature(build_world).parameters["big_comments"].default
    protocols = len(reliability.PROTOCOL_GROUPS)
    timeout = next(p.default for p in _command("fetch").params if p.name == "timeout")
    retries = next(p.default for p in _command("fetch").params if p.name == "retries")
    since = time_text(MIN_POSTED_AT)
    rows = [
        (
            "`kill -9` of one whole-history fetch at seeded random moments, each resumed by the "
            "same command; the end result is exactly the emulator's truth",
            f"{reliability.KILLS} per protocol, {reliability.KILLS * protocols} in all",
        ),
        (
            "fault kinds the emulator injects",
            f"{len(FAULT_KINDS)}: {', '.join(FAULT_KINDS)}",
        ),
        ("route groups (hosts) faults fall on", f"{len(ROUTE_GROUPS)}: {', '.join(ROUTE_GROUPS)}"),
        (
            f"whole-history fetches (sm9, {big:,} comments) with {reliability.FAULT_RATE:.0%} of "
            "the requests to every route group failing, every kind drawn; each must succeed "
            "the first time, exactly",
            f"{seeds} seeds per protocol, {seeds * protocols} in all",
        ),
        (
            "each fault kind on each route group a fetch uses, once, for both protocols",
            f"{len(test_faults.CASES)} cases",
        ),
        (
            "live programs: `kill -9` of one whole-past fetch of the long program (40,000 "
            "messages, backward chains that end early) at seeded random moments, each resumed; "
            f"{reliability.FAULT_RATE:.0%} faults of every kind on "
            f"{', '.join(reliability.LIVE_GROUPS)}; each fault kind on each of them once; "
            "every run ends with exactly the emulator's truth",
            f"{reliability.KILLS} kills; {seeds} seeds × 2 programs; "
            f"{len(test_live_reliability.CASES)} cases",
        ),
        (
            "hostile or broken server answers (bad values, wrong types, 500 MB, a byte a "
            "second, deep nesting, long text)",
            f"{reliability.count_cases(test_hostile_answers)} cases",
        ),
        (
            "hostile files for `nico import` (a 1 GB line in a 1 MB zip, 200,000 nested "
            "arrays, a 600 MB string, numbers no column holds, …)",
            f"{reliability.count_cases(test_hostile_files)} cases",
        ),
        (
            "limits every hostile case runs under (`nico` in a subprocess)",
            f"{reliability.MEMORY_LIMIT // 2**20} MB of data memory (`RLIMIT_DATA`), "
            f"{reliability.TIME_LIMIT} s",
        ),
    ]
    out = ["| what the test suite does | figure |", "|---|---|"]
    out += [f"| {what} | {figure} |" for what, figure in rows]
    limit_rows = [
        (
            "an answer (after decoding), read as a stream",
            f"{limits.MAX_ANSWER_BYTES:,} bytes ({limits.MAX_ANSWER_BYTES // 2**20} MiB)",
            "refused: exit 5",
        ),
        (
            "an answer's time, from connecting to its last byte",
            f"`--timeout` ({timeout:g} s)",
            f"retried; exit 6 after `--retries` ({retries})",
        ),
        (
            "a line of a JSON Lines file (also inside zip archives)",
            f"{limits.MAX_LINE_BYTES:,} bytes",
            "exit 2",
        ),
        ("JSON nesting", f"{limits.MAX_JSON_DEPTH:,} levels", "exit 5 (answers), 2 (files)"),
        (
            "a message of a live (NDGR) stream, as its length prefix declares it",
            f"{limits.MAX_STREAM_MESSAGE_BYTES:,} bytes "
            f"({limits.MAX_STREAM_MESSAGE_BYTES // 2**20} MiB)",
            "refused: exit 5",
        ),
        ("a string or number in a JSON file", f"{limits.MAX_LINE_BYTES:,} bytes", "exit 2"),
        (
            "a comment's text, and its commands (XML and JSON alike)",
            f"{limits.MAX_COMMENT_CHARS:,} characters",
            "exit 5 / 2",
        ),
        (
            "comment numbers in an answer",
            f"1 to the server's own count + {limits.COUNT_SLACK:,} + 10 %",
            "exit 5",
        ),
        (
            "comment dates in an answer",
            f"the video's posting time less {limits.DATE_SLACK_S // 3600} hours (without "
            f"one: {since}) to now plus as much",
            "exit 5",
        ),
        (
            "a video's posting time (`registeredAt`)",
            f"{since} to now plus {limits.DATE_SLACK_S // 3600} hours",
            "exit 5",
        ),
        (
            "numbers stored",
            "what their columns hold: 32 bits (numbers, counts, scores), 64 bits (`vpos_ms`)",
            "exit 5 / 2",
        ),
        ("servers named by answers (`nvComment.server`, getflv's `ms`)", "http(s) URLs", "exit 5"),
        (
            "one user's comments read ahead at the start of a yt-dlp file (its owner thread)",
            f"{ytdlp.OWNER_STRETCH_LIMIT:,} (a longer stretch is no owner thread)",
            "read on as main",
        ),
    ]
    out += ["", "| limit | value | beyond it |", "|---|---|---|"]
    out += [f"| {what} | {value} | {beyond} |" for what, value, beyond in limit_rows]
    return "\n".join(out) + "\n"


def time_text(seconds: int) -> str:
    """The day, in Japan time (the site's own)."""
    from datetime import datetime

    from nicocomments.records import JST

    return f"{datetime.fromtimestamp(seconds, JST):%Y-%m-%d}"


def changes_console(video_id: str) -> str:
    """`nico diff`'s example: ``video_id`` fetched whole into the demo database, made "later"
    by the emulator (`nicosandbox.make_later`: a few deletions, nicoru and score changes and an
    ai fork), fetched again by a complete pass, then diffed."""
    from nicosandbox import make_later

    session = demo()
    fetch = f"nico fetch {video_id} --all-history --interval 0 --db nico-demo.db"
    session.run(fetch)
    make_later(
        session.sandbox.world,
        video_id,
        seed=1,
        deletions=3,
        nicoru_changes=4,
        score_changes=2,
        new_fork_comments=3,
    )
    return console(
        f"nico fetch {video_id} --all-history --refresh --interval 0 --db nico-demo.db",
        f"nico diff {video_id} --db nico-demo.db",
    )


def nii_archive(relative: str) -> None:
    """A small NII-shaped release in the demo's folder: the NII fixtures zipped as the 2018
    release zips them (``thread/<video>.jsonl``, 2012 files as ``.dat``)."""
    import zipfile

    from tests.conftest import fixture_path

    path = demo().folder / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in ("interchange/sm10.jsonl", "interchange/sm11.dat", "nii/sm12.jsonl"):
            archive.write(fixture_path(name), "thread/" + name.rsplit("/", 1)[-1])


def python_session(*lines: str) -> str:
    """A ``python`` block of statements run in the demo's folder, each expression's value
    shown under it as the interpreter (or a notebook cell) would."""
    import contextlib
    import io
    import os

    import pandas as pd

    namespace: dict = {}
    out = ["```python"]
    before = os.getcwd()
    os.chdir(demo().folder)
    try:
        with pd.option_context("display.width", 100, "display.max_columns", 10):
            for line in lines:
                out.append(f">>> {line}")
                try:
                    value = eval(compile(line, "<readme>", "eval"), namespace)
                except SyntaxError:
                    exec(compile(line, "<readme>", "exec"), namespace)
                    continue
                if value is not None:
                    with contextlib.redirect_stdout(io.StringIO()):
                        text = str(value).replace(str(demo().folder), HOME)
                        out += [row.rstrip() for row in text.splitlines()]
    finally:
        os.chdir(before)
    out.append("```")
    return "\n".join(out) + "\n"
