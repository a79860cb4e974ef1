"""How much nico reads from outside, and what it accepts (stdlib only, so every side may use it).

A server or a file can be hostile or broken in ways that cost memory or time, or that store
nonsense which later decides what nico does (a comment "no 0" once ended a history walk and
marked it complete). The limits live here, in one place, so the network side and the file readers
enforce the same ones and the README can state them (its "Reliability" section is generated from
these constants):

* an answer is read as a stream and refused once it passes `MAX_ANSWER_BYTES`;
* a line of a line-based file (JSON Lines, also inside zip archives) may be `MAX_LINE_BYTES`;
* JSON may nest `MAX_JSON_DEPTH` deep: orjson's own fixed limit for answers and lines, enforced
  by `DepthLimited` on files streamed through ijson (whose memory grows with the square of the
  depth);
* a live stream's message may declare `MAX_STREAM_MESSAGE_BYTES`;
* a comment's text (and its commands) may be `MAX_COMMENT_CHARS` long, in XML and JSON alike;
* every number must fit the database column it goes to (`comment_problem`);
* a server's comments must be plausible (`page_problem`): numbers from 1 and not far past the
  server's own count, dates between the video's posting time and now.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import IO
from urllib.parse import urlsplit

from nicocomments.errors import BadAnswer, BadInput
from nicocomments.records import MIN_POSTED_AT, Comment, Page, ThreadRef, ThreadStatus

MAX_ANSWER_BYTES = 16 * 2**20  # 16 MiB: a thousand comments are well under 1 MiB
MAX_LINE_BYTES = 2**20  # 1 MiB: one comment a line
MAX_JSON_DEPTH = 1024  # orjson refuses deeper JSON; nothing Niconico writes is 10 deep
MAX_COMMENT_CHARS = 65_536  # the site takes 75 characters, 1,024 from premium members
# The longest message a live (NDGR) stream may declare: a comment is well under 1 KiB and the
# largest state messages a few KiB, and it bounds what a server can make us buffer in advance.
MAX_STREAM_MESSAGE_BYTES = 4 * 2**20

# How far the comment numbers of an answer may run past the count in the same answer (comments
# posted while the count was cached); the slack is a page plus a tenth of the count.
COUNT_SLACK = 1000
# Comments dated this long before the video's posting time (or after now) are not believed.
DATE_SLACK_S = 86_400

INT16 = 2**15 - 1
INT32 = 2**31 - 1  # integer columns are 32 bits in PostgreSQL
INT64 = 2**63 - 1
LAST_STORABLE_SECOND = 253_402_300_799  # 9999-12-31T23:59:59Z: the last date a database takes
# Text columns with a length (PostgreSQL enforces it): the longest value a comment may carry.
TEXT_LENGTHS = {
    "thread_id": 32,
    "user_id": 64,
    "comment_id": 24,
    "source": 16,
    "message_id": 64,
}

# --- comments -----------------------------------------------------------------------------------


def comment_problem(comment: Comment) -> str | None:
    """What about ``comment`` no database column can hold, or None when it fits. (One
    expression for the common case: this runs once per comment stored.)"""
    c = comment
    if (
        (c.no is None or -INT32 <= c.no <= INT32)
        and -INT64 <= c.vpos_ms <= INT64
        and 0 <= c.posted_at <= LAST_STORABLE_SECOND
        and (c.date_usec is None or -INT32 <= c.date_usec <= INT32)
        and (c.score is None or -INT32 <= c.score <= INT32)
        and (c.nicoru_count is None or -INT32 <= c.nicoru_count <= INT32)
        and (c.deleted_reason is None or -INT16 <= c.deleted_reason <= INT16)
        and len(c.content) <= MAX_COMMENT_CHARS
        and len(c.commands) <= MAX_COMMENT_CHARS
        and len(c.thread_id) <= TEXT_LENGTHS["thread_id"]
        and (c.user_id is None or len(c.user_id) <= TEXT_LENGTHS["user_id"])
        and (c.comment_id is None or len(c.comment_id) <= TEXT_LENGTHS["comment_id"])
        and (c.source is None or len(c.source) <= TEXT_LENGTHS["source"])
        and (c.message_id is None or len(c.message_id) <= TEXT_LENGTHS["message_id"])
        and (c.name is None or len(c.name) <= MAX_COMMENT_CHARS)
    ):
        return None
    if c.no is not None and not -INT32 <= c.no <= INT32:
        return f"comment no {_number(c.no)} is out of range"
    if not 0 <= c.posted_at <= LAST_STORABLE_SECOND:
        return f"comment {c.no} has a date out of range ({_number(c.posted_at)} Unix seconds)"
    if max(len(c.content), len(c.commands), len(c.name or "")) > MAX_COMMENT_CHARS:
        return f"comment {c.no} is longer than {MAX_COMMENT_CHARS:,} characters"
    for name in ("thread_id", "user_id", "comment_id", "source", "message_id"):
        value = getattr(c, name)
        if value is not None and len(value) > TEXT_LENGTHS[name]:
            return f"comment {c.no} has a {name} longer than {TEXT_LENGTHS[name]} characters"
    for name, largest in _INTEGER_FIELDS.items():
        value = getattr(c, name)
        if value is not None and not -largest <= value <= largest:
            return f"comment {c.no} has a {name} out of range ({_number(value)})"
    raise AssertionError("unreachable")  # pragma: no cover


_INTEGER_FIELDS = {
    "vpos_ms": INT64,
    "date_usec": INT32,
    "score": INT32,
    "nicoru_count": INT32,
    "deleted_reason": INT16,
}


def comments_problem(comments: Sequence[Comment]) -> str | None:
    """What about the first of ``comments`` that does not fit (`comment_problem`), or None.

    A page or a batch at a time, column by column at C speed (min, max and len over the
    columns of the transposed batch): a tenth of the cost of asking comment by comment."""
    if not comments:
        return None
    (
        thread_ids, _, numbers, vpos, dates, contents, commands, usecs, users, _, _, _, reasons,
        scores, nicorus, comment_ids, sources, message_ids, _, names,
    ) = zip(*comments, strict=False)  # fmt: skip
    fits = (
        _within(numbers, INT32)
        and _within(vpos, INT64)
        and min(dates) >= 0
        and max(dates) <= LAST_STORABLE_SECOND
        and _within(usecs, INT32)
        and _within(scores, INT32)
        and _within(nicorus, INT32)
        and _within(reasons, INT16)
        and max(map(len, contents)) <= MAX_COMMENT_CHARS
        and max(map(len, commands)) <= MAX_COMMENT_CHARS
        and _shorter(thread_ids, "thread_id")
        and _shorter(users, "user_id")
        and _shorter(comment_ids, "comment_id")
        and _shorter(sources, "source")
        and _shorter(message_ids, "message_id")
        and _longest(names) <= MAX_COMMENT_CHARS
    )
    if fits:
        return None
    return next(filter(None, map(comment_problem, comments)))


def _present(column: tuple) -> tuple | list:
    """The values of a column that are not None (all of them, or none, most of the time)."""
    missing = column.count(None)
    if not missing:
        return column
    return () if missing == len(column) else [v for v in column if v is not None]


def _within(column: tuple, largest: int) -> bool:
    values = _present(column)
    return not values or (min(values) >= -largest and max(values) <= largest)


def _shorter(column: tuple, name: str) -> bool:
    values = _present(column)
    return not values or max(map(len, values)) <= TEXT_LENGTHS[name]


def _longest(column: tuple) -> int:
    values = _present(column)
    return max(map(len, values)) if values else 0


def status_problem(status: ThreadStatus) -> str | None:
    """What about a thread's status (its counts, the server's clock) no column can hold."""
    for name in ("resultcode", "last_res", "comment_count", "global_num_res", "revision"):
        value = getattr(status, name)
        if value is not None and not -INT32 <= value <= INT32:
            return f"thread {status.thread_id} has a {name} out of range ({_number(value)})"
    when = status.server_time
    if when is not None and not 0 <= when <= LAST_STORABLE_SECOND:
        return f"thread {status.thread_id} has a server time out of range ({_number(when)})"
    if len(status.thread_id) > TEXT_LENGTHS["thread_id"]:
        return f"a thread id is longer than {TEXT_LENGTHS['thread_id']} characters"
    return None


def _number(value: int) -> str:
    text = str(value)
    return text if len(text) <= 24 else f"{text[:12]}…({len(text)} digits)"


def page_problem(
    page: Page, *, posted_at: int | None = None, now: float | None = None
) -> str | None:
    """What makes a server's page unbelievable, or None. A walk stops on the numbers and dates
    it sees, so a single wrong one would end it early and call it complete; such a page is
    refused instead. Numbers start at 1 and may not run far past the server's count; dates lie
    between the video's posting time (`DATE_SLACK_S` before it) and now (as much after)."""
    comments = page.comments
    problem = status_problem(page.thread) or comments_problem(comments)
    if problem is not None or not comments:
        return problem
    numbers = [c.no for c in comments]
    lowest, highest = min(numbers), max(numbers)
    if lowest < 1:
        return f"comment no {lowest} (comment numbers start at 1)"
    status = page.thread
    count = status.comment_count if status.comment_count is not None else status.last_res
    if count is not None and highest > count + COUNT_SLACK + count // 10:
        return f"comment no {highest}, far beyond the {count:,} comments the server counts"
    dates = [c.posted_at for c in comments]
    earliest = earliest_date(posted_at)
    latest = (time.time() if now is None else now) + DATE_SLACK_S
    if min(dates) < earliest:
        what = "the video's posting time" if posted_at and posted_at > MIN_POSTED_AT else "2006-12"
        return f"a comment dated {_date(min(dates))}, before {what}"
    if max(dates) > latest:
        return f"a comment dated {_date(max(dates))}, in the future"
    return None


def checked_page(page: Page, ref: ThreadRef, posted_at: int | None = None) -> Page:
    """``page`` of thread ``ref`` as a server answered it, or `BadAnswer` saying why it cannot
    be right (`page_problem`): nothing of it is stored, and a walk never ends on it."""
    problem = page_problem(page, posted_at=posted_at)
    if problem is not None:
        raise BadAnswer(
            f"thread {ref.thread_id} ({ref.fork}): the server answered {problem}; "
            "refusing that answer (nothing of it was stored)"
        )
    return page


def earliest_date(posted_at: int | None) -> int:
    """The oldest date a comment of a video posted at ``posted_at`` may carry (and so where a
    walk back through its history ends)."""
    return max(MIN_POSTED_AT, (posted_at or 0) - DATE_SLACK_S)


def posted_at_problem(posted_at: int, now: float | None = None) -> str | None:
    """Why a video's posting time cannot be right (before Niconico opened, or in the future)."""
    latest = (time.time() if now is None else now) + DATE_SLACK_S
    if MIN_POSTED_AT <= posted_at <= latest:
        return None
    return f"a posting time of {_date(posted_at)}, which cannot be right"


def _date(seconds: int) -> str:
    if not 0 <= seconds <= LAST_STORABLE_SECOND:
        return f"{seconds} Unix seconds"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(seconds))


# --- addresses ------------------------------------------------------------------------------------


def http_url(value: object) -> str | None:
    """``value`` when it is an http(s) URL with a host, else None: servers named by answers are
    only ever asked over HTTP (a ``file:`` or ``ftp:`` URL is an answer to refuse)."""
    if not isinstance(value, str):
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return value


def shown(text: str, limit: int = 60) -> str:
    """``text`` quoted for a message, cut to ``limit`` characters (an id may be a megabyte)."""
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}… ({len(text):,} characters)"


# --- streams ----------------------------------------------------------------------------------


class TooLarge(BadInput):
    """A file passed one of the limits above."""


_READ_SIZE = 65536  # a string that fits in one read is shorter than any token limit
_NOT_MARKS = bytes(range(256)).translate(None, b'[]{}"')
_NUMBER_BYTES = b"0123456789+-.eE"


class BoundedJson:
    """A binary stream of JSON that refuses, as it is read, nesting deeper than ``depth`` and
    a string or number longer than ``token`` bytes.

    ijson keeps a prefix string per open level, so its memory grows with the square of the
    depth (200,000 nested arrays took over 16 GB), and it holds a whole string or number before
    handing it over. This wrapper follows the bytes as they pass, mostly at C speed: escaped
    backslashes and quotes are masked (same lengths, no quotes), everything but quotes and
    brackets is dropped, the quotes then part strings from the rest, and the brackets outside
    strings are counted. Reads are at most `_READ_SIZE`, so only a string or number that goes
    on from one read to the next can pass ``token``: the pieces at the ends of reads are
    measured."""

    def __init__(
        self, stream: IO[bytes], depth: int = MAX_JSON_DEPTH, token: int = MAX_LINE_BYTES
    ) -> None:
        self._stream = stream
        self._depth_limit = depth
        self._token_limit = max(token, _READ_SIZE)
        self._depth = 0
        self._in_string = False
        self._escape = b""  # a backslash that ended the last read: it escapes the next byte
        self._token = 0  # bytes of the string or number the last read ended in

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(_READ_SIZE if size < 0 else min(size, _READ_SIZE))
        if data:
            self._scan(data)
        return data

    def _scan(self, data: bytes) -> None:
        text = self._escape + data
        self._escape = b""
        if b"\\" in text:
            stripped = text.rstrip(b"\\")
            if (len(text) - len(stripped)) % 2:
                self._escape = b"\\"
                text = text[:-1]
            text = text.replace(b"\\\\", b"__").replace(b'\\"', b"__")
        was_in_string = self._in_string
        marks = text.translate(None, _NOT_MARKS).split(b'"')
        self._in_string = ends_in_string = was_in_string == (len(marks) % 2 == 1)
        self._check_tokens(text, was_in_string, ends_in_string)
        outside = marks[1::2] if was_in_string else marks[0::2]
        depth, limit = self._depth, self._depth_limit
        for byte in b"".join(outside):
            if byte in b"[{":
                depth += 1
                if depth > limit:
                    raise TooLarge(f"JSON nested more than {limit:,} levels deep")
            else:
                depth -= 1
        self._depth = depth

    def _check_tokens(self, text: bytes, was_in_string: bool, ends_in_string: bool) -> None:
        """The string or number going on from the last read, and the one going on to the next."""
        first_quote, last_quote = text.find(b'"'), text.rfind(b'"')
        whole = first_quote < 0
        first = text if whole else text[:first_quote]
        last = text if whole else text[last_quote + 1 :]
        carried = self._token
        if was_in_string:
            longest = carried + len(first)
        else:
            longest = carried + len(first) - len(first.lstrip(_NUMBER_BYTES))
        if ends_in_string:
            self._token = len(last) + (carried if whole else 0)
        else:
            tail = len(last) - len(last.rstrip(_NUMBER_BYTES))
            self._token = carried + tail if whole and tail == len(last) else tail
        if max(longest, self._token) > self._token_limit:
            raise TooLarge(f"a JSON string or number is longer than {self._token_limit:,} bytes")
