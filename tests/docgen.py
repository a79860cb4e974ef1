"""Generates the README's command reference and schema (run by cog; checked by test_docs.py).

    cog -r README.md          # regenerate
    cog --check README.md     # what tests/test_docs.py does

The reference is built from the commands' own definitions rather than from rich's --help
rendering, so it changes only when the commands do.
"""

from __future__ import annotations

import inspect

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
    import json
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "latest.json"
    payload = json.loads(path.read_text(encoding="utf-8"))
    machine = payload["machine"]
    figure = _benchmarks_common().figure
    out = [
        f"Measured {payload['when'][:10]} on {machine['cpu']} ({machine['cores']} cores), "
        f"Python {machine['python']}, SQLite {machine['sqlite']}:",
        "",
        "| benchmark | case | nicocomments | baseline | ratio | target | met |",
        "|---|---|---|---|---|---|---|",
    ]
    for m in payload["measurements"]:
        unit = f" {m['unit']}" if m["unit"] else ""
        baseline = "" if m["baseline"] is None else f"{figure(m['baseline'])}{unit}"
        ratio = "" if m["ratio"] is None else f"{m['ratio']:.2f}"
        out.append(
            f"| {m['benchmark']} | {m['case']} | {figure(m['value'])}{unit} | {baseline} "
            f"| {ratio} | {m['target']} | {'yes' if m['ok'] else '**no**'} |"
        )
    return "\n".join(out) + "\n"


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
