"""The NII research dataset ("ニコニコ動画コメント等データ"): JSON Lines, one comment a line,
one file per video. Read only."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import IO, Any

from nicocomments.chats import int_or_none, scalar_text, unix_seconds
from nicocomments.formats.common import Item, MalformedFile, SyntheticNumbers, json_lines
from nicocomments.limits import (
    INT32,
    INT64,
    LAST_STORABLE_SECOND,
    MAX_COMMENT_CHARS,
    MAX_LINE_BYTES,
    TEXT_LENGTHS,
)
from nicocomments.records import JST, Comment

#: The keys every NII line has (how `formats.sniff_format` knows it).
NII_KEYS = frozenset({"date", "vpos"})


def read_nii(stream: IO[bytes], video_id: str) -> Iterator[Item]:
    """One video of the NII "ニコニコ動画コメント等データ" set: JSON Lines, one comment a line.

    2012 release (``.dat``): ``date`` (Unix s), ``no``, ``vpos`` (1/100 s), ``comment``,
    ``command``. 2016/2018/2021 (``.jsonl``): ``date`` (Unix s, or an ISO string; Japan time
    without a zone), ``content``, ``command``, ``vpos`` and, later, ``owner``/``easy`` flags.
    Comments go to thread ``nii:<video id>``; lines without ``no`` are numbered -1, -2, … per fork.
    User ids are not in the dataset."""
    thread_id = f"nii:{video_id}"
    numbers = SyntheticNumbers()
    for line_number, raw in json_lines(stream):
        yield _nii_comment(raw, thread_id, numbers, line_number)


def _nii_comment(raw: dict, thread_id: str, numbers: SyntheticNumbers, line: int) -> Comment:
    fork = "owner" if raw.get("owner") else "easy" if raw.get("easy") else "main"
    try:
        posted_at = _nii_date(raw["date"])
        vpos = int(raw.get("vpos") or 0)
    except (KeyError, TypeError, ValueError, OverflowError):
        raise MalformedFile(f"line {line} has no valid date or vpos") from None
    no = int_or_none(raw.get("no"))
    if no is None or no <= 0:
        no = numbers.next(thread_id, fork)
    command = raw.get("command")
    try:
        if isinstance(command, list):
            commands = " ".join(scalar_text(c) for c in command)
        else:
            commands = scalar_text(command)
        text = scalar_text(raw.get("content", raw.get("comment")))
    except ValueError:
        raise MalformedFile(f"line {line} has a content or command that is not text") from None
    # Positional, like the network parsers: a dataset file is millions of lines.
    return _new_comment(
        Comment,
        (
            thread_id,
            fork,
            no,
            vpos * 10,
            posted_at,
            text,
            commands,
            None,
            None,
            False,
            "184" in commands.split(),
            False,
            None,
            None,
            None,
            None,
            None,
        ),
    )


_new_comment = tuple.__new__


def _nii_date(value: Any) -> int:
    """``date``: Unix seconds (a number, or a string of one) or an ISO string, which names its
    zone (``Z``, ``+09:00``, `` UTC``) or is Japan time."""
    if isinstance(value, str):
        value = value.strip()
        if re.fullmatch(r"-?\d+(\.\d+)?", value):
            return int(float(value))
        value = value.replace(" UTC", "+00:00")
    return unix_seconds(value, JST)


# --- the same mapping in SQL: whole NII releases through DuckDB ---------------------------------

#: Why a line makes its file unreadable, as `read_nii` (and `limits.comments_problem`) say it.
NII_PROBLEMS = {
    1: "is not JSON (or not UTF-8)",
    2: "is not a JSON object",
    3: "has no valid date or vpos",
    4: "has a content or command that is not text",
    5: "holds a value beyond what the database stores (number, position, date or length)",
    6: f"is longer than {MAX_LINE_BYTES:,} bytes",
}
_JST_OFFSET_S = 9 * 3600  # records.JST: Japan has kept +09:00 since 1951
# Python's str.split() whitespace (what "184 in commands.split()" splits on), for RE2.
_SPACE = r"[\s\pZ\x{0b}\x{1c}-\x{1f}\x{85}]"
_ZONED = r".*[T ]\d{2}(:?\d{2})?(:?\d{2})?([.,]\d+)?\s*(Z|[+-]\d{2}(:?\d{2})?)"


def _text(x: str) -> str:
    """`chats.scalar_text` of a JSON value: NULL where it raises (a list, an object)."""
    return (
        f"(CASE WHEN {x} IS NULL THEN '' ELSE CASE json_type({x}) "
        f"WHEN 'VARCHAR' THEN {x} ->> '$' WHEN 'NULL' THEN '' "
        f"WHEN 'BOOLEAN' THEN CASE WHEN CAST({x} AS BOOLEAN) THEN 'True' ELSE '' END "
        f"WHEN 'BIGINT' THEN CAST({x} AS VARCHAR) WHEN 'UBIGINT' THEN CAST({x} AS VARCHAR) "
        f"WHEN 'DOUBLE' THEN CAST(CAST({x} AS DOUBLE) AS VARCHAR) END END)"
    )


def _truthy(x: str) -> str:
    """Python's truth of a JSON value (absent: false)."""
    return (
        f"(CASE json_type({x}) WHEN 'BOOLEAN' THEN CAST({x} AS BOOLEAN) "
        f"WHEN 'VARCHAR' THEN ({x} ->> '$') <> '' "
        f"WHEN 'BIGINT' THEN CAST({x} AS BIGINT) <> 0 WHEN 'UBIGINT' THEN true "
        f"WHEN 'DOUBLE' THEN CAST({x} AS DOUBLE) <> 0 "
        f"WHEN 'ARRAY' THEN json_array_length({x}) > 0 "
        f"WHEN 'OBJECT' THEN CAST({x} AS VARCHAR) <> '{{}}' ELSE false END)"
    )


def _integer(x: str) -> str:
    """Python's ``int()`` of a JSON value, as HUGEINT: NULL where it raises."""
    return (
        f"(CASE json_type({x}) WHEN 'BOOLEAN' THEN CAST(CAST({x} AS BOOLEAN) AS HUGEINT) "
        f"WHEN 'BIGINT' THEN TRY_CAST(CAST({x} AS VARCHAR) AS HUGEINT) "
        f"WHEN 'UBIGINT' THEN TRY_CAST(CAST({x} AS VARCHAR) AS HUGEINT) "
        f"WHEN 'DOUBLE' THEN CASE WHEN isfinite(CAST({x} AS DOUBLE)) "
        f"THEN TRY_CAST(trunc(CAST({x} AS DOUBLE)) AS HUGEINT) END "
        f"WHEN 'VARCHAR' THEN CASE WHEN regexp_full_match({x} ->> '$', '\\s*[+-]?\\d+\\s*') "
        f"THEN TRY_CAST(trim({x} ->> '$') AS HUGEINT) END END)"
    )


def _date(x: str) -> str:
    """`_nii_date` of a JSON value: Unix seconds, NULL where it raises."""
    s = f"replace(trim({x} ->> '$'), ' UTC', '+00:00')"
    return (
        f"(CASE json_type({x}) WHEN 'BIGINT' THEN CAST({x} AS BIGINT) "
        f"WHEN 'UBIGINT' THEN TRY_CAST({x} AS BIGINT) "
        f"WHEN 'DOUBLE' THEN CASE WHEN isfinite(CAST({x} AS DOUBLE)) "
        f"THEN TRY_CAST(trunc(CAST({x} AS DOUBLE)) AS BIGINT) END "
        f"WHEN 'VARCHAR' THEN CASE "
        f"WHEN regexp_full_match(trim({x} ->> '$'), '-?\\d+(\\.\\d+)?') "
        f"THEN TRY_CAST(trunc(TRY_CAST(trim({x} ->> '$') AS DOUBLE)) AS BIGINT) "
        f"WHEN regexp_full_match({s}, '{_ZONED}') "
        f"THEN TRY_CAST(trunc(epoch(TRY_CAST({s} AS TIMESTAMPTZ))) AS BIGINT) "
        f"ELSE TRY_CAST(trunc(epoch(TRY_CAST({s} AS TIMESTAMP))) AS BIGINT) - {_JST_OFFSET_S} "
        f"END END)"
    )


NII_FIELDS = ("date", "vpos", "content", "comment", "command", "no", "owner", "easy")


def nii_raw_sql(files: str, paths: list[str]) -> str:
    """The fast way in: DuckDB's JSON reader over ``paths`` (in parallel), each field of
    `NII_FIELDS` as JSON, ``filename`` beside them. Stored as a table, its ``rowid`` is the
    lines' order (DuckDB preserves insertion order), which numbering needs. It fails (and the
    caller falls back to `nii_text_objects_sql`, exact to the line) on anything that is not a
    JSON object a line, or on a line longer than `MAX_LINE_BYTES`.

    One difference from the exact way remains: the reader gives a JSON ``null`` as SQL NULL,
    so a line holding both ``"content": null`` and a ``"comment"`` (no release writes both)
    gets the comment's text where `read_nii` gives ''."""
    columns = ", ".join(f"'{f}': 'JSON'" for f in NII_FIELDS)
    return (
        f"SELECT filename, {', '.join(NII_FIELDS)} FROM read_json([{_listed(paths)}], "
        f"format = 'newline_delimited', filename = true, columns = {{{columns}}}, "
        f"maximum_object_size = {MAX_LINE_BYTES - 1})"
    )


def nii_raw_objects_sql(raw: str, files: str) -> str:
    """The lines of `nii_raw_sql`'s table ``raw``, shaped as `nii_text_objects_sql`'s (their
    ``line`` only an order; a line that is JSON ``null`` has no date, so it is refused)."""
    fields = ", ".join(f"r.{f}" for f in NII_FIELDS)
    return (
        f"SELECT f.member, f.video_id, r.rowid AS line, false AS too_long, true AS valid, "
        f"'OBJECT' AS kind, [{fields}] AS v FROM {raw} AS r JOIN {files} AS f "
        f"ON f.path = r.filename"
    )


def nii_text_objects_sql(files: str, paths: list[str]) -> str:
    """The exact way in: every file read whole and cut into lines (numbered), each line
    checked to be JSON, an object, not too long; the fields of an object in ``v``."""
    keys = ", ".join(f"'$.{f}'" for f in NII_FIELDS)
    return f"""
WITH texts AS (
    SELECT f.member, f.video_id, f.line_offset, string_split(t.content, chr(10)) AS lines
    FROM read_text([{_listed(paths)}]) AS t JOIN {files} AS f ON f.path = t.filename
), raw_lines AS (
    SELECT member, video_id, line_offset + generate_subscripts(lines, 1) AS line,
           unnest(lines) AS text
    FROM texts
), lines AS (
    SELECT member, video_id, line,
           CASE WHEN line = 1 THEN ltrim(text, chr(65279)) ELSE text END AS text
    FROM raw_lines
    WHERE trim(text, chr(32) || chr(9) || chr(13) || chr(11) || chr(12)) <> ''
)
SELECT member, video_id, line, strlen(text) >= {MAX_LINE_BYTES} AS too_long,
       json_valid(text) AS valid,
       CASE WHEN json_valid(text) THEN json_type(text) END AS kind,
       CASE WHEN json_valid(text) AND json_type(text) = 'OBJECT'
            THEN json_extract(text, [{keys}]) END AS v
FROM lines"""


def first_undecodable_line(data: bytes) -> tuple[int, int] | None:
    """(line number from 1, offset of its first byte) of the first line of ``data`` that is
    not UTF-8, or None when all of it is: `read_nii` refuses such a line as not JSON."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        start = data.rfind(b"\n", 0, exc.start) + 1
        return data.count(b"\n", 0, start) + 1, start
    return None


def _listed(paths: list[str]) -> str:
    return ", ".join("'" + path.replace("'", "''") + "'" for path in paths)


def nii_sql(objects: str) -> str:
    """The comments of NII lines, exactly as `read_nii` + the importer read them.

    ``objects`` is a query shaped as `nii_text_objects_sql`'s (``member``, ``video_id``,
    ``line``, ``too_long``, ``valid``, ``kind`` and the fields ``v``). The result's columns:
    ``member``, ``line`` and ``problem`` (a key of `NII_PROBLEMS`, NULL for a good line),
    then the `formats.columns` columns (``posted_at`` as Unix seconds), and ``duplicate``.
    Numbering and de-duplication are the importer's: a line without a (positive) ``no`` gets
    ``-n`` in file order per fork, and of lines repeating a ``no`` all but the first are
    ``duplicate`` (``ON CONFLICT DO NOTHING``)."""
    v = {f: f"v[{i}]" for i, f in enumerate(NII_FIELDS, 1)}
    content = (
        f"CASE WHEN {v['content']} IS NOT NULL THEN {_text(v['content'])} "
        f"ELSE {_text(v['comment'])} END"
    )
    listed = f"json_extract({v['command']}, '$[*]')"
    command = (
        f"CASE WHEN json_type({v['command']}) = 'ARRAY' THEN CASE WHEN "
        f"list_bool_or(list_transform({listed}, lambda c: {_text('c')} IS NULL)) THEN NULL "
        f"ELSE array_to_string(list_transform({listed}, lambda c: {_text('c')}), ' ') END "
        f"ELSE {_text(v['command'])} END"
    )
    vpos = (
        f"CASE WHEN NOT coalesce({_truthy(v['vpos'])}, false) THEN CAST(0 AS HUGEINT) "
        f"ELSE {_integer(v['vpos'])} END"
    )
    given = (
        f"CASE WHEN {v['no']} IS NULL OR json_type({v['no']}) IN ('NULL', 'BOOLEAN') "
        f"OR ({v['no']} ->> '$') = '' THEN NULL ELSE {_integer(v['no'])} END"
    )
    return f"""
WITH objects AS ({objects}), parsed AS (
    SELECT member, video_id, line, too_long, valid, kind,
           CASE WHEN {_truthy(v["owner"])} THEN 'owner'
                WHEN {_truthy(v["easy"])} THEN 'easy' ELSE 'main' END AS fork,
           {_date(v["date"])} AS posted_at,
           {vpos} AS vpos,
           {v["date"]} IS NULL AS no_date,
           {given} AS given_no,
           {content} AS content,
           {command} AS commands
    FROM objects
), checked AS (
    SELECT *,
           CASE WHEN too_long THEN 6 WHEN NOT valid THEN 1 WHEN kind <> 'OBJECT' THEN 2
                WHEN posted_at IS NULL OR vpos IS NULL THEN 3
                WHEN content IS NULL OR commands IS NULL THEN 4
                WHEN posted_at < 0 OR posted_at > {LAST_STORABLE_SECOND}
                  OR abs(vpos * 10) > {INT64} OR abs(given_no) > {INT32}
                  OR length(content) > {MAX_COMMENT_CHARS}
                  OR length(commands) > {MAX_COMMENT_CHARS}
                  OR length('nii:' || video_id) > {TEXT_LENGTHS["thread_id"]} THEN 5
           END AS problem
    FROM parsed
), numbered AS (
    SELECT *,
           CASE WHEN given_no > 0 THEN given_no
                ELSE -row_number() OVER (PARTITION BY member, fork, coalesce(given_no > 0, false)
                                         ORDER BY line) END AS no
    FROM checked
)
SELECT member, line, CASE WHEN problem IS NULL AND no < -{INT32} THEN 5 ELSE problem END
       AS problem,
       video_id, 'nii:' || video_id AS thread_id, fork, CAST(no AS BIGINT) AS no,
       CAST(vpos * 10 AS BIGINT) AS vpos_ms, posted_at, content, commands,
       CAST(NULL AS INTEGER) AS date_usec, CAST(NULL AS VARCHAR) AS user_id,
       false AS is_premium,
       regexp_matches(commands, '(^|{_SPACE})184($|{_SPACE})') AS is_anonymous,
       false AS is_deleted, CAST(NULL AS SMALLINT) AS deleted_reason,
       CAST(NULL AS INTEGER) AS score, CAST(NULL AS INTEGER) AS nicoru_count,
       CAST(NULL AS VARCHAR) AS comment_id, CAST(NULL AS VARCHAR) AS source
       , problem IS NULL
         AND row_number() OVER (PARTITION BY member, fork, no ORDER BY line) > 1 AS duplicate
FROM numbered
"""
