"""The NII research dataset ("ニコニコ動画コメント等データ"): JSON Lines, one comment a line,
one file per video. Read only."""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator
from datetime import datetime
from typing import IO, Any

from nicocomments.chats import scalar_text, unix_seconds
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
        vpos = _nii_integer(raw.get("vpos") or 0)
    except (KeyError, TypeError, ValueError, OverflowError):
        raise MalformedFile(f"line {line} has no valid date or vpos") from None
    number = raw.get("no")
    try:
        no = None if isinstance(number, bool) else _nii_integer(number)
    except (TypeError, ValueError, OverflowError):
        no = None
    if no is None or no <= 0:
        no = numbers.next(thread_id, fork)
    command = raw.get("command")
    content = raw.get("content")
    try:
        if isinstance(command, list):
            commands = " ".join(scalar_text(c) for c in command)
        else:
            commands = scalar_text(command)
        text = scalar_text(raw.get("comment") if content is None else content)
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
            None,
            None,
            None,
        ),
    )


_new_comment = tuple.__new__

# The forms of NII values, one pattern each for Python's `re` (ASCII) and DuckDB's RE2, so
# `read_nii` and `nii_lines_sql` take and refuse the same lines (tests/test_nii.py compares them).
_SPACES = " \t\n\r\f\v"  # stripped around a number or a date
_JST_OFFSET_S = 9 * 3600  # records.JST: Japan has kept +09:00 since 1951
_INTEGER = rf"[{_SPACES}]*[+-]?[0-9]+[{_SPACES}]*"
_SECONDS = r"-?[0-9]+(\.[0-9]+)?"
# ISO 8601 as the releases write it: a date, a time to the minute or second (a fraction is
# dropped), a zone (Z, UTC in any case, +09:00, +0900, +09) or none: Japan time.
_ISO = (
    r"([0-9]{4})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    r"(?:[T ]([01][0-9]|2[0-3]):([0-5][0-9])(?::([0-5][0-9])(?:[.,][0-9]+)?)?)?"
    r" *(?:([Zz]|[Uu][Tt][Cc])|([+-])([01][0-9]|2[0-3])(?::?([0-5][0-9]))?)?"
)
# The commonest form, Japan time to the second: DuckDB's TIMESTAMP reads it without `_ISO`'s
# captures, which cost a fifth of the SQL's time.
_PLAIN = (
    r"[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[T ]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
)
_INTEGER_RE = re.compile(_INTEGER, re.ASCII)
_SECONDS_RE = re.compile(_SECONDS, re.ASCII)
_ISO_RE = re.compile(_ISO, re.ASCII)


def _nii_integer(value: Any) -> int | None:
    """``int(value)`` of a JSON value, a string only as ASCII digits (``"12"``, ``" -3 "``);
    None for nothing (``null``, ``false``, ``""``). Raises what ``int`` raises."""
    if value is None or value is False or value == "":
        return None
    if isinstance(value, str) and _INTEGER_RE.fullmatch(value) is None:
        raise ValueError(f"not an integer: {value[:40]!r}")
    return int(value)


def _nii_date(value: Any) -> int:
    """``date``: Unix seconds (a number, or a string of one) or an ISO string (`_ISO`), which
    names its zone (``Z``, ``+09:00``, `` UTC``) or is Japan time."""
    if not isinstance(value, str):
        return unix_seconds(value, JST)
    text = value.strip(_SPACES)
    if _SECONDS_RE.fullmatch(text):
        return int(float(text))
    match = _ISO_RE.fullmatch(text)
    if match is None:
        raise ValueError(f"not a date: {text[:40]!r}")
    year, month, day, hour, minute, second, utc, sign, zone_h, zone_m = match.groups()
    moment = datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0))
    seconds = calendar.timegm(moment.timetuple()) + int(second or 0)
    if utc:
        return seconds
    if sign is None:
        return seconds - _JST_OFFSET_S
    offset = int(zone_h) * 3600 + int(zone_m or 0) * 60
    return seconds - offset if sign == "+" else seconds + offset


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
# Python's str.split() whitespace (what "184 in commands.split()" splits on), for RE2.
_SPACE = r"[\s\pZ\x{0b}\x{1c}-\x{1f}\x{85}]"


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
    """Python's truth of a JSON value (absent: false). DuckDB types 0 and every integer
    above it ``UBIGINT``."""
    return (
        f"(CASE json_type({x}) WHEN 'BOOLEAN' THEN CAST({x} AS BOOLEAN) "
        f"WHEN 'VARCHAR' THEN ({x} ->> '$') <> '' "
        f"WHEN 'BIGINT' THEN CAST({x} AS BIGINT) <> 0 "
        f"WHEN 'UBIGINT' THEN CAST({x} AS UBIGINT) <> 0 "
        f"WHEN 'DOUBLE' THEN CAST({x} AS DOUBLE) <> 0 "
        f"WHEN 'ARRAY' THEN json_array_length({x}) > 0 "
        f"WHEN 'OBJECT' THEN CAST({x} AS VARCHAR) <> '{{}}' ELSE false END)"
    )


_HUGE = 2**80  # a number past HUGEINT: beyond every column's range, its sign kept


def _integer(x: str) -> str:
    """`_nii_integer` of a JSON value, as HUGEINT: NULL where it raises (a number past
    HUGEINT is ±`_HUGE`: out of range, as in Python)."""
    text = f"({x} ->> '$')"
    return (
        f"(CASE json_type({x}) WHEN 'BOOLEAN' THEN CAST(CAST({x} AS BOOLEAN) AS HUGEINT) "
        f"WHEN 'BIGINT' THEN TRY_CAST(CAST({x} AS VARCHAR) AS HUGEINT) "
        f"WHEN 'UBIGINT' THEN TRY_CAST(CAST({x} AS VARCHAR) AS HUGEINT) "
        f"WHEN 'DOUBLE' THEN {_whole(f'CAST({x} AS DOUBLE)')} "
        f"WHEN 'VARCHAR' THEN CASE WHEN regexp_full_match({text}, '{_INTEGER}') "
        f"THEN coalesce(TRY_CAST(trim({text}, '{_SPACES}') AS HUGEINT), "
        f"CASE WHEN contains({text}, '-') THEN -{_HUGE} ELSE {_HUGE} END) END END)"
    )


def _whole(double: str) -> str:
    """``int()`` of a double, as HUGEINT: NULL where it raises (NaN, infinity), ±`_HUGE`
    beyond HUGEINT (out of range, as in Python)."""
    return (
        f"CASE WHEN isfinite({double}) THEN coalesce(TRY_CAST(trunc({double}) AS HUGEINT), "
        f"CAST(sign({double}) AS HUGEINT) * {_HUGE}) END"
    )


#: The fields `_ISO` captures, for ``regexp_extract``.
_ISO_PARTS = ("y", "mo", "d", "h", "mi", "s", "utc", "sign", "zh", "zm")


def _date(x: str, text: str, parts: str) -> str:
    """`_nii_date` of a JSON value ``x``: Unix seconds (HUGEINT: a date far out of range
    is refused as such, as in Python), NULL where it raises. ``text`` is
    the value as text, stripped; ``parts`` its `_ISO` parts (``regexp_extract``)."""
    y, mo, d, h, mi, sec, utc, sign, zh, zm = (f"{parts}['{p}']" for p in _ISO_PARTS)
    clock = " || ':' || ".join(f"coalesce(nullif({p}, ''), '00')" for p in (h, mi, sec))
    moment = f"{y} || '-' || {mo} || '-' || {d} || ' ' || {clock}"
    offset = (
        f"CASE WHEN {utc} <> '' THEN 0 WHEN {sign} = '' THEN {_JST_OFFSET_S} "
        f"ELSE CASE {sign} WHEN '-' THEN -1 ELSE 1 END * (CAST({zh} AS BIGINT) * 3600 "
        f"+ coalesce(CAST(nullif({zm}, '') AS BIGINT), 0) * 60) END"
    )
    return (
        f"(CASE json_type({x}) WHEN 'BIGINT' THEN CAST({x} AS HUGEINT) "
        f"WHEN 'UBIGINT' THEN TRY_CAST(CAST({x} AS VARCHAR) AS HUGEINT) "
        f"WHEN 'DOUBLE' THEN {_whole(f'CAST({x} AS DOUBLE)')} "
        f"WHEN 'VARCHAR' THEN CASE "
        f"WHEN regexp_full_match({text}, '{_SECONDS}') "
        f"THEN {_whole(f'TRY_CAST({text} AS DOUBLE)')} "
        f"WHEN regexp_full_match({text}, '{_PLAIN}') AND NOT starts_with({text}, '0000') "
        f"THEN CAST(epoch(TRY_CAST({text} AS TIMESTAMP)) AS BIGINT) - {_JST_OFFSET_S} "
        f"WHEN {y} NOT IN ('', '0000') "  # '': not `_ISO`; Python's dates begin with year 1
        f"THEN CAST(epoch(TRY_CAST({moment} AS TIMESTAMP)) AS BIGINT) - ({offset}) "
        f"END END)"
    )


# The shape of nearly every line of every release: each field absent or of its usual kind, in
# its usual form (a date in Japan time to the second or Unix seconds, integers, text without
# escapes, true/false). Such a line is read by plain casts and trims, which give what the
# general expressions give for it (tests/test_nii.py compares both with `read_nii`); any
# other line takes the general way. JSON text of a value: its JSON type is its first byte.
_FAST_INTEGER = "-?[0-9]{1,18}"


def _fast_shape(text: dict[str, str]) -> str:
    """Whether a line's fields (``text``: each field's JSON text) have the usual shape."""

    def integer(f: str) -> str:
        return f"regexp_full_match({text[f]}, '{_FAST_INTEGER}')"

    def string(f: str) -> str:
        return f"(starts_with({text[f]}, '\"') AND NOT contains({text[f]}, '\\'))"

    def absent_or(f: str, test: str) -> str:
        return f"({text[f]} IS NULL OR {test})"

    date = text["date"]
    return " AND ".join(
        [
            f"coalesce({integer('date')} OR (regexp_full_match({date}, '\"{_PLAIN}\"') "
            f"AND NOT starts_with({date}, '\"0000')), false)",
            absent_or("vpos", integer("vpos")),
            absent_or("no", integer("no")),
            *(absent_or(f, string(f)) for f in ("content", "comment", "command")),
            *(absent_or(f, f"{text[f]} IN ('true', 'false')") for f in ("owner", "easy")),
        ]
    )


def _fast_fields(text: dict[str, str]) -> dict[str, str]:
    """The parsed fields of a line of `_fast_shape`, as the general expressions give them."""

    def string(f: str) -> str:  # text without escapes: the JSON text less its quotes
        return f"trim({text[f]}, '\"')"

    date = text["date"]
    return {
        "fork": f"CASE WHEN {text['owner']} = 'true' THEN 'owner' "
        f"WHEN {text['easy']} = 'true' THEN 'easy' ELSE 'main' END",
        "posted_at": f"CASE WHEN starts_with({date}, '\"') "
        f"THEN CAST(epoch(TRY_CAST({string('date')} AS TIMESTAMP)) AS BIGINT) - {_JST_OFFSET_S} "
        f"ELSE CAST({date} AS BIGINT) END",
        "vpos": f"coalesce(CAST({text['vpos']} AS HUGEINT), 0)",
        "given_no": f"CAST({text['no']} AS HUGEINT)",
        "content": f"CASE WHEN {text['content']} IS NOT NULL THEN {string('content')} "
        f"ELSE coalesce({string('comment')}, '') END",
        "commands": f"coalesce({string('command')}, '')",
        "not_finite": "false",
    }


NII_FIELDS = ("date", "vpos", "content", "comment", "command", "no", "owner", "easy")


def nii_raw_objects_sql(paths: list[str]) -> str:
    """The fast way in: DuckDB's JSON reader over ``paths`` (in parallel), each field of
    `NII_FIELDS` as JSON, shaped as `nii_text_objects_sql`'s lines: ``key`` the file,
    ``line`` NULL (the lines keep their order: stored as a table, its ``rowid`` numbers
    them, as `nii_numbers_sql` reads it). It fails (and the caller falls back to
    `nii_text_objects_sql`, exact to the line) on anything that is not a JSON object a line,
    or on a line longer than `MAX_LINE_BYTES`.

    What it takes that orjson refuses (NaN, Infinity, numbers past a double, trailing commas)
    is refused where it is in a field of `NII_FIELDS`; elsewhere in a line it is not seen."""
    columns = ", ".join(f"'{f}': 'JSON'" for f in NII_FIELDS)
    return (
        f"SELECT filename AS key, CAST(NULL AS BIGINT) AS line, false AS too_long, "
        f"true AS valid, 'OBJECT' AS kind, {', '.join(NII_FIELDS)} "
        f"FROM read_json([{_listed(paths)}], format = 'newline_delimited', filename = true, "
        f"columns = {{{columns}}}, maximum_object_size = {MAX_LINE_BYTES - 1})"
    )


def nii_text_objects_sql(files: str, paths: list[str]) -> str:
    """The exact way in: every file (of the table ``files``: ``path``, ``line_offset``)
    read whole and cut into lines (numbered), each line checked to be JSON as orjson reads
    it (DuckDB also takes NaN, Infinity, numbers past a double and trailing commas: refused
    here), an object, not too long; the fields of an object in columns of their names, the
    last of a key given twice (as a Python dict keeps it)."""
    fields = ", ".join(
        f"CASE WHEN kind = 'OBJECT' THEN "
        f"vals[len(keys) + 1 - list_position(list_reverse(keys), '{f}')] END AS {f}"
        for f in NII_FIELDS
    )
    return f"""
WITH texts AS (
    SELECT t.filename AS key, f.line_offset, string_split(t.content, chr(10)) AS lines
    FROM read_text([{_listed(paths)}]) AS t JOIN {files} AS f ON f.path = t.filename
), raw_lines AS (
    SELECT key, line_offset + generate_subscripts(lines, 1) AS line, unnest(lines) AS text
    FROM texts
), lines AS (
    SELECT key, line,
           CASE WHEN line = 1 AND starts_with(text, chr(65279)) THEN substr(text, 2)
                ELSE text END AS text
    FROM raw_lines
    WHERE trim(text, chr(32) || chr(9) || chr(13) || chr(11) || chr(12)) <> ''
), checked AS (
    SELECT key, line, text, strlen(text) >= {MAX_LINE_BYTES} AS too_long,
           json_valid(text) AND NOT {_lenient("text")} AS valid
    FROM lines
), objects AS (
    SELECT *, CASE WHEN valid THEN json_type(text) END AS kind,
           CASE WHEN kind = 'OBJECT' THEN json_keys(text) END AS keys,
           CASE WHEN kind = 'OBJECT' THEN json_extract(text, '$.*') END AS vals
    FROM checked
)
SELECT key, line, too_long, valid, kind, {fields}
FROM objects"""


def _lenient(text: str) -> str:
    """Whether the JSON ``text`` uses what DuckDB accepts and orjson refuses: outside its
    strings, NaN or Infinity, a trailing comma, or a number too large for a double."""
    bare = f"regexp_replace({text}, '\"(?:[^\"\\\\]|\\\\.)*\"', '\"\"', 'g')"
    numbers = f"regexp_extract_all({bare}, '[0-9.]+[eE][+-]?[0-9]+|[0-9]{{300,}}')"
    return (
        f"(regexp_matches({bare}, '(?i)nan|inf|,[ \\t\\r\\n]*[]}}]') "
        f"OR coalesce(list_bool_or(list_transform({numbers}, "
        f"lambda n: NOT coalesce(isfinite(TRY_CAST(n AS DOUBLE)), false))), false))"
    )


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


def nii_lines_sql(objects: str) -> str:
    """Each NII line read as `read_nii` reads it, on its own (stored as a table for
    `nii_numbers_sql` and `nii_rows_sql`).

    ``objects`` is a query shaped as `nii_text_objects_sql`'s (``key``, ``line``,
    ``too_long``, ``valid``, ``kind`` and the fields, JSON, in columns of their names). The
    result's columns: ``key``, ``line``, ``problem`` (a key of `NII_PROBLEMS`, NULL for a good
    line; what only the whole file tells, `nii_numbers_sql` adds), ``fork``, ``posted_at`` (Unix
    seconds), ``vpos`` (1/100 s), ``given_no`` (the line's ``no``, NULL without one),
    ``content`` and ``commands``. A projection: its rows keep the order of ``objects``."""
    v = {f: f'"{f}"' for f in NII_FIELDS}
    content = (
        f"CASE WHEN coalesce(json_type({v['content']}), 'NULL') <> 'NULL' "
        f"THEN {_text(v['content'])} ELSE {_text(v['comment'])} END"
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
    every = ", ".join(v.values())
    plain = {f: f"CAST({x} AS VARCHAR)" for f, x in v.items()}
    fast, slow = (
        _fast_fields(plain),
        {
            "fork": f"CASE WHEN {_truthy(v['owner'])} THEN 'owner' "
            f"WHEN {_truthy(v['easy'])} THEN 'easy' ELSE 'main' END",
            "posted_at": _date(v["date"], "date_text", "date_parts"),
            "vpos": vpos,
            "given_no": given,
            "content": content,
            "commands": command,
            "not_finite": f"coalesce(list_bool_or(list_transform([{every}], lambda x: "
            "CASE json_type(x) WHEN 'DOUBLE' THEN NOT isfinite(CAST(x AS DOUBLE)) ELSE false END"
            ")), false)",
        },
    )
    chosen = ",\n           ".join(
        f"CASE WHEN fast THEN {fast[name]} ELSE {slow[name]} END AS {name}" for name in slow
    )
    return f"""
WITH objects AS ({objects}), shaped AS (
    SELECT *, {_fast_shape(plain)} AS fast FROM objects
), texts AS (
    SELECT *, CASE WHEN NOT fast THEN trim({v["date"]} ->> '$', '{_SPACES}') END AS date_text
    FROM shaped
), dated AS (
    SELECT *, CASE WHEN NOT fast AND json_type({v["date"]}) = 'VARCHAR'
                    AND NOT regexp_full_match(date_text, '{_PLAIN}')
                   THEN regexp_extract(date_text, '^{_ISO}$', {list(_ISO_PARTS)}) END AS date_parts
    FROM texts
), parsed AS (
    SELECT key, line, too_long, valid, kind,
           {chosen}
    FROM dated
)
SELECT key, line,
       CASE WHEN too_long THEN 6 WHEN NOT valid THEN 1 WHEN kind <> 'OBJECT' THEN 2
            WHEN not_finite THEN 1
            WHEN posted_at IS NULL OR vpos IS NULL THEN 3
            WHEN content IS NULL OR commands IS NULL THEN 4
            WHEN posted_at < 0 OR posted_at > {LAST_STORABLE_SECOND}
              OR abs(vpos * 10) > {INT64} OR given_no > {INT32}
              OR (strlen(content) > {MAX_COMMENT_CHARS} AND length(content) > {MAX_COMMENT_CHARS})
              OR (strlen(commands) > {MAX_COMMENT_CHARS}
                  AND length(commands) > {MAX_COMMENT_CHARS}) THEN 5
       END AS problem,
       fork, TRY_CAST(posted_at AS BIGINT) AS posted_at, vpos, given_no, content, commands
FROM parsed"""


def nii_numbers_sql(lines: str, files: str) -> str:
    """How the lines of the table ``lines`` (`nii_lines_sql`'s rows; a line without a
    ``line`` is numbered by its ``rowid``: the JSON reader's lines, stored in their order) are
    numbered and judged, exactly as `read_nii` + the importer do; narrow, to be stored as a
    table for `nii_rows_sql`.

    ``files`` (``path``, ``member``, ``video_id``) names each ``key``'s member of an archive
    (or file) and video. The result's columns: ``r`` (the line's ``rowid`` in ``lines``),
    ``member``, ``line``, ``problem`` (also what only the whole file tells), ``no`` and
    ``duplicate``. Numbering and de-duplication are the importer's: a line without a
    (positive) ``no`` gets ``-n`` in file order per fork, and of lines repeating a ``no`` all
    but the first are ``duplicate`` (``ON CONFLICT DO NOTHING``); numbers made up that way
    never repeat, so only lines that give one are compared."""
    return f"""
WITH joined AS (  -- narrow: a window carries all it is given
    SELECT l.rowid AS r, f.member, f.video_id, coalesce(l.line, l.rowid) AS line, l.fork,
           l.given_no, l.problem
    FROM {lines} AS l JOIN {files} AS f ON f.path = l.key
), made AS (
    SELECT r, -row_number() OVER (PARTITION BY member, fork ORDER BY line) AS no
    FROM joined WHERE NOT coalesce(given_no > 0, false)
), repeated AS (
    SELECT r FROM (
        SELECT r, row_number() OVER (PARTITION BY member, fork, given_no ORDER BY line) AS n
        FROM joined WHERE given_no > 0
    ) WHERE n > 1
), numbered AS (
    SELECT j.*, CASE WHEN j.given_no > 0 THEN j.given_no ELSE m.no END AS no,
           rp.r IS NOT NULL AS repeated
    FROM joined AS j LEFT JOIN made AS m ON m.r = j.r LEFT JOIN repeated AS rp ON rp.r = j.r
)
SELECT r, member, line,
       CASE WHEN problem IS NULL AND (no < -{INT32}
                 OR length('nii:' || video_id) > {TEXT_LENGTHS["thread_id"]}) THEN 5
            ELSE problem END AS problem,
       TRY_CAST(no AS BIGINT) AS no, numbered.problem IS NULL AND repeated AS duplicate
FROM numbered"""


def nii_rows_sql(lines: str, numbers: str, files: str) -> str:
    """The comments of the table ``lines`` (`nii_lines_sql`'s rows) as numbered in the
    table ``numbers`` (`nii_numbers_sql`'s rows of the same ``lines`` and ``files``): its
    ``member``, ``line``, ``problem``, then the `formats.columns` columns (``posted_at`` as
    Unix seconds), and ``duplicate``. A join, not stored: the wide rows are stored once."""
    return f"""
SELECT n.member, n.line, n.problem, f.video_id, 'nii:' || f.video_id AS thread_id, l.fork,
       n.no, TRY_CAST(l.vpos * 10 AS BIGINT) AS vpos_ms, l.posted_at, l.content, l.commands,
       CAST(NULL AS INTEGER) AS date_usec, CAST(NULL AS VARCHAR) AS user_id,
       false AS is_premium,
       CASE WHEN contains(l.commands, '184')
            THEN regexp_matches(l.commands, '(^|{_SPACE})184($|{_SPACE})') ELSE false END
       AS is_anonymous,
       false AS is_deleted, CAST(NULL AS SMALLINT) AS deleted_reason,
       CAST(NULL AS INTEGER) AS score, CAST(NULL AS INTEGER) AS nicoru_count,
       CAST(NULL AS VARCHAR) AS comment_id, CAST(NULL AS VARCHAR) AS source,
       CAST(NULL AS VARCHAR) AS message_id, CAST(NULL AS BOOLEAN) AS is_overflowed,
       CAST(NULL AS VARCHAR) AS name, n.duplicate
FROM {lines} AS l JOIN {numbers} AS n ON n.r = l.rowid JOIN {files} AS f ON f.path = l.key
"""
