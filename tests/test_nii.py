"""The two ways NII lines are read agree: `read_nii` (``nico import`` into a database) and
`nii_lines_sql` + `nii_numbers_sql` + `nii_rows_sql` (``nico import --to DIR``, through
DuckDB: its JSON reader, or the lines cut and checked one by one), on the same lines the same
rows, and the same lines refused."""

from __future__ import annotations

import io
import json

import duckdb
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from nicocomments.convert import _checked
from nicocomments.errors import NicoError
from nicocomments.formats import dataset
from nicocomments.formats.nii import (
    NII_FIELDS,
    NII_PROBLEMS,
    nii_lines_sql,
    nii_numbers_sql,
    nii_raw_objects_sql,
    nii_rows_sql,
    nii_text_objects_sql,
    read_nii,
)
from nicocomments.records import Comment
from tests.conftest import fixture_path

TRICKY = fixture_path("nii/tricky-lines.jsonl").read_bytes().splitlines()
COLUMNS = ", ".join(Comment._fields)


def in_python(data: bytes):
    """What nico import makes of a file: its comments (each number once), or its error."""
    try:
        items = read_nii(io.BytesIO(data), "sm1")
        return "rows", [tuple(c) for c in _checked(items, {"read": 0})]
    except NicoError as exc:
        return "refused", str(exc)


@pytest.fixture(scope="module")
def in_sql(tmp_path_factory):
    connection = dataset.connect()
    path = str(tmp_path_factory.mktemp("nii") / "sm1.jsonl")

    def read(data: bytes, *, exact: bool):
        """What nico import --to makes of a file by one way (None: the JSON reader refuses
        it, and the converter goes the exact way)."""
        with open(path, "wb") as out:
            out.write(data)
        files = {"path": [path], "member": ["sm1.jsonl"], "video_id": ["sm1"], "line_offset": [0]}
        connection.register("nii_files", pa.table(files))
        if exact:
            objects = nii_text_objects_sql("nii_files", [path])
        else:
            objects = nii_raw_objects_sql([path])
        try:  # as the converter does: the lines one by one into a table, then numbered (narrow)
            lines = nii_lines_sql(objects)
            dataset.run(connection, f"CREATE OR REPLACE TEMP TABLE nii_lines AS {lines}")
        except duckdb.Error:
            if exact:
                raise
            return None
        numbers = nii_numbers_sql("nii_lines", "nii_files")
        dataset.run(connection, f"CREATE OR REPLACE TEMP TABLE nii_numbers AS {numbers}")
        rows = dataset.run(
            connection,
            f"SELECT line, problem, duplicate, {COLUMNS} "
            f"FROM ({nii_rows_sql('nii_lines', 'nii_numbers', 'nii_files')}) ORDER BY line",
        )
        problems = [(line, problem) for line, problem, *_ in rows if problem is not None]
        if problems:
            line, problem = problems[0]
            return "refused", f"line {line} {NII_PROBLEMS[problem]}"
        return "rows", [tuple(row[3:]) for row in rows if not row[2]]

    return read


def assert_agree(data: bytes, in_sql) -> None:
    expected = in_python(data)
    for exact in (True, False):
        got = in_sql(data, exact=exact)
        if got is None:
            continue
        assert got[0] == expected[0], (data, exact, got, expected)
        # Refused: for the same reason, where read_nii names the line (its range checks come
        # a batch at a time, so in a longer file it may name a later one of the bad lines).
        refused = got[0] == "refused"
        names_its_line = refused and expected[1].startswith("line")
        if not refused or (names_its_line and exact and data.count(b"\n") == 1):
            assert got[1] == expected[1], (data, exact)
        elif names_its_line and exact:  # the first bad line, bad on its own for that reason
            number, reason = _named(got[1])
            assert number <= _named(expected[1])[0], (data, got, expected)
            alone = in_python(data.split(b"\n")[number - 1] + b"\n")
            if reason == NII_PROBLEMS[5]:  # the importer's range checks name the comment
                assert alone[0] == "refused", (data, got, alone)
                assert alone[1].startswith(("comment ", "a thread id ")), (data, got, alone)
            else:
                assert alone == ("refused", f"line 1 {reason}"), (data, got)


def _named(message: str) -> tuple[int, str]:
    """(line number, reason) of a refusal ``line N <reason>``."""
    _, number, reason = message.split(" ", 2)
    return int(number), reason


@pytest.mark.parametrize("line", TRICKY, ids=[str(n) for n in range(1, len(TRICKY) + 1)])
def test_each_tricky_line_reads_the_same_both_ways(line, in_sql):
    assert_agree(line + b"\n", in_sql)


def test_the_tricky_lines_read_as_one_file_the_same_both_ways(in_sql):
    """Numbering (lines without a number, per fork) and repeated numbers, over a whole file of
    the lines each way takes."""
    taken = [line for line in TRICKY if in_python(line + b"\n")[0] == "rows"]
    assert len(taken) > 60
    data = b"\n".join(taken) + b"\n"
    assert_agree(data, in_sql)
    assert len(in_python(data)[1]) > 50


def test_large_negative_numbers_and_lowercase_utc(in_sql):
    """What a reviewer found the two ways disagree on."""
    data = (
        b"".join(
            json.dumps(line).encode() + b"\n"
            for line in (
                {"date": 1514764800, "vpos": 1, "content": "a", "no": -5_000_000_000},
                {"date": "2018-01-01 00:00:10 utc", "vpos": 1, "content": "b"},
                {"date": "2018-01-01 00:00:10+0900", "vpos": 1, "content": "c"},
            )
        )
        + b'{"date": 1514764800, "vpos": 1, "content": "d", "content": "e"}\n'
    )
    kind, rows = in_python(data)
    assert kind == "rows"
    assert [(r[2], r[4], r[5]) for r in rows] == [
        (-1, 1514764800, "a"),
        (-2, 1514764810, "b"),
        (-3, 1514732410, "c"),
        (-4, 1514764800, "e"),
    ]
    assert_agree(data, in_sql)


def test_json_only_duckdb_takes_is_refused_in_the_fields_nico_reads(in_sql):
    """NaN, Infinity, numbers past a double: orjson refuses them, DuckDB takes them."""
    for value in (b"NaN", b"Infinity", b"-Infinity", b"1e400"):
        line = b'{"date": 1514764800, "vpos": 1, "content": "a", "no": ' + value + b"}\n"
        assert in_python(line) == ("refused", "line 1 is not JSON (or not UTF-8)")
        assert_agree(line, in_sql)
        assert in_sql(line, exact=False)[0] == "refused"


TRICKY_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(
        [
            "",
            " 12 ",
            "-3",
            "+7",
            "1_0",
            "１２",
            "1.5",
            "1514764800",
            "1514764800.5",
            "2018-01-01",
            "2018-01-01 00:00:10",
            "2018-01-01T00:00:10Z",
            "2018-01-01 00:00:10 utc",
            "2018-01-01 00:00:10 UTC",
            "2018-01-01T00:00:10+09:00",
            "2018-01-01T00:00:10-0330",
            "2018-02-30",
            "2018-01-01T24:00:00",
            "184",
            "184 ue",
        ]
    ),
    st.text(max_size=8),
    st.lists(st.sampled_from(["184", "ue", 1, None, True]), max_size=3),
    st.just({}),
    st.just({"a": 1}),
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.dictionaries(
            st.sampled_from(NII_FIELDS),
            TRICKY_VALUES,
        ).map(lambda d: {"date": 1514764800, **d}),
        min_size=1,
        max_size=4,
    )
)
@example([{"date": -1}, {"date": None}])  # a range problem first: read_nii names a later line
def test_generated_lines_read_the_same_both_ways(in_sql, lines):
    data = b"".join(json.dumps(line, ensure_ascii=False).encode() + b"\n" for line in lines)
    assert_agree(data, in_sql)
