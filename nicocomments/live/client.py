"""Niconico Live over HTTP and the watch WebSocket: the fetchers one program needs (live.md §1, §5).

`LiveClient` reads the watch page (``NICO_LIVE_URL``), reserves and starts a timeshift
(``NICO_LIVE2_URL``), asks the watch WebSocket for the message server, and reads the message
server's view, segment and backward answers. The site's session goes to the watch page and the
timeshift API only; the message server (a CDN answering ``credentials: omit``) gets a session of
its own without cookies, paced at ``backward_interval`` (~10–15 ms, live.md §6). Both retry and
back off on 403 (message server only)/429/5xx like every other request (`nicocomments.http`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import requests

from nicocomments.config import Endpoints
from nicocomments.errors import (
    BadAnswer,
    LoginRequired,
    NicoError,
    PremiumRequired,
    Refused,
    VideoNotFound,
)
from nicocomments.http import RETRY_STATUSES, NicoSession, maybe_json
from nicocomments.live.parse import (
    LiveItem,
    PackedBatch,
    ReadyForNext,
    ViewEntry,
    iter_segment_items,
    iter_view_entries,
    parse_packed_segment,
)
from nicocomments.live.watch import ProgramInfo, parse_program_info
from nicocomments.live.watchsocket import DEFAULT_TIMEOUT, MessageServer, ask_message_server

log = logging.getLogger(__name__)

TIMESHIFT_HEADERS = {"X-Frontend-Id": "9"}  # live.md §5
DEFAULT_BACKWARD_INTERVAL = 0.012  # seconds between message-server requests (live.md §6)
# The CDN answers 403 when it wants a client to slow down (live.md §6): retried like 429.
MESSAGE_SERVER_RETRY = RETRY_STATUSES | {403}
# The timeshift API's errorCode → (error, message). DUPLICATED is not an error (already reserved).
TIMESHIFT_ERRORS: dict[str, tuple[type[NicoError], str]] = {
    "UNAUTHORIZED": (LoginRequired, "reserving a timeshift needs a logged-in session"),
    "NO_PERMISSION": (
        PremiumRequired,
        "the timeshift of {program} is for premium members only ({message})",
    ),
    "EXPIRED": (Refused, "the timeshift window of {program} has expired: its comments are gone"),
    "NOT_AVAILABLE": (Refused, "{program} has no timeshift: its comments cannot be read now"),
    "NOT_FOUND": (VideoNotFound, "{program} does not exist"),
    "RESERVATION_NOT_FOUND": (Refused, "the timeshift of {program} could not be reserved"),
}
ALREADY_RESERVED = "DUPLICATED"
FOLLOW_NEXT = 3  # ?at=now answers naming only `next`: how many to follow for the present


class LiveClient:
    def __init__(
        self,
        session: NicoSession,
        message_session: NicoSession,
        endpoints: Endpoints,
        *,
        socket_timeout: float = DEFAULT_TIMEOUT,
        fetch_socket: Callable[..., MessageServer] = ask_message_server,
    ) -> None:
        self.session = session
        self.message_session = message_session
        self.endpoints = endpoints
        self.socket_timeout = socket_timeout
        self._fetch_socket = fetch_socket

    @property
    def requests_made(self) -> int:
        return self.session.request_count + self.message_session.request_count

    # -- the site --------------------------------------------------------------------------------

    def program(self, program_id: str) -> ProgramInfo:
        """The watch page's program (GET live.nicovideo.jp/watch/lv…)."""
        response = self.session.get(self.endpoints.url("live", f"/watch/{program_id}"))
        if response.status_code == 404:
            raise VideoNotFound(f"{program_id} does not exist (the watch page is 404)")
        if response.status_code != 200:
            raise Refused(f"the watch page of {program_id} answered HTTP {response.status_code}")
        info = parse_program_info(response.content)
        if info.program_id != program_id:
            raise BadAnswer(f"the watch page of {program_id} describes {info.program_id}")
        return info

    def open_timeshift(self, program_id: str) -> None:
        """Reserve the program's timeshift (POST; DUPLICATED is fine) and start watching it
        (PATCH), as live.md §5 says."""
        url = self.endpoints.url("live2", f"/api/v2/programs/{program_id}/timeshift/reservation")
        for method in ("POST", "PATCH"):
            response = self.session.request(method, url, headers=TIMESHIFT_HEADERS)
            if response.status_code == 200:
                continue
            code, message = _api_error(response)
            if method == "POST" and code == ALREADY_RESERVED:
                log.info("the timeshift of %s was reserved already", program_id)
                continue
            status = response.status_code
            # No errorCode nico knows (or none readable): the HTTP status says what it can.
            fallback = LoginRequired if status == 401 else Refused
            kind, text = TIMESHIFT_ERRORS.get(
                code or "", (fallback, f"the timeshift API refused {{program}}: HTTP {status}")
            )
            raise kind(text.format(program=program_id, message=message or code), status=status)

    def message_server(self, info: ProgramInfo) -> MessageServer:
        if info.web_socket_url is None:
            raise Refused(f"{info.program_id} cannot be watched by this viewer (no WebSocket)")
        return self._fetch_socket(info.web_socket_url, timeout=self.socket_timeout)

    # -- the message server ----------------------------------------------------------------------

    def view(self, view_uri: str, at: int | None) -> list[ViewEntry]:
        """The view answer at ``at`` (None: now). ``?at=now`` may name only ``next``
        (live.md §6): then the answer at that moment is read too, so that the present's
        segments and the backward chain come with it."""
        entries = self._view(view_uri, "now" if at is None else str(at))
        for _ in range(FOLLOW_NEXT if at is None else 0):
            if any(not isinstance(e, ReadyForNext) for e in entries) or not entries:
                break
            entries = self._view(view_uri, str(entries[-1].at))  # type: ignore[union-attr]
        return entries

    def server_time(self, view_uri: str) -> int | None:
        """The message server's "now": the moment its ``?at=now`` answer points at (None
        when it names no ``next``). Walks measure the present by it, not by this machine's
        clock."""
        following = [e for e in self._view(view_uri, "now") if isinstance(e, ReadyForNext)]
        return following[0].at if following else None

    def _view(self, view_uri: str, at: str) -> list[ViewEntry]:
        response = self._get(view_uri, {"at": at})
        return list(iter_view_entries([response.content]))

    def backward(self, uri: str, program_id: str) -> PackedBatch:
        return parse_packed_segment(self._get(uri).content, program_id)

    def segment(self, uri: str, program_id: str) -> list[LiveItem]:
        return list(iter_segment_items([self._get(uri).content], program_id))

    def _get(self, uri: str, params: dict | None = None) -> requests.Response:
        response = self.message_session.get(uri, params=params, retry_statuses=MESSAGE_SERVER_RETRY)
        if response.status_code != 200:
            raise Refused(f"the message server answered HTTP {response.status_code}")
        return response


def _api_error(response: requests.Response) -> tuple[str | None, str | None]:
    """The answer's ``meta.errorCode`` and ``meta.errorMessage``; None for each that is not a
    string, or when the body is not the API's JSON object (a CDN's error page, say)."""
    body = maybe_json(response)  # orjson: a body nested past its depth is not JSON either
    meta = body.get("meta") if isinstance(body, dict) else None
    if not isinstance(meta, dict):
        return None, None
    code, message = meta.get("errorCode"), meta.get("errorMessage")
    return (code if isinstance(code, str) else None, message if isinstance(message, str) else None)
