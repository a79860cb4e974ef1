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
from nicocomments.records import (
    FORK_BY_NUMBER,
    FORKS,
    Comment,
    Page,
    ThreadRef,
    ThreadStatus,
    VideoInfo,
)
from nicocomments.watchpage import unwrap_watch_data

log = logging.getLogger(__name__)


PAGE_SIZE = 1000


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


def parse_api_response(payload: Any) -> dict:
    """The watch data out of any of its envelopes, or the matching error.

    Accepts ``/api/watch/v3`` (``{meta, data}``), the ``server-response`` meta and
    ``?responseType=json`` (``{meta, data: {response}}``), or bare watch data.
    """
    if not isinstance(payload, dict):
        raise BadAnswer("the watch data is not a JSON object")
    data = unwrap_watch_data(payload)
    meta = payload.get("meta") if isinstance(payload.get("meta"), dict) else {}
    error_code = meta.get("errorCode") or (data or {}).get("errorCode")
    reason = (data or {}).get("reasonCode")
    status = meta.get("status") or (data or {}).get("statusCode")
    if (
        error_code
        or (isinstance(status, int) and status >= 400)
        or (data or {}).get("isCustomError")
    ):
        deleted = (data or {}).get("deletedMessage")
        raise watch_error(str(error_code or "UNKNOWN"), reason, "", deleted)
    if not isinstance(data, dict) or "comment" not in data:
        raise BadAnswer("the watch data has no comment block")
    return data


def watch_error(
    error_code: str, reason: str | None, video_id: str = "", deleted_message: str | None = None
) -> NicoError:
    label = video_id or "the video"
    if deleted_message and not reason:
        return VideoUnavailable(f"{label} was deleted ({deleted_message})")
    if reason and reason in REASON_CODES:
        kind, message = REASON_CODES[reason]
    else:
        kind, message = ERROR_CODES.get(error_code, (Refused, f"cannot be watched ({error_code})"))
        if reason:
            message += f" ({reason})"
    return kind(f"{label} {message}")


def parse_watch_data(data: dict, requested_id: str = "") -> WatchData:
    """Watch data (as `parse_api_response` returns it) → threads, server and thread key."""
    comment = data.get("comment") or {}
    nv = comment.get("nvComment")
    if not isinstance(nv, dict) or not nv.get("server") or not nv.get("threadKey"):
        raise BadAnswer(f"the watch data of {requested_id or 'the video'} has no nvComment block")
    params = nv.get("params") or {}
    labels = {
        (str(t.get("id")), FORK_BY_NUMBER.get(t.get("fork"), str(t.get("fork")))): t.get("label")
        for t in comment.get("threads") or []
        if isinstance(t, dict)
    }
    keyed = {str(t.get("id")) for t in comment.get("threads") or [] if t.get("isThreadkeyRequired")}
    refs = []
    for target in params.get("targets") or []:
        thread_id, fork = str(target.get("id")), str(target.get("fork"))
        if fork not in FORKS:
            log.info("skipping thread %s: unknown fork %r", thread_id, fork)
            continue
        refs.append(
            ThreadRef(thread_id, fork, labels.get((thread_id, fork)) or fork, thread_id in keyed)
        )
    if not refs:
        raise BadAnswer(f"the watch data of {requested_id or 'the video'} names no comment threads")
    video = data.get("video") or {}
    viewer = data.get("viewer") or {}
    return WatchData(
        video=VideoInfo(
            video_id=str(video.get("id") or requested_id),
            threads=tuple(refs),
            title=video.get("title"),
            duration_s=int_or_none(video.get("duration")),
            posted_at=_registered(video.get("registeredAt")),
            viewer_is_premium=viewer.get("isPremium") if viewer else None,
        ),
        server=str(nv["server"]).rstrip("/"),
        thread_key=str(nv["threadKey"]),
        language=str(params.get("language") or "ja-jp"),
        viewer_id=str(viewer["id"]) if viewer and viewer.get("id") is not None else None,
    )


def parse_threads(payload: Any) -> list[Page]:
    """A ``/v1/threads`` answer → one page per thread. Accepts the whole response, its
    ``data``, or the bare ``threads`` array. Comments repeated in one answer collapse (on
    thread, fork, no)."""
    threads = payload
    if isinstance(payload, dict):
        data = payload.get("data", payload)
        threads = data.get("threads") if isinstance(data, dict) else None
    if not isinstance(threads, list):
        raise BadAnswer("the comment server's answer has no threads")
    pages = []
    for thread in threads:
        if not isinstance(thread, dict):
            raise BadAnswer("a thread in the comment server's answer is not an object")
        thread_id, fork = str(thread.get("id")), str(thread.get("fork"))
        seen: set[int] = set()
        comments = []
        for raw in thread.get("comments") or []:
            comment = parse_comment(raw, thread_id, fork)
            if comment.no not in seen:
                seen.add(comment.no)
                comments.append(comment)
        status = ThreadStatus(
            thread_id, fork, comment_count=int_or_none(thread.get("commentCount"))
        )
        pages.append(Page(status, comments))
    return pages


def parse_comment(raw: dict, thread_id: str, fork: str) -> Comment:
    """One comment of a ``/v1/threads`` answer (`nicocomments.chats.v1_comment`; the server
    always names the zone of ``postedAt``, so an answer that does not is refused)."""
    try:
        return v1_comment(raw, thread_id, fork)
    except ValueError:
        raise BadAnswer("a comment in the comment server's answer lacks no or postedAt") from None


def _registered(value: Any) -> int | None:
    return None if value in (None, "") else unix_seconds(value)


def parse_error(payload: Any) -> str | None:
    """``meta.errorCode`` of an error answer, if there is one."""
    if isinstance(payload, dict) and isinstance(payload.get("meta"), dict):
        code = payload["meta"].get("errorCode")
        return str(code) if code else None
    return None


def parse_thread_key(payload: Any) -> str:
    """``{"meta":…, "data": {"threadKey": …}}`` from nvapi's keys/thread."""
    try:
        key = payload["data"]["threadKey"]
    except (KeyError, TypeError):
        raise BadAnswer("nvapi's thread-key answer has no threadKey") from None
    if not key:
        raise BadAnswer("nvapi gave an empty thread key")
    return str(key)


def load_json(data: bytes) -> Any:
    """JSON from the network: orjson, because a history is a thousand answers of a thousand
    comments and the stdlib parser takes twice as long as the rest of reading them."""
    return orjson.loads(data)
