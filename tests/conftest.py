"""Shared fixtures: the real samples in ../shared, the emulator, databases, the CLI runner."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from nicocomments.config import ENDPOINT_ENV_VARS

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def shared_dir(environ=os.environ, root: Path = ROOT) -> Path | None:
    """The team's samples and references: $NICO_SHARED_DIR, else ``shared`` beside the checkout
    (as CI lays it out). No machine's own path: a checkout elsewhere simply has none."""
    for candidate in (environ.get("NICO_SHARED_DIR"), root.parent / "shared"):
        if candidate and (Path(candidate) / "samples" / "SOURCES.md").is_file():
            return Path(candidate)
    return None


SHARED = shared_dir()
SHARED_REASON = (
    "the real samples in ../shared are not here (they may not be redistributed; "
    "set NICO_SHARED_DIR to a checkout of them)"
)


def shared_file(relative: str) -> Path:
    """A file of ../shared (samples/… or reference/…); skip the test when it is absent."""
    if SHARED is None:
        pytest.skip(SHARED_REASON)
    path = SHARED / relative
    assert path.is_file(), f"{path} is missing from the shared samples"
    return path


def fixture_path(relative: str) -> Path:
    return FIXTURES / relative


@pytest.fixture(autouse=True)
def _isolated_config(tmp_path_factory, monkeypatch):
    """No test ever reads or writes the developer's real session or database."""
    config = tmp_path_factory.mktemp("config")
    monkeypatch.setenv("NICO_CONFIG_DIR", str(config))
    for name in (
        "NICO_USER_SESSION",
        "NICO_DB",
        "NICO_EMAIL",
        "NICO_PASSWORD",
        "NICO_DEBUG",
        *ENDPOINT_ENV_VARS.values(),  # every host override (a developer's own must not leak in)
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NETRC", str(config / "no-netrc"))
    return config


# --- databases ------------------------------------------------------------------------------

PG_ADMIN_URL = os.environ.get(
    "NICO_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _postgres_or_skip():
    import sqlalchemy

    try:
        engine = sqlalchemy.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.exec_driver_sql("select 1")
        return engine
    except Exception as exc:  # no driver, no server: the same answer for the user
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL at {PG_ADMIN_URL} is required in CI: {exc}")
        pytest.skip(f"no PostgreSQL at {PG_ADMIN_URL} ({type(exc).__name__})")


@pytest.fixture
def pg_url():
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    import uuid

    admin = _postgres_or_skip()
    name = f"nico_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_target(request, tmp_path):
    """A database target (path or URL) for each supported backend."""
    if request.param == "sqlite":
        return str(tmp_path / "test.db")
    return request.getfixturevalue("pg_url")


# --- the emulator and the CLI ---------------------------------------------------------------


@pytest.fixture(scope="session")
def world():
    """The emulator's default world (seed 0). Tests that change it use their own."""
    from nicosandbox import build_world

    return build_world()


@pytest.fixture(scope="session")
def _running_sandbox(world):
    from nicosandbox import Sandbox

    sandbox = Sandbox(world=world)
    sandbox.start()
    yield sandbox
    sandbox.stop()


def _reset(sandbox) -> None:
    from nicosandbox import FaultPlan

    sandbox.faults = FaultPlan()
    sandbox.key_max_uses = None
    sandbox.shuffle_chats = False
    sandbox.past_logs_premium_only = False
    sandbox.maintenance = False
    sandbox.watch_api_enabled = True
    sandbox.watch_page_meta = True
    sandbox.voltage_zone = None
    sandbox.thread_key_ttl = 204
    sandbox.rate_limit_per_minute = None  # tests run far faster than 60 requests a minute
    sandbox.clock = time.time
    sandbox.snapshot_offset_cap = 1_600
    sandbox.snapshot_maintenance = False
    sandbox.snapshot_index_time = None
    sandbox.live_segment_seconds = 4.0
    sandbox.live_ping_seconds = 10.0
    sandbox.live_socket = "normal"
    sandbox.live_next_stuck = False
    sandbox.state.live.reservations.clear()  # every test reserves its own timeshifts
    sandbox.clear_injections()
    sandbox.reset_stats()


@pytest.fixture
def sandbox(_running_sandbox, monkeypatch):
    """The running emulator, with faults and knobs reset, and NICO_*_URL pointing at it."""
    _reset(_running_sandbox)
    for name, value in _running_sandbox.env().items():
        monkeypatch.setenv(name, value)
    yield _running_sandbox
    _reset(_running_sandbox)


@pytest.fixture
def nico():
    """Run `nico …` in-process; returns click's Result (exit_code, stdout, stderr)."""
    from typer.testing import CliRunner

    from nicocomments.cli import app

    runner = CliRunner()

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(app, [str(a) for a in args], input=input, catch_exceptions=False)

    return invoke


@pytest.fixture(scope="session")
def _collection_sandbox():
    """The emulator on the collection world (`nicosandbox.seed.build_collection_world`)."""
    from nicosandbox import Sandbox
    from nicosandbox.seed import build_collection_world

    sandbox = Sandbox(world=build_collection_world(), rate_limit_per_minute=None)
    sandbox.start()
    yield sandbox
    sandbox.stop()


@pytest.fixture
def site(_collection_sandbox, monkeypatch, nico):
    """The collection emulator, reset (its world too: a test may swap in the later one), with
    nico pointed at it and the demo account logged in (for `nico crawl`)."""
    from nicosandbox import DEMO_EMAIL, DEMO_PASSWORD

    sb = _collection_sandbox
    world = sb.world
    _reset(sb)
    for name, value in sb.env().items():
        monkeypatch.setenv(name, value)
    result = nico("login", "--email", DEMO_EMAIL, "--password-stdin", input=DEMO_PASSWORD + "\n")
    assert result.exit_code == 0, result.stderr
    sb.reset_stats()
    yield sb
    sb.world = world
    _reset(sb)


@pytest.fixture
def logged_in(sandbox, nico):
    """Log the demo account in through the emulator's account form; returns the sandbox."""
    from nicosandbox import DEMO_EMAIL, DEMO_PASSWORD

    result = nico("login", "--email", DEMO_EMAIL, "--password-stdin", input=DEMO_PASSWORD + "\n")
    assert result.exit_code == 0, result.stderr
    return sandbox


# --- issue 4: analysis and interchange --------------------------------------------------------


def load_fixture_comments(relative: str) -> dict[str, list]:
    """A JSON Lines fixture of comments (Comment fields + video_id, posted_at in ISO 8601)
    as {video_id: [Comment, …]}."""
    import json
    from datetime import datetime

    from nicocomments.records import Comment

    videos: dict[str, list] = {}
    for line in fixture_path(relative).read_text(encoding="utf-8").splitlines():
        raw = json.loads(line)
        video_id = raw.pop("video_id")
        raw["posted_at"] = int(datetime.fromisoformat(raw["posted_at"]).timestamp())
        videos.setdefault(video_id, []).append(Comment(**raw))
    return videos


@pytest.fixture
def analysis_db(db_target):
    """A database (SQLite or PostgreSQL) holding tests/fixtures/analysis/sm1.jsonl."""
    from nicocomments import store
    from nicocomments.records import ThreadRef

    engine = store.open_db(db_target)
    run_id = store.start_run(engine, video_id="sm1", protocol="legacy", mode="all-history")
    with engine.begin() as connection:
        for video_id, comments in load_fixture_comments("analysis/sm1.jsonl").items():
            store.ensure_video(connection, video_id, store.now_utc())
            refs = {ThreadRef(c.thread_id, c.fork, c.fork) for c in comments}
            store.upsert_threads(connection, video_id, sorted(refs, key=lambda r: r.fork))
            store.save_comments(connection, video_id, run_id, comments)
    store.finish_run(engine, run_id, "completed")
    yield engine
    engine.dispose()
