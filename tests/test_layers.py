"""The import rules of ../shared/STYLE.md, checked by walking every module's imports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "nicocomments"

NETWORK_SIDE = {"http", "auth", "legacy", "nvcomment", "history"}
DATA_SIDE = {"schema", "store", "analysis", "export", "importers", "search"}
STDLIB_ONLY = {"errors", "records", "config", "ids", "chats", "xmlsafe", "commands", "limits"}
UI_LIBRARIES = {"typer", "rich", "click"}


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).with_suffix("")
        yield ".".join(relative.parts), path


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _top(names: set[str]) -> set[str]:
    return {name.split(".")[0] for name in names}


def _internal(names: set[str]) -> set[str]:
    return {n.split(".")[1] for n in names if n.startswith("nicocomments.") and n.count(".") >= 1}


MODULES = dict(_modules())


@pytest.mark.parametrize("name", sorted(MODULES))
def test_layering(name):
    imports = _imports(MODULES[name])
    top = _top(imports)
    first = name.split(".")[0]
    if first in NETWORK_SIDE:
        assert not top & {"sqlalchemy", "pandas", "alembic"}, f"{name} is network code"
    if first in DATA_SIDE:
        assert not top & {"requests", "lxml", "urllib3"}, f"{name} is data code"
        assert not _internal(imports) & NETWORK_SIDE, f"{name} reaches into network code"
    if first in NETWORK_SIDE:
        assert not _internal(imports) & DATA_SIDE, f"{name} reaches into the data side"
    if first in STDLIB_ONLY:
        assert top <= {"nicocomments", "__future__"} | _stdlib(), f"{name} must be stdlib only"
    if first != "cli":
        assert not top & UI_LIBRARIES, f"only the CLI may use {top & UI_LIBRARIES}"
    if first != "analysis" and first != "cli":
        assert "pandas" not in top, f"{name}: only analysis imports pandas"


def _stdlib() -> set[str]:
    import sys

    return set(sys.stdlib_module_names)


@pytest.mark.parametrize("name", sorted(n for n in MODULES if not n.startswith("cli")))
def test_library_code_never_prints_or_exits(name):
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id not in {"print", "input", "exit", "quit"}, (name, node.lineno)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            assert (node.value.id, node.attr) != ("sys", "exit"), (name, node.lineno)


def test_migrations_env_imports_only_the_schema():
    env = Path(__file__).resolve().parents[1] / "migrations" / "env.py"
    internal = {n for n in _imports(env) if n.startswith("nicocomments")}
    assert internal == {"nicocomments.schema"}
