"""Pure parsers and request builders of the legacy protocol (text or bytes in, records out)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs

from lxml import etree

from nicocomments.chats import chat_comment, int_or_none, thread_status
from nicocomments.errors import (
    BadAnswer,
    LoginRequired,
    Refused,
    VideoNotFound,
    VideoUnavailable,
)
from nicocomments.limits import http_url
from nicocomments.records import (
    NUMBER_BY_FORK,
    Comment,
    ThreadRef,
    ThreadStatus,
)
from nicocomments.watchpage import unwrap_watch_data
from nicocomments.xmlsafe import PARSER_OPTIONS, declares_dtd

MAIN_VERSION = "20090904"
OWNER_VERSION = "20061206"
PAGE_SIZE = 1000  # the message server never returns more than the last 1000 comments
PACKET_HEADERS = {"Content-Type": "text/plain; charset=UTF-8"}  # "REQUIRED" per Saccubus

DELETED_REASONS = {
    1: "was deleted by its poster",
    2: "was deleted by the operator",
    3: "was deleted at the rights holder's request",
    8: "is private",
}

# resultcode → (name, message). Sources: SRNicoNico's memo, protocol.md §1.6.
RESULTCODES: dict[int, tuple[str, str]] = {
    0: ("FOUND", "found"),
    1: ("NOT_FOUND", "the message server does not know this thread"),
    2: ("INVALID", "the message server rejected the thread request as invalid"),
    3: ("VERSION", "the message server rejected the request version"),
    4: ("INVALID_WAYBACKKEY", "the past-log key (waybackkey) was refused"),
    5: ("TOO_OLD_WAYBACKKEY", "the past-log key (waybackkey) has expired"),
    6: ("INVALID_ADMINKEY", "the admin key was refused"),
    7: ("TOO_OLD_ADMINKEY", "the admin key has expired"),
    8: ("INVALID_THREADKEY", "the thread key was refused"),
    9: ("TOO_OLD_THREADKEY", "the thread key has expired"),
    10: ("ADMIN_CONFLICT", "the message server reported an admin conflict"),
    11: ("LEAF_NOT_ACTIVATED", "leaves are not activated for this thread"),
    12: ("LEAF_LOADING", "the thread's leaves are still loading; try again later"),
    13: ("INVALID_LANGUAGE", "the message server rejected the language"),
    14: ("INVALID_USERKEY", "the user key was refused"),
    15: ("TOO_OLD_USERKEY", "the user key has expired"),
    16: ("CONFLICT_USERKEY_AND_OTHERKEY", "a user key was sent together with another key"),
    17: ("USER_CONFLICT", "the message server reported a user conflict"),
}
WAYBACKKEY_CODES = frozenset({4, 5})
THREADKEY_CODES = frozenset({8, 9})
USERKEY_CODES = frozenset({14, 15})


@dataclass(frozen=True)
class FlvInfo:
    """What getflv says about a video and the viewer."""

    thread_id: str
    message_server: str
    duration_s: int | None = None
    optional_thread_id: str | None = None
    needs_key: bool = False
    user_id: str | None = None
    is_premium: bool = False
    userkey: str | None = None

    def threads(self) -> tuple[ThreadRef, ...]:
        """The threads to collect. A key-protected thread's ordinary companion is
        ``optional_thread_id``; owner comments live on the ordinary thread
        (protocol.md §2.3, §5)."""
        refs = [
            ThreadRef(
                self.thread_id,
                "main",
                "community" if self.needs_key else "default",
                self.needs_key,
            )
        ]
        owner_thread, owner_needs_key = self.thread_id, self.needs_key
        if self.optional_thread_id:
            refs.append(ThreadRef(self.optional_thread_id, "main", "default", False))
            owner_thread, owner_needs_key = self.optional_thread_id, False
        refs.insert(0, ThreadRef(owner_thread, "owner", "owner", owner_needs_key))
        return tuple(refs)


@dataclass(frozen=True)
class Packet:
    """A parsed message-server answer."""

    threads: list[ThreadStatus]
    comments: list[Comment]


# --- pure parsers -------------------------------------------------------------------------


def _form(text: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(text.strip(), keep_blank_values=True).items()}


def parse_getflv(text: str, video_id: str = "") -> FlvInfo:
    """Parse getflv's ``key=value&…`` answer; raise the matching error for closed/error/deleted."""
    fields = _form(text)
    label = video_id or "this video"
    if fields.get("closed") == "1":
        raise LoginRequired(
            f"getflv says the session is not logged in: {label} needs a login (run `nico login`)"
        )
    if "deleted" in fields and fields["deleted"] not in ("", "0"):
        code = int_or_none(fields["deleted"])
        reason = DELETED_REASONS.get(code, f"cannot be read (deleted={fields['deleted']})")
        raise VideoUnavailable(f"{label} {reason}")
    if "error" in fields:
        if fields["error"] == "invalid_thread":
            raise VideoNotFound(f"{label} was not found (getflv: invalid_thread)")
        raise Refused(f"getflv refused {label}: {fields['error']}")
    if not fields.get("thread_id") or not fields.get("ms"):
        raise BadAnswer(f"getflv's answer for {label} has no thread_id or message server")
    if http_url(fields["ms"]) is None:
        raise BadAnswer(
            f"getflv's answer for {label} names a message server that is not an http(s) address"
        )
    for name in ("thread_id", "optional_thread_id"):
        value = fields.get(name) or "0"
        if not (value.isascii() and value.isdigit() and len(value) <= 32):
            raise BadAnswer(f"getflv's answer for {label} has a {name} that is not a number")
    return FlvInfo(
        thread_id=fields["thread_id"],
        message_server=fields["ms"],
        duration_s=int_or_none(fields.get("l")),
        optional_thread_id=fields.get("optional_thread_id") or None,
        needs_key=fields.get("needs_key") == "1",
        user_id=fields.get("user_id") or None,
        is_premium=fields.get("is_premium") == "1",
        userkey=fields.get("userkey") or None,
    )


def parse_threadkey(text: str) -> tuple[str, str] | None:
    """``threadkey=…&force_184=…`` → (threadkey, force_184); an empty answer means no key."""
    fields = _form(text)
    if not fields.get("threadkey"):
        return None
    return fields["threadkey"], fields.get("force_184", "0")


def parse_waybackkey(text: str) -> str | None:
    """``waybackkey=…`` → the key; empty means past logs are not allowed for this session."""
    return _form(text).get("waybackkey") or None


def refuse_dtd(data: bytes, what: str) -> None:
    """A DTD is the door to XXE and entity bombs: refuse it before any parser sees it."""
    if declares_dtd(data):
        raise BadAnswer(f"{what} declares a DTD; refusing to read it")


def parse_packet(data: bytes, *, default_fork: str = "main") -> Packet:
    """Parse a message-server ``<packet>``.

    Chats without a ``fork`` attribute belong to ``default_fork`` (the fork that was asked for).
    Duplicate chats (same thread, fork and no) collapse to the first; deleted chats are kept.
    lxml calls `_PacketReader` element by element: no tree is built (a history is a million
    chats, so this is the hot path); entities are never resolved and nothing is fetched.
    """
    what = "the message server's answer"
    refuse_dtd(data, what)
    reader = _PacketReader(default_fork)
    parser = etree.XMLParser(target=reader, **PARSER_OPTIONS)
    try:
        etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise BadAnswer(f"{what} is not well-formed XML ({exc})") from None
    except ValueError as exc:
        raise BadAnswer(f"{what}: {exc}") from None
    if reader.root != "packet":
        raise BadAnswer(f"the message server answered <{reader.root}>, not <packet>")
    threads = reader.threads
    if reader.global_num_res:
        threads = [_replace_global(t, reader.global_num_res.get(t.thread_id)) for t in threads]
    return Packet(threads=threads, comments=reader.comments)


class _PacketReader:
    """An lxml parser target collecting a packet's threads and chats."""

    def __init__(self, default_fork: str) -> None:
        self.default_fork = default_fork
        self.root: str | None = None
        self.threads: list[ThreadStatus] = []
        self.comments: list[Comment] = []
        self.global_num_res: dict[str, int] = {}
        self._seen: set[tuple[str, str, int]] = set()
        self._chat: dict | None = None
        self._text = ""

    def start(self, tag: str, attrib: dict) -> None:
        if self.root is None:
            self.root = tag
        elif tag == "chat":
            self._chat, self._text = attrib, ""
        elif tag == "thread":
            self.threads.append(thread_status(attrib, self.default_fork))
        elif tag == "global_num_res":
            num_res = int_or_none(attrib.get("num_res"))
            if attrib.get("thread") and num_res is not None:
                self.global_num_res[attrib["thread"]] = num_res

    def data(self, text: str) -> None:
        if self._chat is not None:
            self._text += text  # one piece of text a chat, almost always

    def end(self, tag: str) -> None:
        chat = self._chat
        if chat is None or tag != "chat":
            return
        self._chat = None
        comment = chat_comment(chat, self._text, self.default_fork)
        if comment.no is None:
            raise ValueError("a <chat> has no number")
        key = (comment.thread_id, comment.fork, comment.no)
        if key not in self._seen:
            self._seen.add(key)
            self.comments.append(comment)

    def close(self) -> None:
        return None


def _replace_global(status: ThreadStatus, num_res: int | None) -> ThreadStatus:
    if num_res is None:
        return status
    return ThreadStatus(**{**status.__dict__, "global_num_res": num_res})


def build_packet(
    ref: ThreadRef,
    *,
    user_id: str | None,
    userkey: str | None = None,
    threadkey: tuple[str, str] | None = None,
    when: int | None = None,
    waybackkey: str | None = None,
    res_from: int = -PAGE_SIZE,
) -> bytes:
    """The ``<packet>`` for one thread request. Never sends ``userkey`` together with a
    threadkey or a waybackkey: the server answers that with resultcode 16."""
    attrs: dict[str, str] = {"thread": ref.thread_id}
    if ref.fork == "owner":
        attrs.update(version=OWNER_VERSION, fork=str(NUMBER_BY_FORK["owner"]))
    else:
        attrs["version"] = MAIN_VERSION
        if ref.fork != "main":
            attrs["fork"] = str(NUMBER_BY_FORK[ref.fork])
    attrs["res_from"] = str(res_from)
    if when is not None:
        attrs["when"] = str(when)
        if waybackkey:
            attrs["waybackkey"] = waybackkey
    attrs["user_id"] = user_id or ""
    if threadkey is not None:
        attrs["threadkey"], attrs["force_184"] = threadkey
    elif userkey and not waybackkey:
        attrs["userkey"] = userkey
    attrs.update(scores="1", nicoru="1")
    if ref.fork == "main":
        attrs["with_global"] = "1"
    packet = etree.Element("packet")
    etree.SubElement(packet, "thread", attrs)
    return etree.tostring(packet, encoding="UTF-8", xml_declaration=False)


def thread_id_from_watch_data(payload: dict) -> str | None:
    """The thread getflv calls ``thread_id``: the key-protected one if there is one, else the
    default thread."""
    data = unwrap_watch_data(payload) if isinstance(payload, dict) else None
    comment = data.get("comment") if isinstance(data, dict) else None
    threads = comment.get("threads") if isinstance(comment, dict) else None
    mains = [
        t
        for t in (threads if isinstance(threads, list) else [])
        if isinstance(t, dict) and t.get("fork") == 0 and type(t.get("id")) in (int, str)
    ]
    keyed = [t for t in mains if t.get("isThreadkeyRequired")]
    chosen = (keyed or mains)[:1]
    return str(chosen[0]["id"]) if chosen else None
