"""The legacy message server: ``<packet>`` POSTs and ``thread?…`` GETs answered in XML.

Semantics per request element, in packet order (protocol.md §1.4–1.6):
  * ``<thread>``: version check (3), thread and fork (1), keys (16, 14/15, 8/9, 4/5), then a
    window: without ``when`` the newest min(|res_from|, W) (W by video length; owner threads
    unlimited), with ``when`` the newest ≤ min(|res_from|, 1000) at or before ``when``.
  * ``<thread_leaves>`` ``0-M:P,N``: per-minute counts (``<leaf>``) plus the newest P chats of
    each minute and the newest N overall.
All ``<thread>``/``<leaf>``/``<global_num_res>`` elements come first, then the chats element by
element, not de-duplicated across elements (the real server repeated them too).
"""

from __future__ import annotations

import random
import re
import threading
import zlib
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field

from lxml import etree

from nicocomments.records import FORK_BY_NUMBER
from nicocomments.xmlsafe import PARSER_OPTIONS, xml_attr, xml_text
from nicosandbox import keys as k
from nicosandbox import web
from nicosandbox.state import State, Surface
from nicosandbox.world import MAX_WINDOW, CommentTable, retention_window

VERSIONS = ("20090904", "20061206", "20130701")  # 20130701 answered like 20090904 in 2017 captures
OK, NOT_FOUND, INVALID, VERSION = 0, 1, 2, 3
INVALID_WAYBACKKEY, TOO_OLD_WAYBACKKEY = 4, 5
INVALID_THREADKEY, TOO_OLD_THREADKEY = 8, 9
INVALID_USERKEY, TOO_OLD_USERKEY, CONFLICT_USERKEY_AND_OTHERKEY = 14, 15, 16
DEFAULT_RES_FROM = -100
LEAF_CAP = 1000  # per-minute and "last N" counts of thread_leaves are capped like res_from

_PATH = re.compile(r"(?:/sub)?/\d+/api(?P<get>/thread)?/?")
_LEAVES = re.compile(
    r"\s*(\d+)\s*-\s*(\d+)\s*:\s*(\d+)\s*(?:,\s*(\d+)\s*)?(?:,\s*nicoru\s*:\s*\d+\s*)?"
)
_EMPTY = CommentTable(id_prefix="", trunk_size=0)


def parse_packet(body: bytes) -> list[tuple[str, dict[str, str], str]] | None:
    """The request elements of a ``<packet>`` (or a bare ``<thread>``), or None if unreadable."""
    if not body.strip():
        return None
    parser = etree.XMLParser(**PARSER_OPTIONS)
    try:
        root = etree.fromstring(body, parser)
    except (etree.XMLSyntaxError, ValueError):
        return None
    if root.tag == "packet":
        children = [child for child in root if isinstance(child.tag, str)]
    elif root.tag in ("thread", "thread_leaves"):
        children = [root]
    else:
        return None
    return [
        (child.tag, {str(a): str(v) for a, v in child.attrib.items()}, child.text or "")
        for child in children
    ]


@dataclass
class _Answer:
    heads: list[str] = field(default_factory=list)
    chats: list[str] = field(default_factory=list)
    event: tuple[str, str, bool, bool, int] | None = None  # thread, fork, leaves, when, code


class MessageServerRoutes:
    def __init__(self, state: State) -> None:
        self.state = state
        self._rng = random.Random(state.seed)
        self._rng_lock = threading.Lock()

    def handle(self, request: web.Request) -> web.Response:
        match = _PATH.fullmatch(request.path)
        if not match:
            return web.not_found()
        if match.group("get"):
            if request.method != "GET":
                return web.not_found()
            elements = [("thread", dict(request.query), "")]
        elif request.method == "POST":
            elements = parse_packet(request.body)
            if elements is None:
                return web.text("bad request", status=400)
        else:
            return web.not_found()
        return self.answer(elements, request.serial)

    def answer(self, elements: list[tuple[str, dict[str, str], str]], serial: int) -> web.Response:
        answers = []
        for tag, attrs, content in elements:
            if tag == "thread":
                answers.append(self._thread(attrs, serial))
            elif tag == "thread_leaves":
                answers.append(self._leaves(attrs, content, serial))
        chats = [chat for answer in answers for chat in answer.chats]
        if self.state.settings.shuffle_chats:
            with self._rng_lock:
                self._rng.shuffle(chats)
        body = "".join(
            [
                '<?xml version="1.0" encoding="UTF-8"?><packet>',
                *(head for answer in answers for head in answer.heads),
                *chats,
                "</packet>",
            ]
        )
        response = web.Response(200, body.encode("utf-8"), web.XML)
        events = [answer.event for answer in answers if answer.event]

        def count() -> None:
            for thread_id, fork, leaves, when, code in events:
                self.state.stats.count_thread(
                    thread_id, fork, leaves=leaves, with_when=when, resultcode=code
                )

        response.on_sent.append(count)
        return response

    # -- one request element ------------------------------------------------------------------

    def _check(self, tag: str, attrs: dict[str, str], serial: int):
        """(resultcode, thread id, fork number, table, when, res_from)."""
        thread_id = attrs.get("thread", "").strip()
        if tag == "thread" and attrs.get("version") not in VERSIONS:
            return VERSION, thread_id, 0, _EMPTY, None, None
        try:
            fork = int(attrs.get("fork") or 0)
        except ValueError:
            return NOT_FOUND, thread_id, 0, _EMPTY, None, None
        fork_name = FORK_BY_NUMBER.get(fork)
        if fork_name is None or self.state.world.video_for_thread(thread_id) is None:
            return NOT_FOUND, thread_id, fork, _EMPTY, None, None
        try:
            when = int(attrs["when"]) if attrs.get("when") else None
            res_from = int(attrs["res_from"]) if attrs.get("res_from") else None
        except ValueError:
            return INVALID, thread_id, fork, _EMPTY, None, None
        code = self._check_keys(thread_id, attrs, when, serial)
        thread = self.state.world.thread(thread_id, fork_name)
        return code, thread_id, fork, thread.comments if thread else _EMPTY, when, res_from

    def _check_keys(
        self, thread_id: str, attrs: dict[str, str], when: int | None, serial: int
    ) -> int:
        userkey, threadkey, waybackkey = (
            attrs.get(a, "") for a in ("userkey", "threadkey", "waybackkey")
        )
        settings = self.state.settings
        keys, ttl, uses = self.state.keys, settings.key_ttl, settings.key_max_uses
        if userkey and (threadkey or waybackkey):
            return CONFLICT_USERKEY_AND_OTHERKEY
        if userkey:
            verdict = keys.check(
                "userkey",
                None,
                userkey,
                ttl=settings.userkey_lifetime,
                max_uses=uses,
                request=serial,
            )
            if verdict != k.VALID:
                return INVALID_USERKEY if verdict == k.INVALID else TOO_OLD_USERKEY
        main = self.state.world.thread(thread_id, "main")
        if main is not None and main.needs_key:
            verdict = keys.check(
                "threadkey", thread_id, threadkey, ttl=ttl, max_uses=uses, request=serial
            )
            if verdict != k.VALID:
                return INVALID_THREADKEY if verdict == k.INVALID else TOO_OLD_THREADKEY
        if when is not None:
            verdict = keys.check(
                "waybackkey", thread_id, waybackkey, ttl=ttl, max_uses=uses, request=serial
            )
            if verdict != k.VALID:
                return INVALID_WAYBACKKEY if verdict == k.INVALID else TOO_OLD_WAYBACKKEY
        return OK

    def _head(self, code: int, thread_id: str, fork: int, table: CommentTable) -> str:
        now = int(self.state.clock())
        if code:
            return (
                f'<thread resultcode="{code}" thread="{xml_attr(thread_id)}" server_time="{now}"/>'
            )
        last_res = f' last_res="{table.nos[-1]}"' if len(table) else ""
        ticket = f"0x{zlib.crc32(f'{thread_id}:{fork}'.encode()):08x}"
        fork_attr = f' fork="{fork}"' if fork else ""
        return (
            f'<thread resultcode="0" thread="{thread_id}"{last_res} ticket="{ticket}" '
            f'revision="1"{fork_attr} server_time="{now}"/>'
        )

    def _thread(self, attrs: dict[str, str], serial: int) -> _Answer:
        code, thread_id, fork, table, when, res_from = self._check("thread", attrs, serial)
        answer = _Answer(heads=[self._head(code, thread_id, fork, table)])
        answer.event = (
            thread_id,
            FORK_BY_NUMBER.get(fork, str(fork)),
            False,
            when is not None,
            code,
        )
        if code:
            return answer
        if attrs.get("with_global") == "1":
            answer.heads.append(f'<global_num_res thread="{thread_id}" num_res="{len(table)}"/>')
        n = len(table)
        if when is None:
            hi = n
            video = self.state.world.video_for_thread(thread_id)
            cap = n if fork == 1 else retention_window(video.duration_s)
        else:
            hi, cap = bisect_right(table.posted_at, when), MAX_WINDOW
        lo = max(0, hi - cap)
        if res_from is None or res_from < 0:
            count = min(-(res_from or DEFAULT_RES_FROM), MAX_WINDOW)
            start, stop = max(lo, hi - count), hi
        else:
            start = max(lo, bisect_left(table.nos, res_from))
            stop = min(hi, start + MAX_WINDOW)
        answer.chats = self._chats(thread_id, fork, table, range(start, stop), attrs)
        return answer

    def _leaves(self, attrs: dict[str, str], content: str, serial: int) -> _Answer:
        code, thread_id, fork, table, when, _ = self._check("thread_leaves", attrs, serial)
        spec = _LEAVES.fullmatch(content or "")
        if code == OK and spec is None:
            code = INVALID
        answer = _Answer(heads=[self._head(code, thread_id, fork, table)])
        answer.event = (
            thread_id,
            FORK_BY_NUMBER.get(fork, str(fork)),
            True,
            when is not None,
            code,
        )
        if code:
            return answer
        first, last, per_minute = int(spec[1]), int(spec[2]), min(int(spec[3]), LEAF_CAP)
        last_n = min(int(spec[4] or 0), LEAF_CAP)
        hi = len(table) if when is None else bisect_right(table.posted_at, when)
        picked: set[int] = set()
        for minute, positions in sorted(table.minute_index().items()):
            if not first <= minute <= last:
                continue
            count = bisect_left(positions, hi)
            if count == 0:
                continue
            leaf = f' leaf="{minute}"' if minute else ""
            answer.heads.append(f'<leaf thread="{thread_id}"{leaf} count="{count}"/>')
            picked.update(positions[max(0, count - per_minute) : count])
        picked.update(range(max(0, hi - last_n), hi))
        answer.chats = self._chats(thread_id, fork, table, sorted(picked), attrs)
        return answer

    # -- chats --------------------------------------------------------------------------------

    def _chats(
        self, thread_id: str, fork: int, t: CommentTable, positions, attrs: dict[str, str]
    ) -> list[str]:
        want_scores = attrs.get("scores") == "1"
        want_nicoru = attrs.get("nicoru", "0") not in ("", "0")
        owner = fork == 1
        fork_attr = f' fork="{fork}"' if fork else ""
        head = f'<chat thread="{thread_id}" no="'
        nos, vposes, dates, usecs, flags, deleted = (
            t.nos,
            t.vpos_ms,
            t.posted_at,
            t.date_usec,
            t.flags,
            t.deleted,
        )
        out = []
        for i in positions:
            vpos_ms = vposes[i]
            parts = [head, str(nos[i]), '" vpos="', str(vpos_ms // 10), '"']
            minute = vpos_ms // 60_000
            if minute >= 1 and not owner:
                parts.append(f' leaf="{minute}"')
            parts.append(f' date="{dates[i]}"')
            flag = flags[i]
            reason = deleted[i]
            if not reason and usecs[i] >= 0:
                parts.append(f' date_usec="{usecs[i]}"')
            if flag & 1:
                parts.append(' premium="1"')
            if flag & 2:
                parts.append(' anonymity="1"')
            if reason:
                parts.append(f'{fork_attr} deleted="{reason}"/>')
                out.append("".join(parts))
                continue
            if not owner:
                parts.append(f' user_id="{xml_attr(t.user_id[i])}"')
            commands = t.commands[i]
            if commands:
                parts.append(f' mail="{xml_attr(commands)}"')
            if want_scores and t.score[i]:
                parts.append(f' score="{t.score[i]}"')
            if want_nicoru and t.nicoru[i] > 0:
                parts.append(f' nicoru="{t.nicoru[i]}"')
            parts.append(fork_attr)
            parts.append(">")
            parts.append(xml_text(t.content[i]))
            parts.append("</chat>")
            out.append("".join(parts))
        return out


# Clients learn its address from getflv (``ms``), never from an env var.
SURFACE = Surface(group="msg", host="msg.nicovideo.jp", routes=MessageServerRoutes)
