"""Pure parsers of today's protocol: watch data, `/v1/threads` answers, their errors."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import orjson

from nicocomments.chats import int_or_none, unix_seconds, v1_comment
from nicocomments.errors import (
    BadAnswer,
    LoginRequired,
    NicoError,
    RateLimited,
    Refused,
    ServerUnavailable,
    SessionExpired,
    VideoNotFound,
    VideoUnavailable,
)
from nicocomments.limits import TEXT_LENGTHS, http_url, posted_at_problem, shown
from nicocomments.records import (
    FORK_BY_NUMBER,
    Comment,
    Page,
    ThreadRef,
    ThreadStatus,
    VideoInfo,
    is_fork_name,
)
from nicocomments.watchpage import unwrap_watch_data

log = logging.getLogger(__name__)


PAGE_SIZE = 1000
MAX_RAW_JSON = 65536  # characters of an answer's voltageZone kept


ERROR_CODES: dict[str, tuple[type[NicoError], str]] = {
    "NOT_FOUND": (VideoNotFound, "was not found"),
    "FORBIDDEN": (Refused, "cannot be watched (forbidden)"),
    "UNAUTHORIZED": (LoginRequired, "needs a logged-in session"),
    "MAINTENANCE": (ServerUnavailable, "cannot be read: Niconico is under maintenance"),
    "INVALID_PARAMETER": (VideoNotFound, "was not found (invalid id)"),
    "UNKNOWN": (ServerUnavailable, "cannot be read: the site reported an unknown error"),
}
REASON_CODES: dict[str, tuple[type[NicoError], str]] = {
    "ADMINISTRATOR_DELETE_VIDEO": (VideoUnavailable, "was deleted by the operator"),
    "RIGHT_HOLDER_DELETE_VIDEO": (VideoUnavailable, "was deleted at the rights holder's request"),
    "DELETED_VIDEO": (VideoUnavailable, "was deleted"),
    "DELETED_CHANNEL_VIDEO": (VideoUnavailable, "was deleted from its channel"),
    "DELETED_COMMUNITY_VIDEO": (VideoUnavailable, "was deleted from its community"),
    "HIDDEN_VIDEO": (VideoUnavailable, "is private"),
    "NOT_ALLOWED": (VideoUnavailable, "is not allowed to be watched"),
    "HARMFUL_VIDEO": (LoginRequired, "is marked sensitive: it needs a logged-in session"),
    "PREMIUM_ONLY": (Refused, "is for premium members only"),
    "CHANNEL_MEMBER_ONLY": (Refused, "is for channel members only"),
    "PPV_VIDEO": (Refused, "is pay-per-view: it must be bought first"),
    "DOMESTIC_VIDEO": (Refused, "can only be watched from Japan"),
    "HIGH_RISK_COUNTRY_VIDEO": (Refused, "cannot be watched from this country"),
}
# /v1/threads meta.errorCode
THREAD_ERRORS: dict[str, tuple[type[NicoError], str]] = {
    "INVALID_TOKEN": (LoginRequired, "the comment server refused the thread key"),
    "EXPIRED_TOKEN": (SessionExpired, "the thread key expired and could not be renewed"),
    "TOO_MANY_REQUESTS": (RateLimited, "the comment server keeps answering TOO_MANY_REQUESTS"),
    "INVALID_PARAMETER": (BadAnswer, "the comment server rejected the request parameters"),
    "UNAUTHORIZED": (LoginRequired, "the comment server wants a logged-in session"),
    "FORBIDDEN": (Refused, "the comment server refused this thread"),
    "NOT_FOUND": (VideoNotFound, "the comment server does not know this thread"),
    "MAINTENANCE": (ServerUnavailable, "the comment server is under maintenance"),
}


@dataclass(frozen=True)
class WatchData:
    """The parts of watch data nico uses."""

    video: VideoInfo
    server: str  # nvComment.server
    thread_key: str
    language: str = "ja-jp"
    viewer_id: str | None = None


# --- pure parsers -------------------------------------------------------------------------


def parse_api_response(payload: Any, video_id: str = "") -> dict:
    """The watch data out of any of its envelopes, or the matching error (naming ``video_id``).

    Accepts ``/api/watch/v3`` (``{meta, data}``), the ``server-response`` meta and
    ``?responseType=json`` (``{meta, data: {response}}``), or bare watch data.
    """
    if not isinstance(payload, dict):
        raise BadAnswer("the watch data is not a JSON object")
    data = unwrap_watch_data(payload)
    meta = _object(payload.get("meta"))
    fields = _object(data)
    error_code = _text(meta.get("errorCode")) or _text(fields.get("errorCode"))
    reason = _text(fields.get("reasonCode"))
    status = meta.get("status") or fields.get("statusCode")
    if error_code or (type(status) is int and status >= 400) or fields.get("isCustomError") is True:
        deleted = _text(fields.get("deletedMessage"))
        raise watch_error(error_code or "UNKNOWN", reason, video_id, deleted)
    if not isinstance(data, dict) or not isinstance(data.get("comment"), dict):
        raise BadAnswer("the watch data has no comment block")
    return data


def watch_error(
    error_code: str, reason: str | None, video_id: str = "", deleted_message: str | None = None
) -> NicoError:
    """The error watch data reports (its ``errorCode`` and ``reasonCode``, by `ERROR_CODES`
    and `REASON_CODES`), naming the video; the server's code stays on it as ``code``."""
    label = video_id or "the video"
    fields = {"code": reason or error_code, "video_id": video_id or None}
    if deleted_message and not reason:
        return VideoUnavailable(f"{label} was deleted ({deleted_message[:200]})", **fields)
    if reason and reason in REASON_CODES:
        kind, message = REASON_CODES[reason]
    else:
        kind, message = ERROR_CODES.get(
            error_code, (Refused, f"cannot be watched ({error_code[:60]})")
        )
        if reason:
            message += f" ({reason[:60]})"
    return kind(f"{label} {message}", **fields)


def parse_watch_data(data: dict, requested_id: str = "") -> WatchData:
    """Watch data (as `parse_api_response` returns it) → threads, server and thread key.

    Every value is checked for its type before it is used: a server that sends a number for
    the thread key, a string for the targets or a ``file:`` URL for the comment server gets a
    `BadAnswer`, never a crash (nor a request to that URL)."""
    label = f"the watch data of {requested_id or 'the video'}"
    comment = _object(data.get("comment"))
    nv = comment.get("nvComment")
    if not isinstance(nv, dict) or not nv.get("server") or not nv.get("threadKey"):
        raise BadAnswer(f"{label} has no nvComment block")
    server = http_url(nv["server"])
    if server is None:
        raise BadAnswer(f"{label} names a comment server that is not an http(s) address")
    thread_key = nv["threadKey"]
    if not isinstance(thread_key, str):
        raise BadAnswer(f"{label} has a thread key that is not a string")
    params = nv.get("params") if nv.get("params") is not None else {}
    targets = params.get("targets") if isinstance(params, dict) else None
    if not isinstance(targets, list | None) or not isinstance(params, dict):
        raise BadAnswer(f"{label} lists its comment threads in a shape nico cannot read")
    threads = [t for t in _list(comment.get("threads")) if isinstance(t, dict)]
    labels = {(_text(t.get("id")), _fork(t.get("fork"))): _text(t.get("label")) for t in threads}
    keyed = {_text(t.get("id")) for t in threads if t.get("isThreadkeyRequired") is True}
    refs = []
    for target in targets or []:
        if not isinstance(target, dict):
            raise BadAnswer(f"{label} lists a comment thread that is not an object")
        thread_id, fork = _text(target.get("id")), _text(target.get("fork"))
        if not thread_id or len(thread_id) > TEXT_LENGTHS["thread_id"]:
            raise BadAnswer(f"{label} lists a comment thread without a usable id")
        if not is_fork_name(fork):
            log.info("skipping thread %s: unreadable fork %s", thread_id, shown(str(fork)))
            continue
        thread_label = (labels.get((thread_id, fork)) or fork)[:32]
        refs.append(ThreadRef(thread_id, fork, thread_label, thread_id in keyed))
    if not refs:
        raise BadAnswer(f"{label} names no comment threads")
    video = _object(data.get("video"))
    viewer = _object(data.get("viewer"))
    video_id = _text(video.get("id")) or requested_id
    if len(video_id) > 32:
        raise BadAnswer(f"{label} gives a video id longer than 32 characters")
    premium = viewer.get("isPremium")
    return WatchData(
        video=VideoInfo(
            video_id=video_id,
            threads=tuple(refs),
            title=_text(video.get("title")),
            duration_s=int_or_none(video.get("duration")),
            posted_at=_registered(video.get("registeredAt"), label),
            viewer_is_premium=premium if isinstance(premium, bool) else None,
        ),
        server=server.rstrip("/"),
        thread_key=thread_key,
        language=_text(params.get("language")) or "ja-jp",
        viewer_id=_text(viewer.get("id")),
    )


def _object(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _text(value: Any) -> str | None:
    """A string, or a number as one; None for anything else (never the text of a list or an
    object, whose nesting may be a thousand deep)."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _fork(value: Any) -> str | None:
    """A fork as ``comment.threads`` gives it: a number (0, 1, 2) or a name."""
    if type(value) is int:
        return FORK_BY_NUMBER.get(value, str(value))
    return _text(value)


def parse_threads(payload: Any) -> list[Page]:
    """A ``/v1/threads`` answer → one page per thread. Accepts the whole response, its
    ``data``, or the bare ``threads`` array. Comments repeated in one answer collapse (on
    thread, fork, no)."""
    threads, voltage_zone = payload, None
    if isinstance(payload, dict):
        data = payload.get("data", payload)
        threads = data.get("threads") if isinstance(data, dict) else None
        zone = data.get("voltageZone") if isinstance(data, dict) else None
        if zone is not None:
            voltage_zone = _raw_json(zone)
    if not isinstance(threads, list):
        raise BadAnswer("the comment server's answer has no threads")
    pages = []
    for thread in threads:
        if not isinstance(thread, dict):
            raise BadAnswer("a thread in the comment server's answer is not an object")
        thread_id, fork = _text(thread.get("id")) or "", _text(thread.get("fork")) or ""
        seen: set[int] = set()
        comments = []
        for raw in thread.get("comments") or []:
            comment = parse_comment(raw, thread_id, fork)
            if comment.no not in seen:
                seen.add(comment.no)
                comments.append(comment)
        status = ThreadStatus(
            thread_id,
            fork,
            comment_count=int_or_none(thread.get("commentCount")),
            voltage_zone=voltage_zone,
        )
        pages.append(Page(status, comments))
    return pages


def _raw_json(value: Any) -> str | None:
    """A part of an answer kept as it came (JSON text), or None when it is too big or too deep
    to keep (`MAX_RAW_JSON`)."""
    try:
        text = orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    except (TypeError, orjson.JSONEncodeError):
        log.info("not keeping a part of the answer nested too deep")
        return None
    return text if len(text) <= MAX_RAW_JSON else None


def parse_comment(raw: dict, thread_id: str, fork: str) -> Comment:
    """One comment of a ``/v1/threads`` answer (`nicocomments.chats.v1_comment`; the server
    always names the zone of ``postedAt``, so an answer that does not is refused)."""
    try:
        return v1_comment(raw, thread_id, fork)
    except ValueError:
        raise BadAnswer("a comment in the comment server's answer lacks no or postedAt") from None


def _registered(value: Any, label: str) -> int | None:
    """``video.registeredAt``: the posting time, which ends a walk back through the history,
    so a time that cannot be right is refused rather than believed."""
    if value is None or value == "":
        return None
    try:
        seconds = unix_seconds(value)
    except (ValueError, OverflowError):
        raise BadAnswer(f"{label} has an unreadable posting time") from None
    problem = posted_at_problem(seconds)
    if problem is not None:
        raise BadAnswer(f"{label} gives {problem}")
    return seconds


def parse_error(payload: Any) -> str | None:
    """``meta.errorCode`` of an error answer, if there is one."""
    if isinstance(payload, dict) and isinstance(payload.get("meta"), dict):
        return _text(payload["meta"].get("errorCode")) or None
    return None


def parse_thread_key(payload: Any) -> str:
    """``{"meta":…, "data": {"threadKey": …}}`` from nvapi's keys/thread."""
    try:
        key = payload["data"]["threadKey"]
    except (KeyError, TypeError, IndexError):
        raise BadAnswer("nvapi's thread-key answer has no threadKey") from None
    if not isinstance(key, str) or not key:
        raise BadAnswer("nvapi gave an empty thread key, or one that is not a string")
    return key
