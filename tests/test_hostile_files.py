"""Hostile files, end to end: `nico import` runs in a subprocess under a memory and a time limit
(tests/reliability.py). A file built to exhaust memory (a gigabyte line in a megabyte zip,
200,000 nested arrays, a string of hundreds of megabytes) or to crash the reader (values nested a
thousand deep, numbers no column can hold, text past the comment limit) ends in one ``Error:``
line, exit 2, and nothing stored.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from nicocomments.limits import MAX_COMMENT_CHARS, MAX_LINE_BYTES
from tests.helpers import query
from tests.reliability import one_error_line, run_limited

NII_LINE = b'{"date": 1300000000, "vpos": 100, "content": "first"}\n'
NESTED_1000 = b"[" * 1000 + b"]" * 1000
NESTED_200K = b"[" * 200_000 + b"]" * 200_000  # 400 KB
LONG_TEXT = "w" * (MAX_COMMENT_CHARS + 1)


def _zip_member(path: Path, name: str, head: bytes, filler: bytes, size: int, tail: bytes) -> None:
    """A zip archive whose one member is ``head``, ``size`` bytes of ``filler``, ``tail``,
    written without ever holding the member."""
    with (
        zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive,
        archive.open(name, "w", force_zip64=True) as member,
    ):
        member.write(head)
        chunk = filler * (2**20 // len(filler))
        for _ in range(size // len(chunk)):
            member.write(chunk)
        member.write(tail)


def _v1(body: str = "x", **fields) -> str:
    comment = {"no": 1, "postedAt": "2011-07-18T18:36:07+09:00", "vposMs": 0, "body": body}
    comment.update(fields)
    return json.dumps({"data": {"threads": [{"id": "1", "fork": "main", "comments": [comment]}]}})


def _apijson(**chat) -> str:
    fields = {"thread": "1", "no": 1, "vpos": 0, "date": 1300000000, "content": "x", **chat}
    return json.dumps([{"chat": fields}])


def _packet(chat: str = 'no="1" vpos="0" date="1300000000"', text: str = "x", thread="") -> str:
    return (
        f'<packet><thread resultcode="0" thread="1" {thread}/>'
        f'<chat thread="1" {chat}>{text}</chat></packet>'
    )


Maker = Callable[[Path], Path]


def _file(name: str, content: bytes | str) -> Maker:
    def make(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        return path

    return make


def _gigabyte_line(folder: Path) -> Path:
    path = folder / "nii.zip"  # about a megabyte
    _zip_member(path, "sm9.jsonl", NII_LINE + b'{"date": 1, "content": "', b"a", 2**30, b'"}\n')
    return path


def _huge_string(folder: Path) -> Path:
    path = folder / "v1.zip"
    head = b'{"data": {"threads": [{"id": "1", "fork": "main", "comments": [{"no": 1, "body": "'
    _zip_member(path, "sm9.json", head, b"a", 600 * 2**20, b'"}]}]}}')
    return path


# case: (how to make the file, words of the error)
HOSTILE_FILES: dict[str, tuple[Maker, str]] = {
    "a 1 GB line in a 1 MB zip archive": (
        _gigabyte_line,
        f"line 2 is longer than {MAX_LINE_BYTES:,} bytes",
    ),
    "a 3 MB line": (
        _file("sm9.jsonl", NII_LINE + b'{"date": 1, "content": "' + b"a" * 3 * 2**20 + b'"}\n'),
        f"line 2 is longer than {MAX_LINE_BYTES:,} bytes",
    ),
    "a 600 MB string in a zipped v1 file": (
        _huge_string,
        f"a JSON string or number is longer than {MAX_LINE_BYTES:,} bytes",
    ),
    "200,000 nested arrays (v1)": (
        _file("sm9.json", NESTED_200K),
        "JSON nested more than 1,024 levels deep",
    ),
    "200,000 nested arrays in an api.json chat": (
        _file("sm9.json", b'[{"chat": ' + NESTED_200K + b"}]"),
        "JSON nested more than 1,024 levels deep",
    ),
    "200,000 nested arrays on a NII line": (
        _file("sm9.jsonl", NII_LINE + NESTED_200K + b"\n"),
        "line 2 is not JSON",
    ),
    "a NII content nested 1,000 deep": (
        _file("sm9.jsonl", NII_LINE + b'{"date": 1, "vpos": 0, "content": ' + NESTED_1000 + b"}"),
        "line 2 has a content or command that is not text",
    ),
    "a v1 body nested 1,000 deep": (
        _file("sm9.json", _v1("@").replace('"@"', NESTED_1000.decode())),
        "a v1 comment lacks no or postedAt",
    ),
    "an api.json content nested 1,000 deep": (
        _file("sm9.json", _apijson(content="@").replace('"@"', NESTED_1000.decode())),
        "a chat's content is not text",
    ),
    "a v1 postedAt nested 1,000 deep": (
        _file("sm9.json", _v1(postedAt="@").replace('"@"', NESTED_1000.decode())),
        "a v1 comment lacks no or postedAt",
    ),
    "a v1 fork nested 1,000 deep": (
        _file("sm9.json", _v1().replace('"main"', NESTED_1000.decode())),
        "its fork is not text",
    ),
    "a NII date of 400 digits": (
        _file("sm9.jsonl", NII_LINE + b'{"date": "' + b"9" * 400 + b'", "vpos": 0}'),
        "line 2 has no valid date or vpos",
    ),
    "a yt-dlp userId nested 1,000 deep": (
        _file(
            "Title [sm9].comments.json",
            '[{"no": 1, "postedAt": "2011-07-18T18:36:07+09:00", "vposMs": 0, "body": "x", '
            '"commands": [], "userId": ' + NESTED_1000.decode() + "}]",
        ),
        "a yt-dlp comment's userId is not text",
    ),
    "an api.json view_counter id nested 1,000 deep": (
        _file("sm9.json", '[{"view_counter": {"id": ' + NESTED_1000.decode() + "}}]"),
        "a view_counter id is not text",
    ),
    "XML nested 100,000 deep": (
        _file("sm9.xml", "<packet>" + "<a>" * 100_000 + "</a>" * 100_000 + "</packet>"),
        "not well-formed XML",
    ),
    "comment text over the limit, XML": (
        _file("sm9.xml", _packet(text=LONG_TEXT)),
        f"longer than {MAX_COMMENT_CHARS:,} characters",
    ),
    "comment text over the limit, v1 JSON": (
        _file("sm9.json", _v1(LONG_TEXT)),
        f"longer than {MAX_COMMENT_CHARS:,} characters",
    ),
    "comment text over the limit, NII": (
        _file("sm9.jsonl", NII_LINE + json.dumps({"date": 1, "content": LONG_TEXT}).encode()),
        f"longer than {MAX_COMMENT_CHARS:,} characters",
    ),
    # ijson cannot hold such a number; lxml and orjson can, and then it does not fit a column.
    "no 2**70 in api.json": (_file("sm9.json", _apijson(no=2**70)), "integer overflow"),
    "no 2**70 in v1": (_file("sm9.json", _v1(no=2**70)), "integer overflow"),
    "no 2**70 in XML": (
        _file("sm9.xml", _packet(chat=f'no="{2**70}" vpos="0" date="1300000000"')),
        "is out of range",
    ),
    "no 2**70 on a NII line": (
        _file("sm9.jsonl", NII_LINE + f'{{"date": 1, "no": {2**70}}}'.encode()),
        "is out of range",
    ),
    "vpos 10**30 in XML": (
        _file("sm9.xml", _packet(chat=f'no="1" vpos="{10**30}" date="1300000000"')),
        "vpos_ms out of range",
    ),
    "a date in the year 33658 (NII)": (
        _file("sm9.jsonl", b'{"date": 1000000000000, "vpos": 0, "content": "x"}\n'),
        "date out of range",
    ),
    "last_res 2**40 in XML": (
        _file("sm9.xml", _packet(thread=f'last_res="{2**40}"')),
        "last_res out of range",
    ),
    "bad UTF-8 in api.json": (
        _file(
            "sm9.json", b'[{"chat": {"thread": "1", "no": 1, "date": 1, "content": "\xff\xfe"}}]'
        ),
        "broken JSON (lexical error: invalid bytes in UTF8 string)",
    ),
    "broken JSON": (
        _file("sm9.json", b'[{"chat": {"thread": "1", "no":'),
        "broken JSON (parse error: premature EOF)",
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_FILES))
def test_a_hostile_file_is_refused_in_one_line_within_the_limits(tmp_path, case):
    make, words = HOSTILE_FILES[case]
    path = make(tmp_path)
    db = tmp_path / "n.db"
    result = run_limited("import", path, "--db", db)
    assert result.returncode == 2, result.stderr[-2000:]
    line = one_error_line(result.stderr)
    assert words in line, line
    assert "b'" not in line and "\\x" not in line  # no bytes repr
    assert query(db, "SELECT count(*) FROM comments") == [(0,)]
