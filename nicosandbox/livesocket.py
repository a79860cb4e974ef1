"""The Niconico Live watch WebSocket (live.md §1.2), a real WebSocket server on its own loopback
port (``websockets``' synchronous server), started and stopped with the `Sandbox`.

``ws://…/wsapi/v2/watch/lv<N>?audience_token=<token>``: the token comes from a watch page
(an unknown one: the handshake is refused with HTTP 403). The conversation: the client sends
``startWatching``; the server answers ``seat`` (keepIntervalSec), ``serverTime`` and
``messageServer`` (``viewUri``, ``vposBaseTime`` as ISO 8601 in Japan time, ``hashedUserId`` for
a logged-in viewer); then it sends ``ping`` every ``live_ping_seconds`` (the client answers
``pong``, else the next ping is ``disconnect`` PING_TIMEOUT; ``keepSeat`` is taken silently),
and when a program that was on air ends,
``disconnect`` with reason ``END_PROGRAM`` and closes.

Faults (`Settings.live_socket`): ``silent`` takes ``startWatching`` and never answers;
``close`` closes as soon as the socket is open.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve

from nicosandbox.routes.mpn import view_token
from nicosandbox.state import State

log = logging.getLogger(__name__)

JST = timezone(timedelta(hours=9))
KEEP_INTERVAL_S = 30  # what `seat` asks for (live_ping_seconds shorter makes it that)
_TICK = 0.1


class LiveSocketServer:
    def __init__(self, state: State, host: str = "127.0.0.1") -> None:
        self.state = state
        self.host = host
        self._server: Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> str:
        self._server = serve(
            self._handle,
            self.host,
            0,
            process_request=self._check,
            compression=None,
            ping_interval=None,
            server_header="nginx",
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="nico-sandbox-live-socket", daemon=True
        )
        self._thread.start()
        port = self._server.socket.getsockname()[1]
        host = self.host if ":" not in self.host else f"[{self.host}]"
        return f"ws://{host}:{port}"

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _token(self, path: str) -> tuple[str, str | None] | None:
        parts = urlsplit(path)
        token = parse_qs(parts.query).get("audience_token", [""])[0]
        with self.state.live.lock:
            entry = self.state.live.tokens.get(token)
        if entry is None or not parts.path.rstrip("/").endswith(f"/watch/{entry[0]}"):
            return None
        return entry

    def _check(self, connection: ServerConnection, request):  # type: ignore[no-untyped-def]
        self.state.stats.count_request("livesocket", request.headers.get("User-Agent", ""))
        if self._token(request.path) is None:
            return connection.respond(403, "Forbidden\n")
        return None

    def _handle(self, connection: ServerConnection) -> None:
        entry = self._token(connection.request.path if connection.request else "")
        if entry is None:
            return
        program_id, user_id = entry
        program = self.state.world.live_programs[program_id]
        mode = self.state.settings.live_socket
        try:
            if mode == "close":
                connection.close(1011, "")
                return
            on_air = program.status(self.state.clock()) == "ON_AIR"
            started = False
            awaiting_pong = False
            last_ping = time.monotonic()
            while True:
                try:
                    text = connection.recv(timeout=_TICK)
                except TimeoutError:
                    text = None
                if text is not None:
                    message = _message(text)
                    kind = message.get("type")
                    with self.state.live.lock:
                        self.state.live.socket_messages[str(kind)] += 1
                    if kind == "pong":
                        awaiting_pong = False
                    if kind == "startWatching" and not started:
                        started = True
                        if mode == "silent":
                            continue
                        for reply in self._opening(program, user_id):
                            connection.send(json.dumps(reply, ensure_ascii=False))
                if not started or mode == "silent":
                    continue
                if on_air and self.state.clock() >= program.end_time:
                    connection.send(
                        json.dumps({"type": "disconnect", "data": {"reason": "END_PROGRAM"}})
                    )
                    connection.close()
                    return
                if time.monotonic() - last_ping >= self.state.settings.live_ping_seconds:
                    if awaiting_pong:  # the last ping went unanswered
                        reason = {"type": "disconnect", "data": {"reason": "PING_TIMEOUT"}}
                        connection.send(json.dumps(reason))
                        connection.close()
                        return
                    last_ping = time.monotonic()
                    awaiting_pong = True
                    connection.send(json.dumps({"type": "ping"}))
        except ConnectionClosed:
            return

    def _opening(self, program, user_id: str | None) -> list[dict]:
        view = view_token(self.state, program.program_id)
        base = datetime.fromtimestamp(program.vpos_base_time, JST).isoformat()
        data = {"viewUri": f"{self.state.url('mpn')}/api/view/v4/{view}", "vposBaseTime": base}
        if user_id is not None:
            digest = hashlib.sha256(f"{program.program_id}/{user_id}".encode()).hexdigest()
            data["hashedUserId"] = f"a:{digest[:16]}"
        now = datetime.fromtimestamp(self.state.clock(), JST).isoformat()
        return [
            {"type": "seat", "data": {"keepIntervalSec": self._keep_interval()}},
            {"type": "serverTime", "data": {"currentMs": now}},
            {"type": "messageServer", "data": data},
        ]

    def _keep_interval(self) -> float:
        return min(KEEP_INTERVAL_S, self.state.settings.live_ping_seconds)


def _message(text: str | bytes) -> dict:
    try:
        message = json.loads(text)
    except ValueError:
        return {}
    return message if isinstance(message, dict) else {}
