"""Today's protocol: watch data + nvcomment ``POST {server}/v1/threads`` (protocol.md §2, §3).

``parse_*`` functions are pure (dicts, bytes or text in, records out); ``fetch_*`` functions do
one HTTP request; `NvcommentClient` puts them together for one video, including thread-key
refresh (EXPIRED_TOKEN), backing off on TOO_MANY_REQUESTS and the guest/past-log rule.
"""

from __future__ import annotations

import json
import logging
import random
import string
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import requests

from nicocomments.chats import int_or_none
from nicocomments.config import Endpoints
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
from nicocomments.http import SERVER_ERRORS, retry_after
from nicocomments.records import (
    FORK_BY_NUMBER,
    Comment,
    Page,
    ThreadRef,
    ThreadStatus,
    VideoInfo,
)
from nicocomments.watchpage import parse_watch_page

log = logging.getLogger(__name__)

FRONTEND_HEADERS = {"X-Frontend-Id": "6", "X-Frontend-Version": "0"}
# What yt-dlp, nndownload and comment-zouryou send; text/plain avoids a CORS preflight in
# browsers and every server seen accepts it (protocol.md "Uncertain" #10).
THREADS_HEADERS = {
    **FRONTEND_HEADERS,
    "X-Client-Os-Type": "others",
    "Content-Type": "text/plain;charset=UTF-8",
}
PAGE_SIZE = 1000

# Watch-data errors: meta.errorCode, then data.reasonCode (yt-dlp's _ERROR_MAP, protocol.md §3.1).
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
    data = payload.get("data") if "meta" in payload or "data" in payload else payload
    if isinstance(data, dict) and isinstance(data.get("response"), dict):
        data = data["response"]
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
        if fork not in ("owner", "main", "easy"):
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
            posted_at=_unix(video.get("registeredAt")),
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


_new_comment = tuple.__new__  # a Comment from a plain tuple: this runs once per comment


def parse_comment(raw: dict, thread_id: str, fork: str) -> Comment:
    try:
        commands = raw.get("commands") or ()
        comment_id = raw.get("id")
        score, nicoru = raw.get("score"), raw.get("nicoruCount")
        return _new_comment(
            Comment,
            (
                thread_id,
                fork,
                int(raw["no"]),
                int(raw.get("vposMs") or 0),
                _posted(raw["postedAt"]),
                str(raw.get("body") or ""),
                _joined(commands),
                None,
                raw.get("userId") or None,
                bool(raw.get("isPremium")),
                "184" in commands,
                False,
                None,
                int(score) if type(score) is int else int_or_none(score),
                int(nicoru) if type(nicoru) is int else int_or_none(nicoru),
                str(comment_id) if comment_id is not None else None,
                raw.get("source"),
            ),
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        raise BadAnswer("a comment in the comment server's answer lacks no or postedAt") from None


_fromisoformat = datetime.fromisoformat


def _posted(value: Any) -> int:
    """Unix seconds of a comment's ``postedAt`` (``2011-07-18T18:36:07+09:00``); the fast path
    for the string the server sends, once per comment."""
    if type(value) is str:
        moment = _fromisoformat(value)
        if moment.utcoffset() is None:
            raise ValueError(f"a timestamp without a zone: {value!r}")
        return int(moment.timestamp())
    moment = _unix(value)
    if moment is None:
        raise ValueError("a comment without postedAt")
    return moment


def _joined(commands) -> str:
    try:
        return " ".join(commands)
    except TypeError:  # a command that is not a string: say it as one
        return " ".join(str(c) for c in commands)


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


def _unix(value: Any) -> int | None:
    if value in (None, ""):
        return None
    if isinstance(value, int | float):
        return int(value)
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"a timestamp without a zone: {value!r}")
    return int(moment.timestamp())


# --- fetchers -------------------------------------------------------------------------------


def action_track_id(clock: Callable[[], float] = time.time) -> str:
    """``<10 letters/digits>_<epoch ms>``, like the site's own player."""
    letters = "".join(random.choices(string.ascii_letters + string.digits, k=10))
    return f"{letters}_{int(clock() * 1000)}"


def fetch_watch_api(
    session: requests.Session, endpoints: Endpoints, video_id: str, *, guest: bool
) -> requests.Response:
    path = f"/api/watch/{'v3_guest' if guest else 'v3'}/{video_id}"
    return session.get(
        endpoints.url("www", path),
        params={"actionTrackId": action_track_id()},
        headers=FRONTEND_HEADERS,
    )


def fetch_watch_page(
    session: requests.Session, endpoints: Endpoints, video_id: str, *, as_json: bool = False
) -> requests.Response:
    return session.get(
        endpoints.url("www", f"/watch/{video_id}"),
        params={"responseType": "json"} if as_json else None,
    )


def fetch_threads(session: requests.Session, server: str, body: dict) -> requests.Response:
    # 429 comes back to the caller: TOO_MANY_REQUESTS has its own, much longer, wait.
    return session.post(
        f"{server}/v1/threads",
        data=json.dumps(body, ensure_ascii=False).encode("utf-8"),
        headers=THREADS_HEADERS,
        retry_statuses=SERVER_ERRORS,
    )


def fetch_thread_key(
    session: requests.Session, endpoints: Endpoints, video_id: str
) -> requests.Response:
    return session.get(
        endpoints.url("nvapi", "/v1/comment/keys/thread"),
        params={"videoId": video_id},
        headers=FRONTEND_HEADERS,
    )


def load_json(data: bytes) -> Any:
    """JSON from the network: orjson, because a history is a thousand answers of a thousand
    comments and the stdlib parser takes twice as long as the rest of reading them."""
    return orjson.loads(data)


def _json(response: requests.Response, what: str) -> Any:
    try:
        return load_json(response.content)
    except orjson.JSONDecodeError:
        raise BadAnswer(f"{what} answered HTTP {response.status_code} without JSON") from None


# --- the client ----------------------------------------------------------------------------


class NvcommentClient:
    """Reads one video's threads through watch data and ``/v1/threads``."""

    protocol = "nvcomment"

    def __init__(
        self,
        session: requests.Session,
        endpoints: Endpoints,
        *,
        logged_in: bool,
        rate_limit_wait: float = 60.0,
        rate_limit_retries: int = 5,
        sleep: Callable[[float], None] = time.sleep,
        on_wait: Callable[[str], None] | None = None,
    ) -> None:
        self.session = session
        self.endpoints = endpoints
        self.logged_in = logged_in
        self.rate_limit_wait = rate_limit_wait
        self.rate_limit_retries = rate_limit_retries
        self._sleep = sleep
        self.on_wait = on_wait  # told about every wait, for the user interface
        self.watch: WatchData | None = None

    @property
    def requests_made(self) -> int:
        return getattr(self.session, "request_count", 0)

    def fetch_video(self, video_id: str) -> VideoInfo:
        self.watch = self._watch_data(video_id)
        return self.watch.video

    def _watch_data(self, video_id: str) -> WatchData:
        try:
            response = fetch_watch_api(
                self.session, self.endpoints, video_id, guest=not self.logged_in
            )
        except ServerUnavailable as exc:
            # Down even after retries: the answer may still say why (MAINTENANCE).
            code = parse_error(_maybe_json(exc.response)) if exc.response is not None else None
            if code:
                raise watch_error(code, None, video_id) from None
            raise
        payload = _maybe_json(response)
        if payload is not None and isinstance(payload, dict) and "meta" in payload:
            code = parse_error(payload)
            if code:
                data = payload.get("data") or {}
                raise watch_error(
                    code, data.get("reasonCode"), video_id, data.get("deletedMessage")
                )
            if response.ok:
                return parse_watch_data(parse_api_response(payload), video_id)
        log.info("watch API answered HTTP %s; trying the watch page", response.status_code)
        page = fetch_watch_page(self.session, self.endpoints, video_id)
        embedded = parse_watch_page(page.content) if page.content else None
        if embedded is None:
            page = fetch_watch_page(self.session, self.endpoints, video_id, as_json=True)
            embedded = _maybe_json(page)
            if embedded is None:
                if page.status_code == 404:
                    raise VideoNotFound(f"{video_id} was not found")
                raise BadAnswer(
                    f"neither the watch API nor the watch page of {video_id} gave watch data "
                    f"(HTTP {page.status_code})"
                )
        try:
            return parse_watch_data(parse_api_response(embedded), video_id)
        except NicoError as exc:
            raise type(exc)(str(exc).replace("the video", video_id, 1)) from None

    def fetch_page(self, ref: ThreadRef, when: int | None = None) -> Page:
        """One request for one thread: the current window, or the last 1000 at or before
        ``when``. Renews an expired thread key once per request; waits out rate limits."""
        if self.watch is None:
            raise RuntimeError("fetch_video() first")
        renewed = False
        waits = 0
        while True:
            body = {
                "params": {
                    "targets": [{"id": ref.thread_id, "fork": ref.fork}],
                    "language": self.watch.language,
                },
                "threadKey": self.watch.thread_key,
                "additionals": {} if when is None else {"res_from": -PAGE_SIZE, "when": when},
            }
            response = fetch_threads(self.session, self.watch.server, body)
            payload = _json(response, "the comment server")
            code = parse_error(payload) if not response.ok else None
            if response.ok:
                for page in parse_threads(payload):
                    if (page.thread.thread_id, page.thread.fork) == (ref.thread_id, ref.fork):
                        return page
                raise BadAnswer(
                    f"the comment server's answer has no thread {ref.thread_id} ({ref.fork})"
                )
            if code == "EXPIRED_TOKEN" and not renewed:
                renewed = True
                self._renew_thread_key()
                continue
            if response.status_code == 429 and code is None:
                code = "TOO_MANY_REQUESTS"
            if code == "TOO_MANY_REQUESTS" and waits < self.rate_limit_retries:
                waits += 1
                wait = retry_after(response)
                wait = self.rate_limit_wait if wait is None else wait
                message = f"the comment server says TOO_MANY_REQUESTS; waiting {wait:.0f} s"
                log.info(message)
                if self.on_wait is not None:
                    self.on_wait(message)
                self._sleep(wait)
                continue
            raise self._thread_error(code, response.status_code, ref, when)

    def _renew_thread_key(self) -> None:
        video_id = self.watch.video.video_id
        log.info("thread key expired; fetching a fresh one")
        try:
            response = fetch_thread_key(self.session, self.endpoints, video_id)
            if response.ok:
                self.watch = _replace_key(self.watch, parse_thread_key(_json(response, "nvapi")))
                return
            log.info("nvapi answered HTTP %s; reading the watch data again", response.status_code)
        except BadAnswer as exc:
            log.info("%s; reading the watch data again", exc)
        fresh = self._watch_data(video_id)
        self.watch = _replace_key(self.watch, fresh.thread_key, fresh.server)

    def _thread_error(
        self, code: str | None, status: int, ref: ThreadRef, when: int | None
    ) -> NicoError:
        where = f"thread {ref.thread_id} ({ref.fork})"
        if code == "INVALID_TOKEN" and when is not None:
            if self.logged_in:
                return SessionExpired(
                    f"{where}: the comment server refused the past-log request; "
                    "the session may have expired (run `nico login` again)"
                )
            return LoginRequired(f"{where}: log in to read past comments (run `nico login`)")
        if code in THREAD_ERRORS:
            kind, message = THREAD_ERRORS[code]
            return kind(f"{where}: {message}")
        if status >= 500:
            return ServerUnavailable(
                f"{where}: the comment server answered HTTP {status}", status=status
            )
        if status == 404:
            return BadAnswer(f"{where}: the comment server answered HTTP 404 ({code or 'no code'})")
        return BadAnswer(
            f"{where}: the comment server answered HTTP {status} ({code or 'no code'})"
        )


def _replace_key(watch: WatchData, key: str, server: str | None = None) -> WatchData:
    return WatchData(watch.video, server or watch.server, key, watch.language, watch.viewer_id)


def _maybe_json(response: requests.Response) -> Any:
    content_type = response.headers.get("Content-Type", "")
    if "json" not in content_type and response.content[:1] not in (b"{", b"["):
        return None
    try:
        return load_json(response.content)
    except orjson.JSONDecodeError:
        return None
