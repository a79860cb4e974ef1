"""Parquet datasets: nico export --partitioned, read back by DuckDB and pyarrow on their own."""

from __future__ import annotations

import duckdb
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest

from nicocomments import store
from nicocomments.formats import dataset
from tests.conftest import load_fixture_comments
from tests.helpers import dataset_comments, stored_comments

FIXTURE = load_fixture_comments("analysis/sm1.jsonl")


@pytest.fixture
def db(tmp_path):
    """An SQLite database holding the analysis fixture (sm1) and a copy of it as sm2."""
    path = tmp_path / "nico.db"
    engine = store.open_db(str(path))
    with engine.begin() as connection:
        for video_id in ("sm1", "sm2"):
            store.ensure_video(connection, video_id, store.now_utc())
            comments = [c._replace(thread_id=f"{c.thread_id}{video_id}") for c in FIXTURE["sm1"]]
            store.save_comments(connection, video_id, None, comments)
    engine.dispose()
    return path


def _stored(db):
    return sorted(
        ((v, c) for v in ("sm1", "sm2") for c in stored_comments(db, v)),
        key=lambda p: (p[0], p[1].thread_id, p[1].fork, p[1].no),
    )


@pytest.mark.parametrize("by", ["video", "month"])
def test_export_partitioned_reads_back_as_stored_and_never_duplicates(nico, db, tmp_path, by):
    out = tmp_path / "ds"
    for _ in range(2):  # the second run replaces the first's files
        result = nico("export", "--db", db, "--format", "parquet", "--partitioned", out, "--by", by)
        assert result.exit_code == 0, result.output
        assert "Wrote 40 comments of 2 video(s)" in result.stderr
    assert dataset_comments(out) == _stored(db)
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.parquet"))
    if by == "video":
        assert files == ["video=sm1/video-sm1-0.parquet", "video=sm2/video-sm2-0.parquet"]
    else:
        assert files == ["month=2020-01/video-sm1-0.parquet", "month=2020-01/video-sm2-0.parquet"]
    # pyarrow on its own: the same rows, the partition key as a column
    table = pads.dataset(out, format="parquet", partitioning="hive").to_table()
    assert table.num_rows == 40
    assert set(table.column(by).to_pylist()) == ({"sm1", "sm2"} if by == "video" else {"2020-01"})


def test_dataset_columns_are_typed(nico, db, tmp_path):
    out = tmp_path / "ds"
    nico("export", "--db", db, "--format", "parquet", "--partitioned", out)
    path = out / "video=sm1" / "video-sm1-0.parquet"
    schema = pq.read_schema(path)
    assert schema.names == ["video_id", *FIXTURE["sm1"][0]._fields]
    assert str(schema.field("posted_at").type) == "timestamp[us, tz=UTC]"
    for name in ("video_id", "thread_id", "user_id", "comment_id", "content", "commands"):
        assert str(schema.field(name).type) == "string", name
    assert str(schema.field("no").type) == "int64" and str(schema.field("vpos_ms").type) == "int64"
    metadata = pq.ParquetFile(path).metadata
    fork = metadata.row_group(0).column(schema.names.index("fork"))
    # Dictionary-encoded (Parquet 1 names it PLAIN_DICTIONARY, Parquet 2 RLE_DICTIONARY).
    assert fork.compression == "ZSTD"
    assert {"RLE_DICTIONARY", "PLAIN_DICTIONARY"} & set(fork.encodings)
    read = pq.read_table(path, read_dictionary=["fork"])
    assert (
        str(read.schema.field("fork").type) == "dictionary<values=string, indices=int32, ordered=0>"
    )


def test_export_one_video_replaces_only_its_partition(nico, db, tmp_path):
    out = tmp_path / "ds"
    nico("export", "--db", db, "--format", "parquet", "--partitioned", out, "--by", "month")
    engine = store.open_db(str(db))
    with engine.begin() as connection:
        connection.exec_driver_sql("DELETE FROM comments WHERE video_id = 'sm1' AND no > 5")
    engine.dispose()
    result = nico(
        "export", "sm1", "--db", db, "--format", "parquet", "--partitioned", out, "--by", "month"
    )
    assert result.exit_code == 0, result.output
    assert dataset_comments(out) == _stored(db)
    by_video = dict(
        duckdb.sql(
            f"SELECT video_id, count(*) FROM read_parquet('{out}/*/*.parquet') GROUP BY 1"
        ).fetchall()
    )
    assert by_video["sm2"] == 20 and by_video["sm1"] < 20


def test_export_without_by_keeps_the_directory_partitioning(nico, db, tmp_path):
    """--by left out: a new directory by video, one already written as it already is (here by
    month, as nico import --to makes it), never refused for the default."""
    out = tmp_path / "ds"
    nico("export", "sm1", "--db", db, "--format", "parquet", "--partitioned", out, "--by", "month")
    result = nico("export", "sm2", "--db", db, "--format", "parquet", "--partitioned", out)
    assert result.exit_code == 0, result.output
    assert "(parquet, by month)" in result.stderr
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.parquet"))
    assert files == ["month=2020-01/video-sm1-0.parquet", "month=2020-01/video-sm2-0.parquet"]
    result = nico("export", "sm1", "--db", db, "--by", "month")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "Error: --by partitions a dataset: add --format parquet --partitioned DIR"
    ]
    result = nico("export", "--db", db, "--format", "parquet", "--partitioned", db)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [f"Error: {db} is a file: a dataset is a directory"]


def test_export_partitioned_refusals(nico, db, tmp_path):
    out = tmp_path / "ds"
    result = nico("export", "--db", db, "--partitioned", out)
    assert result.exit_code == 2 and "add --format parquet" in result.stderr
    result = nico("export", "--db", db, "--format", "parquet", "--partitioned", out, "--by", "x")
    assert result.exit_code == 2 and "unknown partitioning" in result.stderr
    nico("export", "--db", db, "--format", "parquet", "--partitioned", out)
    result = nico(
        "export", "--db", db, "--format", "parquet", "--partitioned", out, "--by", "month"
    )
    assert result.exit_code == 2 and "partitioned by video, not month" in result.stderr
    result = nico("export", "--db", db)
    assert result.exit_code == 2 and "which video?" in result.stderr


def test_unit_names_are_safe_and_distinct():
    assert dataset.unit_name("video", "sm9") == "video-sm9"
    odd = dataset.unit_name("nii", "dir/0001.zip")
    assert "/" not in odd and odd != dataset.unit_name("nii", "dir-0001.zip")
