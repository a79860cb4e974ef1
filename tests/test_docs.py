"""The README is generated where it can be and checked where it cannot."""

from __future__ import annotations

import re
import subprocess

import pytest
import typer

from nicocomments.cli import app
from nicocomments.config import CONFIG_DIR_ENV_VAR, DB_ENV_VAR, ENDPOINT_ENV_VARS
from nicocomments.errors import ExitStatus
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_generated_sections_are_up_to_date(monkeypatch):
    from cogapp import Cog

    monkeypatch.chdir(ROOT)
    monkeypatch.syspath_prepend(str(ROOT))
    status = Cog().main(["cog", "--check", "README.md"])
    assert status == 0, "README.md is stale: run `cog -r README.md`"


def test_the_first_command_runs_the_demo_and_the_second_the_tests():
    blocks = re.findall(r"```bash\n(.*?)\n```", README, re.S)
    assert "nico demo" in blocks[0]
    assert "pytest" in blocks[1]
    assert "<!-- test-command -->\n```bash\n" + blocks[1] in README


def test_ci_runs_exactly_the_readme_test_command(tmp_path):
    script = (ROOT / ".ci" / "run").read_text()
    command = re.findall(r"```bash\n(.*?)\n```", README, re.S)[1]
    extracted = subprocess.run(
        ["awk", "/<!-- test-command -->/{getline; getline; print; exit}", str(ROOT / "README.md")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert extracted == command
    assert "awk '/<!-- test-command -->/{getline; getline; print; exit}' README.md" in script


def _command_paths(group=None, prefix=()):
    group = group or typer.main.get_command(app)
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            yield from _command_paths(command, (*prefix, name))
        else:
            yield (*prefix, name)


@pytest.mark.parametrize("path", sorted(_command_paths()), ids=" ".join)
def test_every_command_has_a_readme_section(path):
    name = " ".join(path)
    assert f"`nico {name}" in README or f"nico {path[0]}` /" in README, name
    assert f"Usage: `nico {name} " in README or name in ("logout", "whoami"), name


@pytest.mark.parametrize("status", list(ExitStatus), ids=lambda s: s.name)
def test_every_exit_code_is_documented(status):
    assert re.search(rf"^\| {int(status)} \| \S", README, re.M), status


@pytest.mark.parametrize(
    "variable", [*ENDPOINT_ENV_VARS.values(), DB_ENV_VAR, CONFIG_DIR_ENV_VAR, "NICO_USER_SESSION"]
)
def test_every_environment_variable_is_documented(variable):
    assert f"| `{variable}`" in README or f"`{variable}`," in README
