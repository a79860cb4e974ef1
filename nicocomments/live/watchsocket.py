"""The watch WebSocket (live.md §1.2): it hands out the message server's view URI.

Two parts, kept apart so the protocol is testable without a socket:

* `WatchConversation` is the conversation alone (sans-I/O): the JSON text to send first
  (``startWatching``), the replies to each server message (``pong`` for ``ping``), the
  `MessageServer` once ``messageServer`` arrives, and a typed error for ``disconnect``.
* `ask_message_server` (not a `fetch_*`: it returns the conversation's result, not a raw
  answer) is the thin transport: open the socket, run the conversation, close —
  all within one deadline.

The client is ``websockets``' synchronous one: it is maintained, has no dependencies of its
own, takes a timeout on every receive, and its sans-I/O server side lets the emulator serve the
same protocol from its own loopback server.

The WebSocket address carries the viewer's audience token in its query string, so errors and
logs name its host and path only.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from websockets.exceptions import (
    ConnectionClosed,
    InvalidHandshake,
    InvalidStatus,
    InvalidURI,
)
from websockets.sync.client import connect as websocket_connect

from nicocomments.errors import (
    BadAnswer,
    NetworkError,
    NicoError,
    RateLimited,
    Refused,
    ServerUnavailable,
)
from nicocomments.http import USER_AGENT
from nicocomments.records import JST

log = logging.getLogger(__name__)

START_WATCHING = {"type": "startWatching", "data": {"reconnect": False}}
PONG = {"type": "pong"}
KEEP_SEAT = {"type": "keepSeat"}  # sent periodically while recording (live.md §1.2)
DEFAULT_TIMEOUT = 30.0  # seconds from connecting to the messageServer answer
CLOSE_TIMEOUT = 2.0  # seconds to wait for the server's half of the closing handshake


class ProgramEnded(Refused):
    """The watch WebSocket said ``END_PROGRAM``."""


# disconnect.data.reason → (error, what it means). Reasons as the site's own player names them.
DISCONNECT_REASONS: dict[str, tuple[type[NicoError], str]] = {
    "END_PROGRAM": (ProgramEnded, "the program has ended"),
    "TAKEOVER": (Refused, "another viewer of this account took over the seat"),
    "NO_PERMISSION": (Refused, "this viewer may not watch the program"),
    "PING_TIMEOUT": (NetworkError, "the server stopped hearing from us"),
    "TOO_MANY_CONNECTIONS": (RateLimited, "this account has too many connections open"),
    "TOO_MANY_WATCHINGS": (RateLimited, "this account is watching too many programs"),
    "CROWDED": (ServerUnavailable, "the program is full"),
    "MAINTENANCE_IN": (ServerUnavailable, "Niconico Live is under maintenance"),
    "SERVICE_TEMPORARILY_UNAVAILABLE": (ServerUnavailable, "the service is unavailable for now"),
}
UNKNOWN_REASON = (ServerUnavailable, "a reason nico does not know")
# A refused WebSocket handshake, by HTTP status.
HANDSHAKE_STATUSES: dict[int, type[NicoError]] = {
    401: Refused,
    403: Refused,
    404: Refused,
    429: RateLimited,
    500: ServerUnavailable,
    502: ServerUnavailable,
    503: ServerUnavailable,
    504: ServerUnavailable,
}


@dataclass(frozen=True)
class MessageServer:
    """What ``messageServer`` says: where the comments are."""

    view_uri: str
    vpos_base_time: int | None = None  # Unix seconds
    hashed_user_id: str | None = None  # only when logged in


def disconnect_error(reason: str) -> NicoError:
    """The error for a ``disconnect`` message, naming its reason."""
    kind, meaning = DISCONNECT_REASONS.get(reason, UNKNOWN_REASON)
    return kind(f"the watch WebSocket disconnected: {reason} ({meaning})")


class WatchConversation:
    """The watch WebSocket's messages, without the socket. Send `opening()`, then hand every
    text the server sends to `receive` and send what it returns, until `message_server` is
    set. `receive` raises a `NicoError` for ``disconnect``, ``error`` and garbage."""

    def __init__(self, *, reconnect: bool = False) -> None:
        self.reconnect = reconnect
        self.message_server: MessageServer | None = None
        self.keep_interval: float | None = None  # seat.keepIntervalSec: how often to keepSeat

    def opening(self) -> list[str]:
        start = {**START_WATCHING, "data": {"reconnect": self.reconnect}}
        return [json.dumps(start)]

    def receive(self, text: str | bytes) -> list[str]:
        message = _message(text)
        kind = message["type"]
        data = message.get("data")
        if kind == "ping":
            return [json.dumps(PONG)]
        if kind == "messageServer":
            self.message_server = parse_message_server(data)
        elif kind == "seat":
            seconds = data.get("keepIntervalSec") if isinstance(data, dict) else None
            if isinstance(seconds, int | float) and not isinstance(seconds, bool) and seconds > 0:
                self.keep_interval = float(seconds)
        elif kind == "disconnect":
            reason = data.get("reason") if isinstance(data, dict) else None
            raise disconnect_error(reason if isinstance(reason, str) and reason else "no reason")
        elif kind == "error":
            code = data.get("code") if isinstance(data, dict) else None
            raise ServerUnavailable(f"the watch WebSocket reported an error: {code or 'no code'}")
        else:
            log.debug("ignoring a %r message from the watch WebSocket", kind)
        return []


def parse_message_server(data: Any) -> MessageServer:
    """The ``data`` of a ``messageServer`` message."""
    if not isinstance(data, dict):
        raise BadAnswer("the watch WebSocket's messageServer message has no data")
    view_uri = data.get("viewUri")
    if not isinstance(view_uri, str) or not view_uri.startswith(("https://", "http://")):
        raise BadAnswer("the watch WebSocket's messageServer message has no viewUri address")
    hashed_user_id = data.get("hashedUserId")
    if not isinstance(hashed_user_id, str) or not hashed_user_id:
        hashed_user_id = None  # a guest
    return MessageServer(view_uri, _moment(data.get("vposBaseTime")), hashed_user_id)


def ask_message_server(
    web_socket_url: str,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    user_agent: str = USER_AGENT,
    connect: Callable[..., Any] = websocket_connect,
    clock: Callable[[], float] = time.monotonic,
) -> MessageServer:
    """Open the watch WebSocket, ask to start watching and return the message server, all
    within ``timeout`` seconds (plus up to `CLOSE_TIMEOUT` to close politely)."""
    where = describe_socket(web_socket_url)
    deadline = clock() + timeout
    conversation = WatchConversation()
    try:
        with connect(
            web_socket_url,
            open_timeout=timeout,
            close_timeout=CLOSE_TIMEOUT,
            user_agent_header=user_agent,
        ) as socket:
            for text in conversation.opening():
                socket.send(text)
            while conversation.message_server is None:
                remaining = deadline - clock()
                if remaining <= 0:
                    raise TimeoutError
                for reply in conversation.receive(socket.recv(timeout=remaining)):
                    socket.send(reply)
    except TimeoutError:
        raise NetworkError(f"{where} named no message server within {timeout:g} s") from None
    except ConnectionClosed as exc:
        raise NetworkError(
            f"{where} closed before naming the message server ({_close_summary(exc)})"
        ) from None
    except InvalidStatus as exc:
        status = exc.response.status_code
        if status in HANDSHAKE_STATUSES:
            kind = HANDSHAKE_STATUSES[status]
            raise kind(f"{where} refused the connection (HTTP {status})") from None
        raise BadAnswer(f"{where} answered HTTP {status} instead of opening a WebSocket") from None
    except InvalidURI:
        raise BadAnswer(f"{where} is not a WebSocket address") from None
    except InvalidHandshake:
        raise BadAnswer(f"{where} did not answer as a WebSocket server") from None
    except OSError as exc:  # refused, unreachable, reset, TLS failures
        reason = exc.strerror or type(exc).__name__
        raise NetworkError(f"could not connect to {where}: {reason}") from None
    assert conversation.message_server is not None
    return conversation.message_server


def describe_socket(url: str) -> str:
    """``the watch WebSocket host/path``: never the query, which holds the audience token."""
    parts = urlsplit(url)
    return f"the watch WebSocket {parts.netloc}{parts.path}"


def _message(text: str | bytes) -> dict[str, Any]:
    try:
        message = json.loads(text)
    except ValueError:
        raise BadAnswer("the watch WebSocket sent something that is not JSON") from None
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise BadAnswer("the watch WebSocket sent a message without a type")
    return message


def _moment(value: Any) -> int | None:
    """``vposBaseTime``: an ISO 8601 time (a time with no zone is Japan's), or Unix seconds."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=JST)
            return int(moment.timestamp())
    raise BadAnswer("the watch WebSocket's messageServer message has an unreadable vposBaseTime")


def _close_summary(exc: ConnectionClosed) -> str:
    frame = exc.rcvd
    if frame is None:
        return "no closing frame"
    return f"code {frame.code}" + (f": {frame.reason}" if frame.reason else "")


class SeatKeeper:
    """Holds the seat while a program is recorded (live.md §1.2): a watch WebSocket kept open
    in a thread of its own, answering ``ping``, sending ``keepSeat`` every ``keep_interval``
    seconds (or as often as the server's ``seat`` message asks, if that is more often), and
    setting ``ended`` when the server says ``END_PROGRAM``. Errors other than the program's
    end are logged, not raised: the recording goes on through the message server, which needs
    no seat."""

    def __init__(
        self,
        web_socket_url: str,
        ended: threading.Event,
        *,
        keep_interval: float = 30.0,
        timeout: float = DEFAULT_TIMEOUT,
        user_agent: str = USER_AGENT,
        connect: Callable[..., Any] = websocket_connect,
    ) -> None:
        self.url = web_socket_url
        self.ended = ended
        self.keep_interval = keep_interval
        self.timeout = timeout
        self.user_agent = user_agent
        self._connect = connect
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="nico-seat", daemon=True)
        self.error: NicoError | None = None

    def start(self) -> SeatKeeper:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=CLOSE_TIMEOUT + 1)

    def _run(self) -> None:
        where = describe_socket(self.url)
        conversation = WatchConversation()
        try:
            with self._connect(
                self.url,
                open_timeout=self.timeout,
                close_timeout=CLOSE_TIMEOUT,
                user_agent_header=self.user_agent,
            ) as socket:
                for text in conversation.opening():
                    socket.send(text)
                last_keep = time.monotonic()
                while not self._stop.is_set():
                    try:
                        text = socket.recv(timeout=0.2)
                    except TimeoutError:
                        text = None
                    if text is not None:
                        for reply in conversation.receive(text):
                            socket.send(reply)
                    interval = min(self.keep_interval, conversation.keep_interval or math.inf)
                    if time.monotonic() - last_keep >= interval:
                        last_keep = time.monotonic()
                        socket.send(json.dumps(KEEP_SEAT))
        except ProgramEnded:
            self.ended.set()
        except NicoError as exc:
            log.warning("%s: %s", where, exc)
            self.error = exc
        except ConnectionClosed:
            log.info("%s closed", where)
        except (OSError, InvalidHandshake, InvalidURI) as exc:
            log.warning("could not keep the seat at %s: %s", where, exc)
