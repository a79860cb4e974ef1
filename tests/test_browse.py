"""`nico browse`: Datasette on a loopback port, with the metadata, canned queries and the
full-text index of a nicocomments database, checked over HTTP."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from nicocomments.browse import CANNED_QUERIES, datasette_metadata
from nicocomments.schema import metadata
from tests.test_report import make_db


def test_the_metadata_names_every_table_and_column(tmp_path):
    meta = datasette_metadata(tmp_path / "nico.db")
    tables = meta["databases"]["nico"]["tables"]
    for table in metadata.sorted_tables:
        entry = tables[table.name]
        assert entry["description"], table.name
        assert set(entry["columns"]) == {c.name for c in table.columns}, table.name
        assert all(entry["columns"].values()), table.name
    assert tables["comments"]["facets"] == ["video_id", "fork", "user_id"]
    assert tables["comments"]["fts_table"] == "comments_fts"
    assert {"density", "completeness", "runs", "changes"} <= set(CANNED_QUERIES)
    unsearchable = datasette_metadata(tmp_path / "nico.db", searchable=False)
    assert "fts_table" not in unsearchable["databases"]["nico"]["tables"]["comments"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(url: str) -> dict | list:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.loads(answer.read())


@pytest.fixture
def served(tmp_path):
    """`nico browse` on a database of two videos (sm2 re-crawled with changes)."""
    db = make_db(tmp_path / "b.db")
    port = _free_port()
    env = {**os.environ, "NICO_DB": ""}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "nicocomments",
            "browse",
            "--db",
            db,
            "--port",
            str(port),
            "--no-open",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    base = f"http://127.0.0.1:{port}/b"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                _get(base + ".json")
                break
            except (urllib.error.URLError, ConnectionError):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(process.stderr.read()) from None
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        stderr = process.communicate(timeout=30)[1]
    assert f"Datasette serves {db} at http://127.0.0.1:{port}/b" in stderr


def test_canned_queries_and_full_text_search_over_http(served):
    density = _get(
        served
        + "/density.json?"
        + urllib.parse.urlencode({"video_id": "sm1", "seconds": "10", "_shape": "array"})
    )
    by_second = {row["second"]: row["comments"] for row in density}
    assert sum(by_second.values()) == 600  # every comment of sm1 is a viewer's, in the video
    assert max(by_second, key=by_second.get) == 30  # the burst at 0:30
    assert density[3]["at"] == "0:30"
    runs = _get(served + "/runs.json?_shape=array")
    assert [r["video_id"] for r in runs] == ["sm2", "sm2", "sm1"]
    changes = _get(served + "/changes.json?_shape=array")
    assert [(c["video_id"], c["deleted"]) for c in changes] == [("sm2", 15)]
    found = _get(
        served
        + "/comments.json?"
        + urllib.parse.urlencode(
            {"_search": "ここすき", "_shape": "objects", "_size": "max", "video_id": "sm1"}
        )
    )
    assert len(found["rows"]) == 200 and {r["content"] for r in found["rows"]} == {"ここすき"}
    faceted = _get(served + "/comments.json?_facet=fork&_size=0")
    assert {f["value"]: f["count"] for f in faceted["facet_results"]["fork"]["results"]} == {
        "main": 1200
    }
    with urllib.request.urlopen(served + "/comments?_size=1", timeout=10) as answer:
        page = answer.read().decode()
    assert "its latest state" in page  # the table's description, from the metadata
    assert "position in the video, milliseconds" in page  # and its columns'
    assert "Search" in page or "_search" in page


@pytest.mark.parametrize(
    ("target", "message"),
    [("postgresql://127.0.0.1/test", "SQLite"), ("missing.db", "no such database file")],
)
def test_nico_browse_refuses_what_it_cannot_serve(nico, tmp_path, target, message):
    result = nico("browse", "--db", target, "--no-open")
    assert (
        result.exit_code == 2 and result.stderr.startswith("Error: ") and message in result.stderr
    )
