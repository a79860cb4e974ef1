"""The layout's rules: the import-linter contracts of pyproject.toml (run here, so the README's
test command checks them), and the two conventions an import graph cannot show."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGE = ROOT / "nicocomments"
LINT = [sys.executable, "-c", "from importlinter.cli import lint_imports_command as c; c()"]


def _lint(cwd: Path, pythonpath: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run(
        [*LINT, "--no-cache"], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def test_the_import_contracts_are_kept():
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


# Each one breaks one rule, in a copy of the package: the contract that keeps it must say so.
BREAKS = [
    pytest.param("formats/common.py", "from ..cli import common\n", "Layers", id="upward"),
    pytest.param("newthing.py", "X = 1\n", "Layers", id="unplaced-module"),
    pytest.param("store/read.py", "import requests\n", "Data side", id="data-requests"),
    pytest.param("formats/csv.py", "import lxml\n", "Data side", id="data-lxml"),
    pytest.param("history.py", "import sqlalchemy\n", "Network side", id="network-sqlalchemy"),
    pytest.param(
        "legacy/parse.py", "from nicocomments import http\n", "Pure parsers", id="impure-parser"
    ),
    pytest.param("live/parse.py", "import websockets\n", "Pure parsers", id="impure-live-parser"),
    pytest.param("live/watchsocket.py", "from .. import store\n", "Network side", id="live-store"),
    pytest.param("records.py", "import orjson\n", "Foundations", id="foundation-orjson"),
    pytest.param("store/write.py", "import rich\n", "only in the CLI", id="ui-outside-cli"),
    pytest.param("search.py", "import pandas\n", "only in analysis", id="pandas-outside-analysis"),
    pytest.param(
        "formats/common.py",
        "from nicocomments.formats import xml\n",
        "No import cycles",
        id="cycle",
    ),
    pytest.param("cli/fetch.py", "from . import status\n", "each other", id="command-to-command"),
    pytest.param("collect.py", "import nicosandbox\n", "the emulator", id="emulator-outside-cli"),
    pytest.param(
        "../nicosandbox/routes/www.py",
        "from nicocomments import store\n",
        "only nicocomments' foundations",
        id="emulator-uses-storage",
    ),
    pytest.param(
        "../nicosandbox/world.py",
        "import nicosandbox.server\n",
        "No import cycles",
        id="emulator-cycle",
    ),
]


@pytest.mark.parametrize(("module", "line", "contract"), BREAKS)
def test_each_contract_catches_what_it_forbids(tmp_path, module, line, contract):
    for package in ("nicocomments", "nicosandbox"):
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("data", "__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    path = tmp_path / "nicocomments" / module
    path.write_text((path.read_text() if path.exists() else "") + line, encoding="utf-8")
    result = _lint(tmp_path, pythonpath=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    broken = [row for row in result.stdout.splitlines() if " BROKEN" in row]
    assert [row for row in broken if contract in row], result.stdout


# --- what imports cannot show ---------------------------------------------------------------


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).with_suffix("")
        yield ".".join(relative.parts), path


MODULES = dict(_modules())


@pytest.mark.parametrize("name", sorted(n for n in MODULES if not n.startswith("cli")))
def test_library_code_never_prints_or_exits(name):
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id not in {"print", "input", "exit", "quit"}, (name, node.lineno)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            assert (node.value.id, node.attr) != ("sys", "exit"), (name, node.lineno)


def test_migrations_env_imports_only_the_schema():
    env = ROOT / "migrations" / "env.py"
    names = set()
    for node in ast.walk(ast.parse(env.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    assert {n for n in names if n.startswith("nicocomments")} == {"nicocomments.schema"}


def test_the_readme_module_table_names_every_module():
    """README "Development" tells a newcomer where everything lives: every top-level module
    and package of nicocomments is in its table (so a new one cannot land unexplained)."""
    readme = (ROOT / "README.md").read_text("utf-8")
    section = readme[readme.index("## Development") :]
    table = "\n".join(line for line in section.splitlines() if line.startswith("| `"))
    names = {
        path.stem if path.suffix == ".py" else path.name
        for path in PACKAGE.iterdir()
        if (path.suffix == ".py" or (path / "__init__.py").exists()) and path.name != "__init__.py"
    }
    cells = set(re.findall(r"`(?:nicocomments/)?([a-z_]+)(?:\.py|/)`", table))
    assert names - cells == set()
