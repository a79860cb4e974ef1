"""The legacy protocol over HTTP: the fetchers, and `LegacyClient` for one video (with the
"key too old: fetch a fresh one and retry once" dance).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from urllib.parse import urljoin, urlsplit

import requests

from nicocomments.config import Endpoints
from nicocomments.errors import (
    BadAnswer,
    LoginRequired,
    PremiumRequired,
    ThreadError,
    VideoNotFound,
)
from nicocomments.legacy.parse import (
    PACKET_HEADERS,
    RESULTCODES,
    THREADKEY_CODES,
    USERKEY_CODES,
    WAYBACKKEY_CODES,
    FlvInfo,
    Packet,
    build_packet,
    parse_getflv,
    parse_packet,
    parse_threadkey,
    parse_waybackkey,
    thread_id_from_watch_data,
)
from nicocomments.limits import checked_page
from nicocomments.records import (
    Page,
    ThreadRef,
    ThreadStatus,
    VideoInfo,
)
from nicocomments.watchpage import parse_watch_page

log = logging.getLogger(__name__)


def fetch_getflv(session: requests.Session, endpoints: Endpoints, video_id: str) -> str:
    response = session.get(endpoints.url("flapi", f"/api/getflv/{video_id}"))
    _check(response, "getflv")
    return response.text


def fetch_threadkey(session: requests.Session, endpoints: Endpoints, thread_id: str) -> str:
    response = session.get(
        endpoints.url("flapi", "/api/getthreadkey"), params={"thread": thread_id}
    )
    _check(response, "getthreadkey")
    return response.text


def fetch_waybackkey(session: requests.Session, endpoints: Endpoints, thread_id: str) -> str:
    response = session.get(
        endpoints.url("flapi", "/api/getwaybackkey"), params={"thread": thread_id}
    )
    _check(response, "getwaybackkey")
    return response.text


def watch_page_thread_id(
    session: requests.Session, endpoints: Endpoints, video_id: str
) -> str | None:
    """The thread getflv calls ``thread_id`` of a ``so…`` video, from one request of its watch
    page (and its parse): getflv never knew ``so…`` ids, so old clients followed the page's
    redirect to the thread number; later pages embed the watch data, which names the threads."""
    response = session.get(endpoints.url("www", f"/watch/{video_id}"), allow_redirects=False)
    location = response.headers.get("Location")
    if response.is_redirect and location:
        last = urlsplit(urljoin(response.url, location)).path.rstrip("/").rsplit("/", 1)[-1]
        return last if last.isdigit() else None
    if response.status_code != 200:
        return None
    embedded = parse_watch_page(response.content)
    return thread_id_from_watch_data(embedded) if embedded else None


def fetch_packet(session: requests.Session, message_server: str, packet: bytes) -> bytes:
    response = session.post(message_server, data=packet, headers=PACKET_HEADERS)
    _check(response, "the message server")
    return response.content


def _check(response: requests.Response, what: str) -> None:
    if response.status_code == 404:
        raise BadAnswer(f"{what} answered HTTP 404: is the endpoint URL right?", status=404)
    if response.status_code >= 400:
        raise BadAnswer(f"{what} answered HTTP {response.status_code}", status=response.status_code)


# --- the client ----------------------------------------------------------------------------


class LegacyClient:
    """Reads one video's threads through the legacy protocol."""

    protocol = "legacy"

    def __init__(self, session: requests.Session, endpoints: Endpoints) -> None:
        self.session = session
        self.endpoints = endpoints
        self.flv: FlvInfo | None = None
        self._video_id = ""
        self.on_wait: Callable[[str], None] | None = None  # no waits of its own: HTTP's retries
        self._threadkeys: dict[str, tuple[str, str]] = {}
        self._waybackkeys: dict[str, str | None] = {}

    @property
    def requests_made(self) -> int:
        return getattr(self.session, "request_count", 0)

    def video_info(self, video_id: str) -> VideoInfo:
        self._video_id = video_id
        self.flv = self._getflv(video_id)
        return VideoInfo(
            video_id=video_id,
            threads=self.flv.threads(),
            duration_s=self.flv.duration_s,
            viewer_is_premium=self.flv.is_premium,
        )

    def _getflv(self, video_id: str) -> FlvInfo:
        try:
            return parse_getflv(fetch_getflv(self.session, self.endpoints, video_id), video_id)
        except VideoNotFound:
            if not video_id.startswith("so"):
                raise
        thread_id = watch_page_thread_id(self.session, self.endpoints, video_id)
        if thread_id is None:
            raise VideoNotFound(f"{video_id} was not found (getflv: invalid_thread)")
        log.info("%s resolved to thread %s through the watch page", video_id, thread_id)
        return parse_getflv(fetch_getflv(self.session, self.endpoints, thread_id), video_id)

    def thread_page(self, ref: ThreadRef, when: int | None = None) -> Page:
        """One request for ``ref``: the current window, or the last 1000 at or before ``when``.

        A refused or expired key is fetched afresh once and the request retried."""
        if self.flv is None:
            raise RuntimeError("video_info() first")
        refreshed: set[str] = set()
        while True:
            packet = build_packet(
                ref,
                user_id=self.flv.user_id,
                userkey=self.flv.userkey,
                threadkey=self._threadkey(ref) if ref.needs_key else None,
                when=when,
                waybackkey=self._waybackkey(ref.thread_id) if when is not None else None,
            )
            answer = parse_packet(
                fetch_packet(self.session, self.flv.message_server, packet),
                default_fork=ref.fork,
            )
            status = self._status_for(answer, ref)
            code = status.resultcode
            if code == 1 and ref.fork == "owner":
                # getflv cannot tell whether a video has owner comments: asking is the only way.
                return Page(thread=status, comments=[])
            if code == 0:
                comments = [
                    c
                    for c in answer.comments
                    if c.thread_id == ref.thread_id and c.fork == ref.fork
                ]
                return checked_page(Page(thread=status, comments=comments), ref)
            kind = self._refresh_kind(code)
            if kind == "waybackkey" and self._waybackkeys.get(ref.thread_id, "") is None:
                raise PremiumRequired(
                    "this server keeps past logs for premium members: getwaybackkey gave this "
                    "account no key, and the message server wants one"
                )
            if kind is None or kind in refreshed:
                raise _thread_error(code, ref)
            refreshed.add(kind)
            log.info("thread %s: %s; fetching a fresh key", ref.thread_id, RESULTCODES[code][1])
            if kind == "threadkey":
                self._threadkeys.pop(ref.thread_id, None)
            elif kind == "waybackkey":
                self._waybackkeys.pop(ref.thread_id, None)
            else:
                self.flv = self._getflv(self._video_id)

    @staticmethod
    def _refresh_kind(code: int) -> str | None:
        if code in THREADKEY_CODES:
            return "threadkey"
        if code in WAYBACKKEY_CODES:
            return "waybackkey"
        if code in USERKEY_CODES:
            return "userkey"
        return None

    @staticmethod
    def _status_for(answer: Packet, ref: ThreadRef) -> ThreadStatus:
        for status in answer.threads:
            if status.thread_id == ref.thread_id:
                return status
        raise BadAnswer(f"the message server's answer has no <thread> for thread {ref.thread_id}")

    def _threadkey(self, ref: ThreadRef) -> tuple[str, str]:
        if ref.thread_id not in self._threadkeys:
            key = parse_threadkey(fetch_threadkey(self.session, self.endpoints, ref.thread_id))
            if key is None:
                raise LoginRequired(
                    f"getthreadkey gave no key for thread {ref.thread_id}; "
                    "this official video needs a logged-in session (run `nico login`)"
                )
            self._threadkeys[ref.thread_id] = key
        return self._threadkeys[ref.thread_id]

    def _waybackkey(self, thread_id: str) -> str | None:
        """The past-log key, or None when getwaybackkey gives none: servers stopped requiring
        it around 2019 (protocol.md §1.3), so nico then asks without one; a server that still
        wants it answers resultcode 4, which `fetch_page` reports."""
        if thread_id not in self._waybackkeys:
            key = parse_waybackkey(fetch_waybackkey(self.session, self.endpoints, thread_id))
            if key is None:
                log.info("getwaybackkey gave no key for thread %s; asking without one", thread_id)
            self._waybackkeys[thread_id] = key
        return self._waybackkeys[thread_id]


def _thread_error(code: int, ref: ThreadRef) -> ThreadError:
    name, message = RESULTCODES.get(code, ("UNKNOWN", f"unknown resultcode {code}"))
    return ThreadError(
        f"thread {ref.thread_id} ({ref.fork}): {message} (resultcode {code} {name})",
        code=code,
        thread_id=ref.thread_id,
    )
