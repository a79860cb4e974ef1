"""The wheel: it ships the migrations and the emulator's data, and `nico demo` runs from it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import zipfile

import pytest

from tests.conftest import ROOT


@pytest.mark.slow
def test_an_installed_wheel_creates_databases_and_runs_the_demo(tmp_path):
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    [wheel] = dist.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "nicocomments/migrations/env.py" in names
    assert any(n.startswith("nicocomments/migrations/versions/0001") for n in names)
    assert "nicosandbox/data/apijson_1428845905.jsonl.gz" in names
    assert "nicosandbox/routes/__init__.py" in names  # the emulator ships beside the product
    assert not any(n.startswith(("tests/", "migrations/")) for n in names)

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", str(wheel)],
        check=True,
        capture_output=True,
        timeout=900,
    )
    work = tmp_path / "work"  # far from the checkout: only the installed package can be imported
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "NICO_"))}
    env["NICO_CONFIG_DIR"] = str(tmp_path / "config")
    where = subprocess.run(
        [str(python), "-c", "import nicocomments.store as s; print(s.migrations_dir())"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert where.startswith(str(venv)) and where.endswith("nicocomments/migrations")
    demo = subprocess.run(
        [str(venv / "bin" / "nico"), "demo", "--big-comments", "2000"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert demo.returncode == 0, demo.stderr
    assert "complete" in demo.stdout
    status = subprocess.run(
        [str(venv / "bin" / "nico"), "status", "--db", "nico-demo.db", "--json"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
    )
    assert status.returncode == 0
    main = next(row for row in json.loads(status.stdout) if row["fork"] == "main")
    assert main["history_complete"] is True and main["stored"] > 1900
    serve = subprocess.Popen(
        [str(venv / "bin" / "nico"), "sandbox", "serve", "--big-comments", "1000"],
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert serve.stdout.readline().startswith("Niconico emulator listening on http://")
    finally:
        serve.send_signal(signal.SIGTERM)
        _, stopped = serve.communicate(timeout=60)
    assert serve.returncode == 0 and stopped == "Emulator stopped.\n"
