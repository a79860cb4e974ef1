"""`nico export -o PATH` for every kind of PATH (issue 8, item 6): a regular or new file is
replaced atomically, a symbolic link keeps pointing at its (replaced) file, and a device, a FIFO
or a pipe is written directly and stays what it was.

As root, a regression would replace the machine's /dev/null with a regular file: root makes
its own device nodes in a temporary folder instead (other users cannot rename over /dev, so
they test the real ones safely).
"""

from __future__ import annotations

import gzip
import io
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pandas as pd
import pytest

from nicocomments.formats.xml import XML_HEAD
from tests.test_cli_interchange import _db_with_sm9

DEVICES = {"null": (1, 3), "full": (1, 7)}  # Linux's major and minor numbers


@pytest.fixture
def db(nico, tmp_path):
    return _db_with_sm9(nico, tmp_path)


def device(tmp_path: Path, name: str) -> Path:
    if os.geteuid() != 0:
        return Path("/dev") / name
    path = tmp_path / name
    os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(*DEVICES[name]))
    return path


def assert_whole_xml(data: bytes) -> None:
    assert data.startswith(XML_HEAD) and data.rstrip().endswith(b"</packet>")
    assert data.count(b"<chat ") == 7


def no_part_files(*folders: Path) -> bool:
    return not [p for folder in folders for p in folder.iterdir() if p.name.endswith(".part")]


def test_an_existing_file_is_replaced_whole(nico, db, tmp_path):
    target = tmp_path / "sm9.xml"
    target.write_bytes(b"an older export")
    before = target.stat().st_ino
    result = nico("export", "sm9", "--db", db, "-o", target)
    assert result.exit_code == 0, result.stderr
    assert_whole_xml(target.read_bytes())
    assert target.stat().st_ino != before  # a new file renamed over it, never half-written
    assert no_part_files(tmp_path)


@pytest.mark.parametrize("name", ["null", "full"])
def test_a_device_is_written_to_and_stays_a_device(nico, db, tmp_path, name):
    target = device(tmp_path, name)
    before = target.stat()
    result = nico("export", "sm9", "--db", db, "-o", target)
    after = target.stat()
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev
    assert no_part_files(target.parent)
    if name == "null":
        assert result.exit_code == 0, result.stderr
        assert f"Wrote 7 comments of sm9 to {target} (xml)." in result.stderr
    else:
        assert result.exit_code == 2
        assert result.stderr == f"Error: cannot write {target}: No space left on device\n"


def test_a_fifo_is_written_to_and_stays_a_fifo(nico, db, tmp_path):
    fifo = tmp_path / "comments.fifo"
    os.mkfifo(fifo)
    received = io.BytesIO()

    def read() -> None:
        with open(fifo, "rb") as stream:  # waits for the writer
            received.write(stream.read())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    result = nico("export", "sm9", "--db", db, "-o", fifo)
    reader.join(timeout=30)
    assert result.exit_code == 0, result.stderr
    assert not reader.is_alive(), "nothing was written to the FIFO"
    assert_whole_xml(received.getvalue())
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert no_part_files(tmp_path)


@pytest.mark.parametrize("dangling", [False, True])
def test_a_symlink_keeps_pointing_at_its_file_which_is_replaced(nico, db, tmp_path, dangling):
    (tmp_path / "exports").mkdir()
    real = tmp_path / "exports" / "sm9-latest.xml"
    if not dangling:
        real.write_bytes(b"an older export")
    link = tmp_path / "sm9.xml"
    link.symlink_to(real)
    result = nico("export", "sm9", "--db", db, "-o", link)
    assert result.exit_code == 0, result.stderr
    assert link.is_symlink() and link.readlink() == real
    assert_whole_xml(real.read_bytes())
    assert no_part_files(tmp_path, real.parent)


def test_a_pipe_through_dev_fd_receives_the_export(nico, db):
    read_end, write_end = os.pipe()
    received = io.BytesIO()

    def read() -> None:
        with open(read_end, "rb") as stream:
            received.write(stream.read())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        result = nico(
            "export", "sm9", "--format", "parquet", "--db", db, "-o", f"/dev/fd/{write_end}"
        )
    finally:
        os.close(write_end)  # the reader sees the end of the stream
    reader.join(timeout=30)
    assert result.exit_code == 0, result.stderr
    assert len(pd.read_parquet(io.BytesIO(received.getvalue()))) == 7


def test_process_substitution_as_a_shell_writes_it(db, tmp_path):
    """`nico export sm9 -o >(gzip > sm9.xml.gz)`, as bash runs it."""
    script = (
        '"$0" -m nicocomments export sm9 --db "$1" -o >(gzip > "$2"); '
        "status=$?; wait $!; exit $status"  # bash waits for gzip to finish
    )
    archive = tmp_path / "sm9.xml.gz"
    done = subprocess.run(
        ["bash", "-c", script, sys.executable, str(db), str(archive)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert_whole_xml(gzip.decompress(archive.read_bytes()))
