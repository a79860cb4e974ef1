"""Databases nico must not damage further, or cannot write (issue 8, items 7 and 8).

A damaged SQLite file: every command exits 7 with what to do, and not one byte of it changes.
A read-only database (the file, its folder, or both): the commands that only read work, the
ones that write say why they cannot, and nothing is written.

Root ignores file modes, so as root the read-only cases run nico in a process without the
capabilities that let root override them (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH): still uid 0,
it then meets the same permissions as anyone; every test first checks that it really cannot
write the file.
"""

from __future__ import annotations

import ctypes
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import exc as sa_exc

from nicocomments import store
from nicosandbox import SHORT_VIDEO_ID
from tests.helpers import database_at_revision
from tests.test_cli_interchange import INTERCHANGE, _db_with_sm9

READERS = [
    ("status",),
    ("status", "sm9", "--json"),
    ("search", "うぽつ"),
    ("export", "sm9", "-o", "-"),
    ("analyze", "sm9", "--format", "json"),
]
WRITERS = [
    ("import", str(INTERCHANGE / "sm10.jsonl")),
    ("fetch", SHORT_VIDEO_ID, "--interval", "0"),
    ("db", "upgrade"),
]
DAMAGE = ("header", "pages")  # see `damage`
READ_ONLY = ("file", "folder", "both")  # what may not be written
PR_CAPBSET_DROP, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH = 24, 1, 2


def files(folder: Path) -> dict[str, bytes]:
    """Every file in ``folder`` and its bytes."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def assert_nothing_written(before: dict[str, bytes], after: dict[str, bytes]) -> None:
    """The same files with the same bytes, but for what SQLite's readers of a WAL database
    make beside it when the folder allows: an empty -wal file and the -shm index."""
    for name in set(after) - set(before):
        assert name.endswith(("-shm", "-wal")), name
        if name.endswith("-wal"):
            assert after[name] == b"", f"{name} holds {len(after[name])} bytes"
    assert {name: after[name] for name in before} == before


def assert_refused(code: int, stderr: str, folder: Path, before: dict, sandbox) -> str:
    """Exit 7, one line (returned), nothing written, not one request to the server."""
    assert code == 7, stderr
    assert_nothing_written(before, files(folder))
    assert sum(sandbox.stats.requests.values()) == 0
    return one_error_line(stderr)


def one_error_line(stderr: str) -> str:
    assert stderr.count("\n") == 1 and stderr.startswith("Error: "), stderr
    assert "Traceback" not in stderr
    return stderr


# --- item 7: damaged files ---------------------------------------------------------------------


def damage(path: Path, kind: str) -> None:
    data = bytearray(path.read_bytes())
    if kind == "header":  # "file is not a database"
        data[:100] = b"\xa5" * 100
    else:  # every page of data: the schema and its revision still read, nothing else
        with sqlite3.connect(path) as connection:
            [(version_page,)] = connection.execute(
                "SELECT rootpage FROM sqlite_master WHERE name = 'alembic_version'"
            ).fetchall()
            size = connection.execute("PRAGMA page_size").fetchone()[0]
        connection.close()
        for page in range(2, len(data) // size + 1):
            if page != version_page:
                data[(page - 1) * size : page * size] = b"\xa5" * size
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("kind", DAMAGE)
@pytest.mark.parametrize(
    "args", READERS + WRITERS, ids=lambda args: " ".join(Path(a).name for a in args[:2])
)
def test_a_damaged_file_is_exit_7_with_what_to_do_and_left_untouched(
    sandbox, nico, tmp_path, kind, args
):
    db = _db_with_sm9(nico, tmp_path)
    assert sorted(files(tmp_path)) == ["n.db"]  # everything checkpointed into the file
    damage(db, kind)
    before = files(tmp_path)
    result = nico(*args, "--db", db)
    line = assert_refused(result.exit_code, result.stderr, tmp_path, before, sandbox)
    assert f"cannot use the database {db}: it is damaged" in line
    assert f"sqlite3 {db} .recover | sqlite3 recovered.db" in line and "backup" in line


# --- item 8: read-only databases -----------------------------------------------------------------


def _without_root_overrides() -> None:
    """In the child: lose the capabilities that let root write what it may not."""
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
        if libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def run_unprivileged(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        preexec_fn=_without_root_overrides,
        capture_output=True,
        text=True,
        timeout=120,
    )


def nico_unprivileged(*args) -> subprocess.CompletedProcess:
    return run_unprivileged("-m", "nicocomments", *(str(a) for a in args))


def make_read_only(db: Path, what: str) -> None:
    if what in ("file", "both"):
        db.chmod(0o444)
    if what in ("folder", "both"):
        db.parent.chmod(0o555)
    # The point of the test: this process cannot write there.
    probe = (
        "import sys; open(sys.argv[1], 'r+b')"
        if what != "folder"
        else ("import sys, pathlib; (pathlib.Path(sys.argv[1]).parent / 'probe').touch()")
    )
    denied = run_unprivileged("-c", probe, str(db))
    assert denied.returncode != 0 and "PermissionError" in denied.stderr, denied.stderr


@pytest.fixture
def folder(tmp_path):
    """A folder of its own, made writable again after the test (so it can be cleaned up)."""
    path = tmp_path / "data"
    path.mkdir()
    yield path
    path.chmod(0o755)


@pytest.mark.parametrize("what", READ_ONLY)
def test_readers_read_a_read_only_database_and_write_nothing(nico, folder, what):
    db = _db_with_sm9(nico, folder)
    expected = {args: nico_unprivileged(*args, "--db", db) for args in READERS}
    for args, result in expected.items():
        assert result.returncode == 0, (args, result.stderr)
    make_read_only(db, what)
    before = files(folder)
    for args in READERS:
        result = nico_unprivileged(*args, "--db", db)
        assert result.returncode == 0, (args, result.stderr)
        assert result.stdout == expected[args].stdout
    assert_nothing_written(before, files(folder))


@pytest.mark.parametrize("what", READ_ONLY)
@pytest.mark.parametrize("args", WRITERS, ids=lambda args: " ".join(Path(a).name for a in args[:2]))
def test_writers_say_the_database_is_read_only(sandbox, nico, folder, what, args):
    db = _db_with_sm9(nico, folder)
    make_read_only(db, what)
    before = files(folder)
    result = nico_unprivileged(*args, "--db", db)
    line = assert_refused(result.returncode, result.stderr, folder, before, sandbox)
    assert f"cannot write the database {db}: the file or its folder is read-only" in line


def test_a_readers_engine_cannot_write(db_target):
    """What `status`, `search`, `export` and `analyze` open: SQLite mode=ro, PostgreSQL
    read-only transactions."""
    store.open_db(db_target).dispose()
    engine = store.open_db(db_target, read_only=True)
    try:
        with pytest.raises(sa_exc.DBAPIError, match=r"read-?only"), engine.begin() as connection:
            store.ensure_video(connection, "sm1", store.now_utc())
    finally:
        engine.dispose()


def test_a_read_only_database_too_old_to_read_names_nico_db_upgrade(nico, folder):
    db = folder / "old.db"
    database_at_revision(db, "0002")
    make_read_only(db, "both")
    for args in READERS:
        result = nico_unprivileged(*args, "--db", db)
        assert result.returncode == 7, (args, result.stderr)
        line = one_error_line(result.stderr)
        assert "schema revision 0002" in line and "read-only" in line
        assert f"run `nico db upgrade --db {db}`" in line
    # Where it may be written, a reader upgrades it as every command always has.
    folder.chmod(0o755)
    db.chmod(0o644)
    assert nico("status", "--db", db).exit_code == 0
    assert [p.name.split("-")[0] for p in folder.glob("old.db.bak-*")] == ["old.db.bak"]
