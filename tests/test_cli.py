"""The command line as a whole: help, version, status, db, demo, sandbox serve."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys

import pytest
import requests
import typer

from nicocomments import __version__
from nicocomments.cli import app
from nicosandbox import BIG_VIDEO_ID, SHORT_THREAD_ID, SHORT_VIDEO_ID, expected_comments
from tests.conftest import ROOT
from tests.helpers import query, sorted_truth, stored_comments


def _commands(group, prefix=()):
    for name, command in sorted(group.commands.items()):
        yield (*prefix, name)
        if hasattr(command, "commands"):
            yield from _commands(command, (*prefix, name))


COMMANDS = list(_commands(typer.main.get_command(app)))


def test_the_expected_commands_exist():
    names = {" ".join(c) for c in COMMANDS}
    assert {
        "fetch",
        "status",
        "login",
        "logout",
        "whoami",
        "demo",
        "sandbox",
        "sandbox serve",
        "db",
        "db upgrade",
        "live",
        "live record",
    } <= names


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_every_command_has_help(nico, command, flag):
    result = nico(*command, flag)
    assert result.exit_code == 0
    assert "Usage: " in result.stdout
    click_command = typer.main.get_command(app)
    for part in command:
        click_command = click_command.commands[part]
    assert click_command.help and len(click_command.help) > 20


def test_version(nico):
    result = nico("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"nico (nicocomments) {__version__}"


def test_python_dash_m_works():
    result = subprocess.run(
        [sys.executable, "-m", "nicocomments", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and __version__ in result.stdout


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("fetch", "sm9", "--no-such-option"), "No such option: --no-such-option (see nico fetch"),
        (("fetch", "sm9", "--interval", "soon"), "Invalid value for '--interval'"),
        (("report", "sm9", "--top", "0"), "Invalid value for '--top'"),
        (("live", "record", "lv1", "--nope"), "(see nico live record --help)"),
        (("sandbox", "serve", "--port", "x"), "Invalid value for '--port'"),
        (("export", "sm9", "--format"), "Option '--format' requires an argument"),
        (("no-such-command",), "No such command 'no-such-command'"),
        (("--nope",), "No such option: --nope"),
    ],
)
def test_a_usage_error_is_one_line_and_exit_2(args, words):
    """Bad input at parsing time, like any other: ``Error: …`` on one line, not a framed box."""
    from typer.testing import CliRunner

    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: ") and words in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not result.stdout


def test_a_group_without_its_command_shows_its_help():
    from typer.testing import CliRunner

    result = CliRunner().invoke(app, ["live"])
    assert result.exit_code == 2 and "record" in result.output and "Error" not in result.output
    assert "Usage" in CliRunner().invoke(app, []).output


@pytest.mark.parametrize("command", [("fetch", "sm9"), ("demo",)])
def test_an_unknown_protocol_is_refused_before_anything_runs(nico, tmp_path, command):
    result = nico(*command, "--protocol", "flash", "--db", tmp_path / "n.db")
    assert result.exit_code == 2
    assert "unknown protocol 'flash': choose from auto, nvcomment, legacy" in result.stderr
    assert not (tmp_path / "n.db").exists()


def test_status_of_an_empty_database(nico, tmp_path):
    result = nico("status", "--db", tmp_path / "n.db")
    assert result.exit_code == 0
    assert "holds no videos" in result.stdout


def test_status_after_a_fetch(logged_in, nico, tmp_path, world):
    db = tmp_path / "n.db"
    assert (
        nico(
            "fetch",
            SHORT_VIDEO_ID,
            "--all-history",
            "--db",
            db,
            "--interval",
            "0",
            "--protocol",
            "legacy",
        ).exit_code
        == 0
    )
    assert (
        nico("fetch", BIG_VIDEO_ID, "--db", db, "--interval", "0", "--protocol", "legacy").exit_code
        == 0
    )
    table = nico("status", "--db", db)
    assert table.exit_code == 0
    assert SHORT_VIDEO_ID in table.stdout and BIG_VIDEO_ID in table.stdout
    assert "complete" in table.stdout and "current window only" in table.stdout
    result = nico("status", SHORT_VIDEO_ID, "--db", db, "--json")
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    main = next(r for r in rows if r["fork"] == "main")
    truth = [c for c in expected_comments(world, SHORT_VIDEO_ID) if c.fork == "main"]
    assert main["thread_id"] == SHORT_THREAD_ID
    assert main["stored"] == len(truth) == main["server_count"]
    assert main["history_complete"] is True
    assert main["deleted"] == sum(c.is_deleted for c in truth)


def test_status_of_an_unknown_video(nico, tmp_path):
    result = nico("status", "sm123", "--db", tmp_path / "n.db")
    assert result.exit_code == 4
    assert result.stderr.startswith("Error: sm123 is not in")


def test_db_upgrade(nico, tmp_path):
    db = tmp_path / "n.db"
    first = nico("db", "upgrade", "--db", db)
    assert first.exit_code == 0 and "from empty" in first.stdout
    again = nico("db", "upgrade", "--db", db)
    assert again.exit_code == 0 and "up to date" in again.stdout
    with sqlite3.connect(db) as connection:
        connection.execute("UPDATE alembic_version SET version_num='9999_newer'")
    refused = nico("db", "upgrade", "--db", db)
    assert refused.exit_code == 7
    assert refused.stderr.startswith("Error: ") and "newer nicocomments" in refused.stderr
    assert nico("status", "--db", db).exit_code == 7


def test_nico_db_environment_variable(nico, tmp_path, monkeypatch):
    db = tmp_path / "from-env.db"
    monkeypatch.setenv("NICO_DB", str(db))
    assert nico("db", "upgrade").exit_code == 0
    assert db.exists()


def _status_raising(nico, tmp_path, monkeypatch, error: Exception, *args: str):
    """`nico status` with its database read replaced by one that raises ``error``."""
    import nicocomments.store

    def broken(*args, **kwargs):
        raise error

    monkeypatch.setattr(nicocomments.store, "status_report", broken)
    return nico("status", "--db", tmp_path / "n.db", *args)


def test_unexpected_errors_are_one_line_unless_debug(nico, tmp_path, monkeypatch):
    result = _status_raising(nico, tmp_path, monkeypatch, RuntimeError("boom\nsecond line"))
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: unexpected RuntimeError: boom (a bug in nicocomments; re-run with --debug for "
        "the traceback)\n"
    )
    with pytest.raises(RuntimeError):
        _status_raising(nico, tmp_path, monkeypatch, RuntimeError("boom"), "--debug")


def test_an_expected_error_spanning_lines_is_printed_on_one(nico, tmp_path, monkeypatch):
    from nicocomments.errors import BadAnswer

    error = BadAnswer('parse error: premature EOF\n      {"a":\n  (right here) ---^\n')
    result = _status_raising(nico, tmp_path, monkeypatch, error)
    assert result.exit_code == 5
    assert len(result.stderr.splitlines()) == 1 and "(right here)" in result.stderr


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("fetch", "ftp://www.nicovideo.jp/watch/sm9"), "not a Niconico watch URL"),
        (("fetch", "sm" + "9" * 100_000), "(100,002 characters) is not a video id"),
        (("fetch", "sm9", "--before", "x" * 100_000), "(100,000 characters)"),
        (("fetch", "sm9", "--protocol", "p" * 100_000), "(100,000 characters)"),
        (("import", "x.json", "--video", "sm" + "9" * 100_000), "(100,002 characters)"),
        (("import", "x.json", "--format", "f" * 100_000), "(100,000 characters)"),
        (("export", "sm9", "--format", "f" * 100_000), "(100,000 characters)"),
        (("analyze", "sm9", "--tz", "z" * 100_000), "(100,000 characters)"),
        (("analyze", "sm9", "--bin", "b" * 100_000), "(100,000 characters)"),
        (("analyze", "sm9", "--tokenizer", "t" * 100_000), "(100,000 characters)"),
    ],
)
def test_bad_input_is_refused_in_a_short_line(nico, tmp_path, args, words):
    result = nico(*args, "--db", tmp_path / "n.db")
    assert result.exit_code == 2
    assert len(result.stderr.splitlines()) == 1 and len(result.stderr) < 300
    assert words in result.stderr
    assert not (tmp_path / "n.db").exists()


def test_demo_runs_the_main_job_offline(nico, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = nico("demo", "--big-comments", "3000")
    assert result.exit_code == 0, result.stderr
    assert "complete" in result.stdout
    db = tmp_path / "nico-demo.db"
    from nicosandbox import build_world

    truth = expected_comments(build_world(big_comments=3000), BIG_VIDEO_ID, "nvcomment")
    stored = [c._replace(source=None) for c in stored_comments(db, BIG_VIDEO_ID)]
    assert stored == sorted_truth(truth)  # today's protocol: every comment but the deleted ones
    # The demo logs in to the emulator only: the user's own stored session is untouched.
    assert not list(tmp_path.glob("**/session.json"))
    again = nico("demo", "--big-comments", "3000")
    assert again.exit_code == 0 and "exists already" in again.stderr
    assert query(db, "SELECT count(*) FROM fetch_runs") == [(2,)]


def test_sandbox_serve_until_ctrl_c(tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-m", "nicocomments", "sandbox", "serve", "--big-comments", "2000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        # A job started in the background inherits an ignored SIGINT; a user's terminal does not.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        exports = {}
        while len(exports) < 4:
            line = process.stdout.readline()
            assert line, process.stderr.read()
            if line.startswith("export "):
                name, value = line[len("export ") :].strip().split("=", 1)
                exports[name] = value
        answer = requests.get(exports["NICO_FLAPI_URL"] + "/api/getflv/sm9", timeout=10)
        assert answer.text.startswith("closed=1")  # not logged in
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=20)
    assert process.returncode == 0


def test_progress_shows_waits_as_passing_notes_not_log_lines():
    import io

    from rich.console import Console

    from nicocomments.cli.progress import RichProgress
    from nicocomments.records import ThreadRef, VideoInfo

    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=200, color_system=None)
    ref = ThreadRef("1", "main", "default")
    with RichProgress(console) as progress:
        progress.video(VideoInfo("sm9", (ref,)))
        progress.notice("the comment server says TOO_MANY_REQUESTS; waiting 60 s")
        progress.page(ref, when=1_300_000_000, added=1000, stored=1000, server_count=3000)
        progress.notice("HTTP 503 from host; retrying in 1.0 s")
        shown = buffer.getvalue()
        progress.page(ref, when=1_299_000_000, added=1000, stored=2000, server_count=3000)
    final = buffer.getvalue()[len(shown) :].rsplit("\r", 1)[-1]  # what stays on the screen
    assert "TOO_MANY_REQUESTS" in shown and "retrying" in shown  # seen while it happened
    assert "1,000/3,000" not in final and "2,000/3,000" in final
    assert "retrying" not in final  # the next page replaced the note
    assert "TOO_MANY_REQUESTS" not in final and final.count("sm9") == 1  # the waiting line went
    assert "WARNING" not in buffer.getvalue()


# --- options every command shares (issue 10) ----------------------------------------------------

DB_COMMANDS = {"fetch", "crawl", "worker", "status", "import", "export", "analyze", "search"}
DB_COMMANDS |= {"db upgrade", "demo", "live record", "diff", "report", "browse"}


@pytest.mark.parametrize(
    "command", [c for c in COMMANDS if c[-1] not in ("sandbox", "db", "live")], ids=" ".join
)
def test_every_command_takes_the_shared_options_where_users_type_them(command):
    click_command = typer.main.get_command(app)
    for part in command:
        click_command = click_command.commands[part]
    options = {name for param in click_command.params for name in param.opts}
    assert {"--verbose", "-v", "--debug"} <= options
    assert ("--db" in options) == (" ".join(command) in DB_COMMANDS)


def test_the_shared_options_are_declared_once():
    """Only cli/common.py spells them out (demo's --db, a different default, is its own)."""
    for path in sorted((ROOT / "nicocomments" / "cli").glob("*.py")):
        text = path.read_text(encoding="utf-8")
        for option in ('"--verbose"', '"--debug"', '"--db"'):
            if path.name == "common.py" or (path.name == "sandbox.py" and option == '"--db"'):
                continue
            assert option not in text, f"{path.name} declares {option} again"


def test_shared_options_go_after_the_command_as_before(logged_in, nico, tmp_path):
    db = tmp_path / "x.db"
    fetched = nico("fetch", SHORT_VIDEO_ID, "--db", db, "--interval", "0", "-v", "--debug")
    assert fetched.exit_code == 0, fetched.stderr
    assert f"Stored in {db}." in fetched.stdout  # -v reached the command
    status = nico("status", SHORT_VIDEO_ID, "--json", "--db", db, "--debug")
    assert status.exit_code == 0 and json.loads(status.stdout)


def test_search_cuts_a_long_text_it_echoes(nico, tmp_path):
    assert nico("db", "upgrade", "--db", tmp_path / "n.db").exit_code == 0
    result = nico("search", "t" * 100_000, "--db", tmp_path / "n.db")
    assert result.exit_code == 0
    assert len(result.stderr) < 300 and "(100,000 characters)" in result.stderr
