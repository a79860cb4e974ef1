"""Reading comment files other tools wrote: pure, streaming readers that yield `Comment` records.

Each ``read_*`` function takes a binary stream and yields, in file order, `Comment` records and
what the file says about its threads (`ThreadStatus`) or its video (`VideoHint`); nothing here
touches the database (`nicocomments.interchange.load` does). Readers hold at most one thread of
an nvcomment answer in memory, never a whole file: JSON arrays are read item by item with ijson,
JSON Lines line by line, and zip archives member by member. Legacy XML is read by
`nicocomments.interchange.packet` (lxml, hardened), which maps its ``<chat>`` attributes with
`chat_to_comment` below, so XML and api.json chats mean the same thing.

Rules for what a format leaves out (the README's "Import formats" section says the same):

* **No comment number** (NII 2018+ lines; live-broadcast XML, where every chat has
  ``no="-1"``): the n-th such comment of a (thread, fork) in the file gets ``no = -n``. Servers
  number from 1, so a negative ``no`` always means "numbered by nico, in file order", can never
  collide with a real number, and the same file always gets the same numbers (re-importing it
  adds nothing).
* **No thread id**: NII lines go to thread ``nii:<video id>``; yt-dlp's flattened comment lists
  to ``ytdlp:<video id>`` (see `read_ytdlp` for how its forks are told apart).
* **No video id in the file**: taken from the file name (``sm9.jsonl``,
  ``Title [sm9].comments.json``) or given with ``--video``; XML and v1 files fall back to their
  thread id.
* **Dates without a zone** (NII ISO strings, a v1 ``postedAt``): Japan time (`records.JST`),
  the site's own zone. (The comment server always names the zone; `nicocomments.nvcomment`
  refuses an answer that does not.)
"""

from __future__ import annotations

import codecs
import io
import itertools
import re
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import ijson
import orjson

from nicocomments.chats import (
    chat_comment,
    int_or_none,
    scalar_text,
    thread_status,
    unix_seconds,
    v1_comment,
)
from nicocomments.errors import BadInput
from nicocomments.ids import video_id_from_name  # noqa: F401 (interchange.load imports it here)
from nicocomments.limits import MAX_LINE_BYTES, BoundedJson
from nicocomments.records import FORKS, JST, Comment, ThreadStatus

FORMATS = ("xml", "v1", "apijson", "ytdlp", "nii", "jsonl", "csv", "parquet")
FILE_SUFFIXES = (".xml", ".json", ".jsonl", ".dat", ".csv", ".parquet")
ARCHIVE_SUFFIXES = (".zip",)
HEAD_BYTES = 65536  # how much of a file format sniffing looks at

APIJSON_KEYS = frozenset({"chat", "thread", "ping", "leaf", "global_num_res", "view_counter"})
V1_THREAD_KEYS = frozenset({"fork", "commentCount", "comments"})
V1_COMMENT_KEYS = frozenset({"vposMs", "body", "postedAt", "commands"})
NII_KEYS = frozenset({"date", "vpos"})
NICO_COLUMNS = frozenset({"thread_id", "fork", "no", "posted_at"})  # nico's own exports
PARQUET_MAGIC = b"PAR1"


class MalformedFile(BadInput):
    """A file that is not what its format promises (the loader adds the file's name)."""


@dataclass(frozen=True)
class VideoHint:
    """The file names its video (legacy ``<view_counter id="sm9">``)."""

    video_id: str


Item = Comment | ThreadStatus | VideoHint


@dataclass(frozen=True)
class Source:
    """One file to import: a file on disk, or one member of a zip archive."""

    name: str  # what fetch_runs.source records: the path, or "archive.zip!dir/sm9.jsonl"
    file_name: str  # the base name, where a video id may be found
    open: Callable[[], IO[bytes]]


# --- finding and recognising files -------------------------------------------------------------


def iter_sources(path: Path) -> Iterator[Source]:
    """The files behind one PATH argument: the file itself, every member of a zip archive (opened
    one at a time, decompressed as it is read), or every supported file under a directory."""
    if path.is_dir():
        for child in sorted(p for p in path.rglob("*") if p.is_file()):
            if child.suffix.lower() in FILE_SUFFIXES + ARCHIVE_SUFFIXES:
                yield from iter_sources(child)
        return
    if not path.is_file():
        raise BadInput(f"{path}: no such file")
    if path.suffix.lower() in ARCHIVE_SUFFIXES:
        yield from _zip_members(path)
        return
    yield Source(str(path), path.name, lambda: open(path, "rb"))  # noqa: SIM115


def _zip_members(path: Path) -> Iterator[Source]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise BadInput(f"{path}: not a readable zip archive ({exc})") from None
    with archive:
        for info in archive.infolist():
            member = info.filename
            if info.is_dir() or not member.lower().endswith(FILE_SUFFIXES):
                continue
            yield Source(
                f"{path}!{member}",
                member.rsplit("/", 1)[-1],
                lambda member=member: archive.open(member),
            )


def sniff_format(head: bytes, file_name: str = "") -> str:
    """Which of `FORMATS` a file is, from its first bytes (and, for JSON Lines, its name)."""
    if head.startswith(PARQUET_MAGIC):
        return "parquet"
    text = head.decode("utf-8", "replace").lstrip("\ufeff \t\r\n")
    if text.startswith("<"):
        return "xml"
    if text.startswith("["):
        match = re.match(r'\[\s*\{\s*"([^"]+)"', text)
        if match and match.group(1) in APIJSON_KEYS:
            return "apijson"
        keys = set(re.findall(r'"([A-Za-z_]+)"\s*:', text[:4096]))
        if match is None or keys & V1_THREAD_KEYS:
            return "v1"  # the bare threads array (or an empty array)
        if keys & V1_COMMENT_KEYS:
            return "ytdlp"
    if text.startswith("{"):
        first_line = text.split("\n", 1)[0]
        try:
            first = orjson.loads(first_line)
        except orjson.JSONDecodeError:  # the stdlib's parser would recurse on nesting
            first = None
        if isinstance(first, dict) and first.keys() >= NICO_COLUMNS:
            return "jsonl"
        if isinstance(first, dict) and first.keys() >= NII_KEYS:
            return "nii"
        if re.match(r'\{\s*"(meta|data|threads|globalComments)"', text):
            return "v1"
    if set(text.split("\n", 1)[0].rstrip("\r").split(",")) >= NICO_COLUMNS:
        return "csv"  # nico's CSV export: its header
    raise MalformedFile(
        f"not a comment file nico can read (format not recognised; try --format "
        f"{'/'.join(FORMATS)})"
    )


# --- legacy chats (XML attributes and api.json objects) -----------------------------------------


def chat_to_comment(fields: Mapping[str, Any], content: str, numbers: SyntheticNumbers) -> Comment:
    """A legacy ``<chat>`` (its attributes) or api.json ``chat`` object → `Comment`, by the
    mapping the message-server parser uses (`nicocomments.chats`). A missing or non-positive
    ``no`` (live broadcasts) is numbered by `SyntheticNumbers`."""
    try:
        comment = chat_comment(fields, content)
    except ValueError as exc:
        raise MalformedFile(str(exc)) from None
    if not comment.thread_id:
        raise MalformedFile("a chat has no thread")
    if comment.no is None or comment.no <= 0:
        comment = comment._replace(no=numbers.next(comment.thread_id, comment.fork))
    return comment


def thread_from_fields(fields: Mapping[str, Any]) -> ThreadStatus:
    """A legacy ``<thread>`` element (or api.json ``thread`` object) → `ThreadStatus`."""
    try:
        return thread_status(fields)
    except ValueError as exc:
        raise MalformedFile(str(exc)) from None


class SyntheticNumbers:
    """``no = -n`` for the n-th comment without a number in one (thread, fork) of one file."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, str], int] = {}

    def next(self, thread_id: str, fork: str) -> int:
        key = (thread_id, fork)
        self._counts[key] = self._counts.get(key, 0) + 1
        return -self._counts[key]


# --- legacy api.json ------------------------------------------------------------------------


def read_apijson(stream: IO[bytes]) -> Iterator[Item]:
    """An api.json answer: ``[{"ping": …}, {"thread": …}, {"chat": …}, …]`` (also without the
    ping/thread/leaf objects, as tools that keep only the chats write it, and yt-dlp's older
    ``.comments.json``)."""
    numbers = SyntheticNumbers()
    answered = requested = False
    for element in _json_items(stream, "item"):
        if not isinstance(element, dict):
            raise MalformedFile("an api.json element is not an object")
        if "chat" in element:
            chat = element["chat"]
            if not isinstance(chat, dict):
                raise MalformedFile("an api.json chat is not an object")
            answered = True
            yield chat_to_comment(chat, _text(chat.get("content"), "a chat's content"), numbers)
        elif "thread" in element and isinstance(element["thread"], dict):
            if "resultcode" in element["thread"]:  # an answer; a request has none
                answered = True
                yield thread_from_fields(element["thread"])
            else:
                requested = True
        elif "thread_leaves" in element:
            requested = True
        elif "view_counter" in element and isinstance(element["view_counter"], dict):
            hint = element["view_counter"].get("id")
            if hint:
                yield VideoHint(_text(hint, "a view_counter id"))
    if requested and not answered:
        raise MalformedFile(
            "this is an api.json request (what a client sends to the message server), not the "
            "server's answer: it holds no comments; import the answer instead"
        )


# --- nvcomment v1 ---------------------------------------------------------------------------


def read_v1(stream: IO[bytes]) -> Iterator[Item]:
    """A ``/v1/threads`` answer: the whole response (``{"meta", "data": {"threads"}}``), its
    ``data`` object, or the bare ``threads`` array. One thread is held in memory at a time
    (an answer holds at most about a thousand comments per thread)."""
    events = ijson.parse(_skip_bom(stream), use_float=True)
    first = _next_event(events)
    if first is None:
        raise MalformedFile("the file is empty")
    if first[1] == "start_array":
        prefixes = {"item"}
    elif first[1] == "start_map":
        prefixes = {"data.threads.item", "threads.item"}
    else:
        raise MalformedFile("not an nvcomment v1 answer")
    threads = 0
    try:
        for prefix, thread in _items_at(events, prefixes):
            threads += 1
            yield from _v1_thread(thread, prefix)
    except ijson.JSONError as exc:
        raise _broken(exc) from None
    if threads == 0 and first[1] == "start_map":
        raise MalformedFile("not an nvcomment v1 answer: it has no threads")


def _v1_thread(thread: Any, prefix: str) -> Iterator[Item]:
    if not isinstance(thread, dict) or "id" not in thread or "fork" not in thread:
        raise MalformedFile("a v1 thread lacks its id or fork")
    thread_id, fork = _text(thread["id"], "a v1 thread's id"), _text(thread["fork"], "its fork")
    if fork not in FORKS:
        raise MalformedFile(f"a v1 thread has the unknown fork {fork[:20]!r}")
    yield ThreadStatus(thread_id, fork, comment_count=int_or_none(thread.get("commentCount")))
    for raw in thread.get("comments") or []:
        yield v1_to_comment(raw, thread_id, fork)


def v1_to_comment(raw: Any, thread_id: str, fork: str) -> Comment:
    """One comment of a v1 answer → `Comment`, by the mapping the comment server's parser uses
    (`nicocomments.chats`), except that a ``postedAt`` without a zone is Japan time."""
    try:
        return v1_comment(raw, thread_id, fork, JST)
    except ValueError:
        raise MalformedFile("a v1 comment lacks no or postedAt, or they are not valid") from None


# --- yt-dlp ---------------------------------------------------------------------------------


def read_ytdlp(stream: IO[bytes], video_id: str) -> Iterator[Item]:
    """yt-dlp's ``<title> [<id>].comments.json``: every comment of one ``/v1/threads`` answer,
    flattened into one array (yt-dlp keeps ``data.threads[*].comments[*]`` and drops the
    rest), so which thread and fork a comment came from is lost. What the file still carries:

    * **thread order**: yt-dlp keeps the threads in the server's order, which is the watch
      data's targets: owner, main, easy (a channel video: owner and main of its ordinary
      thread, then the key-protected main, and easy);
    * **numbering**: each thread is numbered from 1 and listed in ascending ``no``, so where
      ``no`` does not increase a new thread begins;
    * **the owner thread** comes first when it is there, and it is the uploader's: every
      comment from one user, numbered 1, 2, 3, … without a gap (it is served whole), and
      either saved together (one ``postedAt`` second for all, as the owner editor saves them)
      or holding owner scripts (``/…`` niwango, ``＠…``/``@…`` nicoscript).

    So: the leading stretch of one user's comments is ``owner`` if it looks like that, and the
    runs after it (cut where the owner stretch ends and wherever ``no`` starts again) are, in
    order, ``main`` and ``easy``. Everything goes to thread ``ytdlp:<video id>``; a run whose
    fork was already used (a channel video's second main thread) gets a thread of its own,
    ``ytdlp:<video id>:<run>``, so no two comments are ever merged by mistake. What the file
    cannot tell is in the README ("Import formats"). At most the owner stretch is held in
    memory."""
    base = f"ytdlp:{video_id}"
    items = _json_items(stream, "item")
    plain = iter(("main", "easy"))
    used: set[str] = set()
    run = 0

    def start_run(fork: str) -> str:
        nonlocal run
        run += 1
        thread_id = base if fork not in used else f"{base}:{run}"
        used.add(fork)
        return thread_id

    leading, following = _leading_stretch(items)
    if _looks_like_owner(leading):
        thread_id = start_run("owner")
        for raw in leading:
            yield v1_to_comment(raw, thread_id, "owner")
        leading = []
    fork, thread_id, previous_no = "main", "", None
    for raw in itertools.chain(leading, following):
        no = _ytdlp_no(raw)
        if previous_no is None or no <= previous_no:
            fork = next(plain, "main")
            thread_id = start_run(fork)
        previous_no = no
        yield v1_to_comment(raw, thread_id, fork)


def _ytdlp_no(raw: Any) -> int:
    if not isinstance(raw, dict):
        raise MalformedFile("a yt-dlp comment is not an object")
    no = int_or_none(raw.get("no"))
    if no is None:
        raise MalformedFile("a yt-dlp comment has no no")
    return no


OWNER_STRETCH_LIMIT = 10_000  # owner threads are a few hundred comments; memory stays bounded


def _leading_stretch(items: Iterator[Any]) -> tuple[list[dict], Iterator[Any]]:
    """The comments at the start by one user in ascending ``no`` (the owner thread, if the
    file has one; at most `OWNER_STRETCH_LIMIT`, and a longer stretch is no owner thread),
    and the rest of ``items``."""
    leading: list[dict] = []
    for raw in items:
        no = _ytdlp_no(raw)
        user = _text(raw.get("userId"), "a yt-dlp comment's userId")
        if leading and (
            user != leading[0]["userId"]
            or no <= leading[-1]["no"]
            or len(leading) >= OWNER_STRETCH_LIMIT
        ):
            return leading, itertools.chain([raw], items)
        leading.append({**raw, "no": no, "userId": user})
    return leading, iter(())


OWNER_SCRIPT_PREFIXES = ("/", "＠", "@")  # niwango scripts and nicoscript, owner-only features


def _looks_like_owner(stretch: list[dict]) -> bool:
    """One user's comments numbered 1, 2, … without a gap, saved in one second or holding
    owner scripts: the owner thread."""
    if not stretch or not stretch[0]["userId"] or len(stretch) >= OWNER_STRETCH_LIMIT:
        return False
    if [c["no"] for c in stretch] != list(range(1, len(stretch) + 1)):
        return False
    saved_together = len(stretch) > 1 and len({_second(c) for c in stretch}) == 1
    scripted = any(
        isinstance(body := c.get("body"), str) and body.startswith(OWNER_SCRIPT_PREFIXES)
        for c in stretch
    )
    return saved_together or scripted


def _second(raw: dict) -> int | None:
    try:
        return unix_seconds(raw.get("postedAt"), JST)
    except ValueError:
        return None


# --- the NII dataset --------------------------------------------------------------------------


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


def json_lines(stream: IO[bytes]) -> Iterator[tuple[int, dict]]:
    """(line number, object) of each non-blank line of JSON Lines (a BOM first is skipped)."""
    for line_number, line in enumerate(_lines(stream), 1):  # bytes: orjson reads UTF-8 itself
        if line_number == 1 and line.startswith(codecs.BOM_UTF8):
            line = line[len(codecs.BOM_UTF8) :]
        if not line.strip():
            continue
        try:
            raw = orjson.loads(line)
        except orjson.JSONDecodeError:
            raise MalformedFile(f"line {line_number} is not JSON (or not UTF-8)") from None
        if not isinstance(raw, dict):
            raise MalformedFile(f"line {line_number} is not a JSON object")
        yield line_number, raw


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


# --- small helpers ----------------------------------------------------------------------------


class _Prefixed(io.RawIOBase):
    """A stream that first gives back bytes already read from it (the sniffed head)."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def prefixed(head: bytes, rest: IO[bytes]) -> IO[bytes]:
    """``head`` + the rest of ``rest``, as one buffered binary stream."""
    return io.BufferedReader(_Prefixed(head, rest), buffer_size=HEAD_BYTES)


def _json_items(stream: IO[bytes], prefix: str) -> Iterator[Any]:
    try:
        yield from ijson.items(_skip_bom(stream), prefix, use_float=True)
    except ijson.JSONError as exc:
        raise _broken(exc) from None


def _skip_bom(stream: IO[bytes]) -> IO[bytes]:
    """The stream without its BOM, as ijson reads it: within the depth and length limits."""
    head = stream.read(3)
    return BoundedJson(prefixed(b"" if head == b"\xef\xbb\xbf" else head, stream))


def _broken(exc: Exception) -> MalformedFile:
    """ijson's error in one line: yajl adds the text around the error on further lines (as a
    bytes repr when it is not UTF-8)."""
    detail = exc.args[0] if exc.args else ""
    if isinstance(detail, bytes):
        detail = detail.decode("utf-8", "replace")
    first = str(detail).strip().split("\n", 1)[0].strip().rstrip(".")
    return MalformedFile(f"broken JSON ({first or type(exc).__name__})")


def _lines(stream: IO[bytes]) -> Iterator[bytes]:
    """The lines of a stream, none held whole when it passes `MAX_LINE_BYTES` (a 1 GB line
    in a 1 MB zip archive is refused after the first megabyte)."""
    number = 0
    while line := stream.readline(MAX_LINE_BYTES + 1):
        number += 1
        if len(line) > MAX_LINE_BYTES:
            raise MalformedFile(f"line {number} is longer than {MAX_LINE_BYTES:,} bytes")
        yield line


def _text(value: Any, what: str) -> str:
    try:
        return scalar_text(value)
    except ValueError:
        raise MalformedFile(f"{what} is not text") from None


def _next_event(events):
    try:
        return next(events)
    except StopIteration:
        return None
    except ijson.JSONError as exc:
        raise _broken(exc) from None


def _items_at(events, prefixes: set[str]) -> Iterator[tuple[str, Any]]:
    """Build the values found at any of ``prefixes`` from a stream of ijson events."""
    builder = None
    current = ""
    for prefix, event, value in events:
        if builder is None:
            if prefix in prefixes and event in ("start_map", "start_array"):
                builder = ijson.ObjectBuilder()
                current = prefix
                builder.event(event, value)
            continue
        builder.event(event, value)
        if prefix == current and event in ("end_map", "end_array"):
            yield current, builder.value
            builder = None
