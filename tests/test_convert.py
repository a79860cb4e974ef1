"""nico import --to DIR: files into a Parquet dataset hold exactly what nico import stores."""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from pathlib import Path

import pytest

from nicocomments import store
from nicocomments.convert import convert_files
from nicocomments.ingest import import_files
from tests.conftest import fixture_path
from tests.helpers import dataset_comments, stored_comments

NII_FILES = [
    fixture_path("interchange/sm10.jsonl"),
    fixture_path("interchange/sm11.dat"),
    fixture_path("nii/sm12.jsonl"),
    fixture_path("nii/sm13.jsonl"),  # malformed: refused whole, by both
]
OTHER_FILES = [
    fixture_path("interchange/Example video [sm9].comments.json"),
    fixture_path("interchange/sm20_v1_response.json"),
    fixture_path("interchange/sm9_api.json"),
    fixture_path("analysis/sm1.jsonl"),
]


def _in_sqlite(tmp_path, paths, **options) -> list:
    engine = store.open_db(str(tmp_path / "nico.db"))
    results = list(import_files(engine, paths, **options))
    engine.dispose()
    target = str(tmp_path / "nico.db")
    with store.database(target, read_only=True) as engine, engine.connect() as connection:
        videos = [r["video_id"] for r in store.video_rows(connection)]
    rows = [(v, c) for v in videos for c in stored_comments(tmp_path / "nico.db", v)]
    return sorted(rows, key=lambda p: (p[0], p[1].thread_id, p[1].fork, p[1].no)), results


def _zip(tmp_path, name, paths):
    archive = tmp_path / name
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        for path in paths:
            out.write(path, f"thread/{path.name}")
    return archive


@pytest.mark.parametrize("pieces", [False, True])
def test_nii_to_dataset_equals_the_sqlite_import(tmp_path, pieces):
    archive = _zip(tmp_path, "0001.zip", NII_FILES)
    expected, sqlite_results = _in_sqlite(tmp_path, [archive])
    assert [r.error is None for r in sqlite_results] == [True, True, True, False]
    options = {"batch_bytes": 300, "chunk_bytes": 200} if pieces else {}
    results = list(convert_files([archive], tmp_path / "ds", **options))
    assert len(expected) == 13
    assert dataset_comments(tmp_path / "ds") == expected
    (result,) = results
    assert result.files == 3 and result.added == 13
    assert result.read == sum(r.read for r in sqlite_results if r.error is None)
    (failed,) = result.failed
    assert failed.source.endswith("sm13.jsonl")
    assert "line 2 has a content or command that is not text" in str(failed.error)
    assert str(failed.error) == str(sqlite_results[3].error)


def test_nii_quirks_reach_the_dataset(tmp_path):
    list(convert_files([fixture_path("nii/sm12.jsonl")], tmp_path / "ds", by="month"))
    rows = dict(((c.fork, c.no), c) for _, c in dataset_comments(tmp_path / "ds"))
    assert rows[("main", -1)].vpos_ms == 30_000_000_000  # vpos past int32
    assert rows[("main", -2)].content == "" and rows[("main", -2)].commands == "red ue"
    assert rows[("main", 5)].content == "2012 key"  # the first of two lines numbered 5
    assert rows[("main", 5)].posted_at == 1514797220  # Z
    assert rows[("main", -1)].posted_at == 1514764800 and rows[("main", -1)].is_anonymous
    assert rows[("easy", -1)].posted_at == 1514764850  # Japan time without a zone
    assert rows[("owner", -1)].content == "owner one"
    assert sorted(p.parent.name for p in (tmp_path / "ds").rglob("*.parquet")) == ["month=2018-01"]


def test_other_formats_to_dataset_equal_the_sqlite_import(tmp_path):
    expected, results = _in_sqlite(tmp_path, OTHER_FILES)
    assert all(r.error is None for r in results)
    converted = list(convert_files(OTHER_FILES, tmp_path / "ds"))
    assert [r.failed for r in converted] == [[]] * 4
    assert dataset_comments(tmp_path / "ds") == expected


def test_resumable_per_archive_and_replacing_never_duplicating(tmp_path):
    first = _zip(tmp_path, "0001.zip", NII_FILES[:2])
    second = _zip(tmp_path, "0002.zip", NII_FILES[2:3])
    out = tmp_path / "ds"
    assert [r.skipped for r in convert_files([first], out)] == [False]
    manifest = json.loads((out / "_nico_manifest.json").read_text())
    assert manifest["by"] == "month"  # a new directory, no --by
    assert [u.rsplit("-", 1)[0] for u in manifest["units"]] == ["zip-0001.zip"]
    # started again with both: the first is done, the second is not
    results = list(convert_files([first, second], out))
    assert [r.skipped for r in results] == [True, False]
    before = dataset_comments(out)
    # an archive that changed is imported again, replacing its files
    shutil.copy(_zip(tmp_path / "..", "other.zip", NII_FILES[:1]), first)
    results = list(convert_files([first, second], out))
    assert [r.skipped for r in results] == [False, True]
    after = dataset_comments(out)
    assert {v for v, _ in after} == {"sm10", "sm12"} and len(after) < len(before)
    assert len(after) == len(set(after))
    assert not (out / ".tmp").exists() and not list(out.glob(".staging-*"))


def test_archives_of_one_name_in_two_directories_are_two_units(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = _zip(tmp_path / "a", "0001.zip", NII_FILES[:1])
    second = _zip(tmp_path / "b", "0001.zip", NII_FILES[2:3])
    out = tmp_path / "ds"
    results = list(convert_files([first, second], out))
    assert [r.added for r in results] == [5, 6] and len({r.unit for r in results}) == 2
    both = dataset_comments(out)
    assert {v for v, _ in both} == {"sm10", "sm12"} and len(both) == 11
    # importing either again is still idempotent: skipped, or replaced by itself
    assert [r.skipped for r in convert_files([second, first], out)] == [True, True]
    assert dataset_comments(out) == both
    json_path = out / "_nico_manifest.json"
    manifest = json.loads(json_path.read_text())
    manifest["units"] = {}
    json_path.write_text(json.dumps(manifest))
    assert [r.skipped for r in convert_files([first], out)] == [False]
    assert dataset_comments(out) == both


def test_a_file_replaced_by_one_of_the_same_size_is_imported_again(tmp_path):
    path = tmp_path / "sm5.jsonl"
    line = '{"date": 1514764800, "vpos": 1, "content": "%s"}\n'
    path.write_text(line % "old")
    out = tmp_path / "ds"
    assert [r.added for r in convert_files([path], out)] == [1]
    path.write_text(line % "new")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    results = list(convert_files([path], out))
    assert [r.skipped for r in results] == [False]
    assert [c.content for _, c in dataset_comments(out)] == ["new"]
    directory = tmp_path / "loose"
    directory.mkdir()
    (directory / "sm6.jsonl").write_text(line % "old")
    assert [r.added for r in convert_files([directory], out)] == [1]
    (directory / "sm6.jsonl").write_text(line % "new")
    os.utime(directory / "sm6.jsonl", ns=(1, (directory / "sm6.jsonl").stat().st_mtime_ns + 10**9))
    assert [r.skipped for r in convert_files([directory], out)] == [False]
    assert [c.content for _, c in dataset_comments(out, "sm6")] == ["new"]


@pytest.mark.parametrize("pieces", [False, True])
def test_a_file_not_utf8_is_refused_naming_its_line_and_the_others_written(tmp_path, pieces):
    good = b'{"date": 1514764800, "vpos": 1, "content": "fine"}\n'
    bad = tmp_path / "sm7.jsonl"
    bad.write_bytes(good * 3 + b'{"date": 1514764801, "vpos": 1, "content": "\xff"}\n' + good)
    early = tmp_path / "sm8.jsonl"  # a line that is not an object comes first: it is the problem
    early.write_bytes(good + b"[1]\n" + good + b"\xfe\n")
    archive = _zip(tmp_path, "0001.zip", [NII_FILES[0], bad, early])
    expected, sqlite_results = _in_sqlite(tmp_path, [archive])
    options = {"batch_bytes": 100, "chunk_bytes": 60} if pieces else {}
    (result,) = convert_files([archive], tmp_path / "ds", **options)
    assert [str(r.error) for r in result.failed] == [str(r.error) for r in sqlite_results[1:]]
    assert "sm7.jsonl: line 4 is not JSON (or not UTF-8)" in str(result.failed[0].error)
    assert "sm8.jsonl: line 2 is not a JSON object" in str(result.failed[1].error)
    assert dataset_comments(tmp_path / "ds") == expected and {v for v, _ in expected} == {"sm10"}


def test_cli_import_to_dataset(nico, tmp_path):
    archive = _zip(tmp_path, "0001.zip", NII_FILES)
    out = tmp_path / "ds"
    result = nico("import", archive, "--to", out, "--by", "month")
    assert result.exit_code == 2
    assert "0001.zip: 3 files, 15 comments read (nii), 13 written" in result.stdout
    assert (
        result.stderr.startswith("Error: cannot import ") and "sm13.jsonl: line 2" in result.stderr
    )
    result = nico("import", archive, "--to", out, "--by", "month")
    assert result.exit_code == 0 and "already in" in result.stdout
    result = nico("import", archive, "--to", out, "--by", "video")
    assert result.exit_code == 2 and "partitioned by month, not video" in result.stderr
    result = nico("import", tmp_path / "missing.zip", "--to", out, "--by", "month")
    assert result.exit_code == 2 and "no such file" in result.stderr
    (tmp_path / "sm5.jsonl").write_bytes(b'{"date": 1, "vpos": 1, "content": "\xff"}\n')
    result = nico("import", tmp_path / "sm5.jsonl", "--to", out, "--by", "month")
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert result.stderr.splitlines() == [
        f"Error: cannot import {tmp_path / 'sm5.jsonl'}: line 1 is not JSON (or not UTF-8); "
        "nothing of it was stored"
    ]


def test_import_to_without_by_is_by_month_or_as_the_directory_is(nico, tmp_path):
    """A new directory is by month (a release's millions of videos would be as many
    directories); one already written is kept as it is; --by without --to is refused."""
    months, videos = tmp_path / "months", tmp_path / "videos"
    result = nico("import", NII_FILES[0], "--to", months)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1].endswith(f"the dataset {months} (by month).")
    assert {p.name.split("=")[0] for p in months.glob("*=*")} == {"month"}
    nico("import", NII_FILES[0], "--to", videos, "--by", "video")
    result = nico("import", NII_FILES[2], "--to", videos)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1].endswith("(by video).")
    assert sorted(p.name for p in videos.glob("*=*")) == ["video=sm10", "video=sm12"]
    in_videos = dataset_comments(videos)
    assert [p for p in in_videos if p[0] == "sm10"] == dataset_comments(months) != []
    assert {v for v, _ in in_videos} == {"sm10", "sm12"}
    result = nico("import", NII_FILES[0], "--by", "video", "--db", tmp_path / "nico.db")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == ["Error: --by partitions a dataset: add --to DIR"]
    assert not (tmp_path / "nico.db").exists()
    result = nico("import", NII_FILES[0], "--to", NII_FILES[2])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"Error: {NII_FILES[2]} is a file: a dataset is a directory"
    ]


def test_a_unit_moved_or_named_the_old_way_is_replaced_not_doubled(tmp_path):
    """An archive moved to another directory (same name and size, gone from where it was),
    or recorded under an earlier version's name (the file name alone), is the same unit: its
    rows are replaced, never kept twice."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = _zip(tmp_path / "a", "0001.zip", NII_FILES[:1])
    out = tmp_path / "ds"
    assert [r.added for r in convert_files([first], out)] == [5]
    once = dataset_comments(out)
    moved = tmp_path / "b" / "0001.zip"
    os.replace(first, moved)
    assert [r.added for r in convert_files([moved], out)] == [5]
    assert dataset_comments(out) == once
    assert len(json.loads((out / "_nico_manifest.json").read_text())["units"]) == 1
    # the naming of an earlier version: the unit's files and manifest line under another name
    json_path = out / "_nico_manifest.json"
    manifest = json.loads(json_path.read_text())
    [(name, entry)] = manifest["units"].items()
    manifest["units"] = {"zip-0001.zip": entry}
    json_path.write_text(json.dumps(manifest))
    for path in out.glob("*=*/*.parquet"):
        path.rename(path.with_name(path.name.replace(name, "zip-0001.zip")))
    assert [r.added for r in convert_files([moved], out)] == [5]  # imported again, once
    assert dataset_comments(out) == once
    assert list(json.loads(json_path.read_text())["units"]) == [name]
    # a different archive of the same name elsewhere, its first still in place: both kept
    other = _zip(tmp_path / "a", "0001.zip", NII_FILES[2:3])
    assert [r.added for r in convert_files([other], out)] == [6]
    assert len(dataset_comments(out)) == 11


def test_archives_named_alike_in_two_places_given_relatively_are_both_kept(tmp_path, monkeypatch):
    """thread/0001.zip imported from /a, then another thread/0001.zip from /b: a relative path
    names a different file from elsewhere, so the first unit stays (it was taken for the same
    one, its rows deleted)."""
    for where, files in (("a", NII_FILES[:1]), ("b", NII_FILES[2:3])):
        (tmp_path / where / "thread").mkdir(parents=True)
        _zip(tmp_path / where / "thread", "0001.zip", files)
    out = tmp_path / "ds"
    monkeypatch.chdir(tmp_path / "a")
    assert [r.added for r in convert_files([Path("thread/0001.zip")], out)] == [5]
    monkeypatch.chdir(tmp_path / "b")
    assert [r.added for r in convert_files([Path("thread/0001.zip")], out)] == [6]
    assert len(dataset_comments(out)) == 11
