"""nicosandbox as a package: a sibling of the product, with no import hidden in a function; the
product imports it only in two commands. What it may import is an import-linter contract."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "nicosandbox"


def _modules(package: Path) -> dict[str, ast.Module]:
    modules = {}
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = ast.parse(path.read_text(encoding="utf-8"), str(path))
    return modules


MODULES = _modules(PACKAGE)


def _imports(tree: ast.Module, known: dict[str, ast.Module]) -> list[tuple[ast.stmt, str]]:
    """(statement, imported module) for every import, a ``from p import m`` of a submodule
    counting as an import of ``p.m``."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0 and node.module, "relative import"
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.append((node, sub if sub in known else node.module))
    return found


def test_the_package_is_all_here():
    assert {"nicosandbox", "nicosandbox.server", "nicosandbox.routes", "nicosandbox.state"} <= set(
        MODULES
    )
    assert len(MODULES) >= 20


def test_every_import_is_at_the_top():
    # What it may import, and that it has no cycle, are import-linter contracts
    # (pyproject.toml); a contract cannot see whether an import hides in a function.
    for name, tree in MODULES.items():
        top_level = set(map(id, tree.body))
        for node, imported in _imports(tree, MODULES):
            assert id(node) in top_level, f"{name} imports {imported} inside a block"


def test_it_never_prints_exits_or_reads_the_shared_samples():
    for name, tree in MODULES.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in {"print", "input", "exit", "quit"}, (name, node.lineno)
        assert "shared/samples" not in ast.unparse(tree), name  # it must load anywhere


def test_the_product_imports_it_only_inside_the_two_commands():
    product = _modules(ROOT / "nicocomments")
    importers = set()
    for name, tree in product.items():
        for node, imported in _imports(tree, product):
            if imported.split(".")[0] == "nicosandbox":
                importers.add(name)
                assert id(node) not in set(map(id, tree.body)), f"{name}: not lazily"
    assert importers == {"nicocomments.cli.sandbox"}
