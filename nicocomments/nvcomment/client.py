"""Today's protocol over HTTP: the fetchers, and `NvcommentClient` for one video (thread-key
renewal on EXPIRED_TOKEN, waits on TOO_MANY_REQUESTS, the guest/past-log rule).
"""

from __future__ import annotations

import json
import logging
import random
import string
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import requests

from nicocomments.config import Endpoints
from nicocomments.errors import (
    BadAnswer,
    LoginRequired,
    NicoError,
    ServerUnavailable,
    SessionExpired,
    VideoNotFound,
)
from nicocomments.http import (
    FRONTEND_HEADERS,
    SERVER_ERRORS,
    HostPacer,
    answer_json,
    maybe_json,
    retry_after,
)
from nicocomments.limits import checked_page
from nicocomments.nvcomment.parse import (
    PAGE_SIZE,
    THREAD_ERRORS,
    WatchData,
    parse_api_response,
    parse_error,
    parse_thread_key,
    parse_threads,
    parse_watch_data,
    watch_error,
)
from nicocomments.records import (
    Page,
    ThreadRef,
    VideoInfo,
)
from nicocomments.watchpage import parse_watch_page

log = logging.getLogger(__name__)


# What yt-dlp, nndownload and comment-zouryou send; text/plain avoids a CORS preflight in
# browsers and every server seen accepts it (protocol.md "Uncertain" #10).
THREADS_HEADERS = {
    **FRONTEND_HEADERS,
    "X-Client-Os-Type": "others",
    "Content-Type": "text/plain;charset=UTF-8",
}


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


# --- the client ----------------------------------------------------------------------------


class NvcommentClient:
    """Reads one video's threads through watch data and ``/v1/threads``.

    With a ``pacer`` (the one its session's requests wait on), a TOO_MANY_REQUESTS holds the
    comment server on it instead of sleeping: every client sharing that pacer waits, not just
    this one (the workers of a crawl)."""

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
        pacer: HostPacer | None = None,
    ) -> None:
        self.session = session
        self.endpoints = endpoints
        self.logged_in = logged_in
        self.rate_limit_wait = rate_limit_wait
        self.rate_limit_retries = rate_limit_retries
        self._sleep = sleep
        self.on_wait = on_wait  # told about every wait, for the user interface
        self.pacer = pacer
        self.watch: WatchData | None = None

    @property
    def requests_made(self) -> int:
        return getattr(self.session, "request_count", 0)

    def video_info(self, video_id: str) -> VideoInfo:
        self.watch = self._watch_data(video_id)
        return self.watch.video

    def _watch_data(self, video_id: str) -> WatchData:
        try:
            response = fetch_watch_api(
                self.session, self.endpoints, video_id, guest=not self.logged_in
            )
        except ServerUnavailable as exc:
            # Down even after retries: the answer may still say why (MAINTENANCE).
            code = parse_error(maybe_json(exc.response)) if exc.response is not None else None
            if code:
                raise watch_error(code, None, video_id) from None
            raise
        payload = maybe_json(response)
        answered = isinstance(payload, dict) and "meta" in payload
        if answered and (response.ok or parse_error(payload)):
            return _parsed_watch_data(payload, video_id)
        log.info("watch API answered HTTP %s; trying the watch page", response.status_code)
        page = fetch_watch_page(self.session, self.endpoints, video_id)
        embedded = parse_watch_page(page.content)
        if embedded is None:
            page = fetch_watch_page(self.session, self.endpoints, video_id, as_json=True)
            embedded = maybe_json(page)
            if embedded is None:
                if page.status_code == 404:
                    raise VideoNotFound(f"{video_id} was not found")
                raise BadAnswer(
                    f"neither the watch API nor the watch page of {video_id} gave watch data "
                    f"(HTTP {page.status_code})"
                )
        return _parsed_watch_data(embedded, video_id)

    def thread_page(self, ref: ThreadRef, when: int | None = None) -> Page:
        """One request for one thread: the current window, or the last 1000 at or before
        ``when``. Renews an expired thread key once per request; waits out rate limits."""
        if self.watch is None:
            raise RuntimeError("video_info() first")
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
            if response.ok:
                for page in parse_threads(answer_json(response, "the comment server")):
                    if (page.thread.thread_id, page.thread.fork) == (ref.thread_id, ref.fork):
                        return checked_page(page, ref, self.watch.video.posted_at)
                raise BadAnswer(
                    f"the comment server's answer has no thread {ref.thread_id} ({ref.fork})"
                )
            # An error may come without JSON: a CDN's bare 429 or HTML page has no errorCode.
            code = parse_error(maybe_json(response))
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
                if self.pacer is not None:  # the next request waits it out, with everyone's
                    self.pacer.hold(urlsplit(self.watch.server).netloc, wait)
                if self.on_wait is not None:
                    self.on_wait(message)
                if self.pacer is None:
                    self._sleep(wait)
                continue
            raise self._thread_error(code, response.status_code, ref, when)

    def _renew_thread_key(self) -> None:
        video_id = self.watch.video.video_id
        log.info("thread key expired; fetching a fresh one")
        try:
            response = fetch_thread_key(self.session, self.endpoints, video_id)
            if response.ok:
                self.watch = _replace_key(
                    self.watch, parse_thread_key(answer_json(response, "nvapi"))
                )
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
        fields = {"status": status, "code": code, "thread_id": ref.thread_id}
        if code == "INVALID_TOKEN" and when is not None:
            if self.logged_in:
                return SessionExpired(
                    f"{where}: the comment server refused the past-log request; "
                    "the session may have expired (run `nico login` again)",
                    **fields,
                )
            return LoginRequired(
                f"{where}: log in to read past comments (run `nico login`)", **fields
            )
        if code in THREAD_ERRORS:
            kind, message = THREAD_ERRORS[code]
            return kind(f"{where}: {message}", **fields)
        if status >= 500:
            return ServerUnavailable(
                f"{where}: the comment server answered HTTP {status}", **fields
            )
        if status == 404:
            return BadAnswer(
                f"{where}: the comment server answered HTTP 404 ({code or 'no code'})", **fields
            )
        return BadAnswer(
            f"{where}: the comment server answered HTTP {status} ({code or 'no code'})", **fields
        )


def _parsed_watch_data(payload: Any, video_id: str) -> WatchData:
    """Watch data in any envelope, or its error, naming ``video_id``."""
    return parse_watch_data(parse_api_response(payload, video_id), video_id)


def _replace_key(watch: WatchData, key: str, server: str | None = None) -> WatchData:
    return WatchData(watch.video, server or watch.server, key, watch.language, watch.viewer_id)
