"""The live package is a surface: it imports only nicocomments' foundations and itself, and
no storage, analysis or UI library (../shared/STYLE.md, "Import rules")."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

LIVE = Path(__file__).resolve().parents[1] / "nicocomments" / "live"
FOUNDATIONS = {"errors", "records", "config", "ids", "http", "limits", "live"}
FORBIDDEN = {"sqlalchemy", "alembic", "pandas", "typer", "rich", "click", "nicosandbox"}
GENERATED = {"ndgr_pb2.py"}


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.name}: relative import"
            names.add(node.module)
    return names


MODULES = sorted(p for p in LIVE.glob("*.py") if p.name not in GENERATED)


def test_the_package_is_all_here():
    assert {p.stem for p in MODULES} >= {
        "__init__",
        "stream",
        "parse",
        "watch",
        "watchsocket",
        "past",
    }


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.stem)
def test_live_imports_only_foundations(path):
    imports = _imports(path)
    internal = {n.split(".")[1] for n in imports if n.startswith("nicocomments.")}
    assert internal <= FOUNDATIONS, f"{path.name} reaches into {internal - FOUNDATIONS}"
    assert "nicocomments" not in imports  # not the package root either: nothing upward
    assert not {n.split(".")[0] for n in imports} & FORBIDDEN


def test_the_generated_module_imports_only_the_protobuf_runtime():
    imports = _imports(LIVE / "ndgr_pb2.py")
    assert {n.split(".")[0] for n in imports} == {"google"}
