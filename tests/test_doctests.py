"""Every example in nicocomments' docstrings runs and shows what it says it shows.

A targeted doctest run (rather than ``--doctest-modules``) so that the examples that read a
database get the one a user has after `nico demo`: ``nico-demo.db`` holding sm9's whole history,
built here once, against the emulator, and the working directory the examples run in. The
analysis examples use the names of `nicocomments.analysis`, as a notebook that did
``from nicocomments.analysis import *`` would.
"""

from __future__ import annotations

import doctest
import importlib
import io
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGE = ROOT / "nicocomments"
DEMO_DB = "nico-demo.db"
_BUILT: dict[str, Path] = {}


def _modules_with_examples() -> list[str]:
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(ROOT).with_suffix("")
        if ">>> " not in path.read_text(encoding="utf-8"):
            continue
        parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
        names.append(".".join(parts))
    return names


MODULES = _modules_with_examples()


@pytest.fixture
def demo_folder(request, tmp_path_factory) -> Path:
    """A folder holding ``nico-demo.db`` as `nico demo` leaves it (built on first use)."""
    if "folder" not in _BUILT:
        request.getfixturevalue("logged_in")
        nico = request.getfixturevalue("nico")
        folder = tmp_path_factory.mktemp("doctests")
        result = nico("fetch", "sm9", "--all-history", "--interval", "0", "--db", folder / DEMO_DB)
        assert result.exit_code == 0, result.stderr
        _BUILT["folder"] = folder
    return _BUILT["folder"]


def test_the_examples_are_found():
    assert {"nicocomments.analysis.load", "nicocomments.formats", "nicocomments.ids"} <= set(
        MODULES
    )


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name, request, monkeypatch):
    module = importlib.import_module(name)
    globs = dict(vars(module))
    if name.startswith("nicocomments.analysis"):
        from nicocomments import analysis

        globs.update({n: getattr(analysis, n) for n in analysis.__all__})
    if DEMO_DB in Path(module.__file__).read_text(encoding="utf-8"):
        monkeypatch.chdir(request.getfixturevalue("demo_folder"))
    tests = [t for t in doctest.DocTestFinder().find(module, name, globs=globs) if t.examples]
    assert tests, f"{name} has no examples"
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    report = io.StringIO()
    for test in tests:
        runner.run(test, out=report.write)
    assert runner.failures == 0, report.getvalue()
