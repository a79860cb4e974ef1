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
