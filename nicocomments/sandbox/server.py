"""`Sandbox`: the emulator as a real HTTP server on loopback, one prefix per real host.

    /flapi/…    flapi.nicovideo.jp      (getflv, getthreadkey, getwaybackkey)
    /account/…  account.nicovideo.jp    (login, two-factor)
    /www/…      www.nicovideo.jp        (login check, watch pages)
    /nvapi/…    nvapi.nicovideo.jp      (nothing yet: the nvcomment protocol comes later)
    /msg/…      the legacy message server named by getflv's ``ms``

Route handlers take a `web.Request` and return a `web.Response`; `Sandbox.routes` maps a
prefix to its handler, so a new protocol is one more entry.
"""

from __future__ import annotations

import itertools
import logging
import socket
import threading
import time
from collections.abc import Callable
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from nicocomments.config import ENDPOINT_ENV_VARS
from nicocomments.sandbox import web
from nicocomments.sandbox.account import AccountRoutes, Sessions
from nicocomments.sandbox.faults import ROUTE_GROUPS, FaultPlan, Injected, Injections
from nicocomments.sandbox.flapi import FlapiRoutes
from nicocomments.sandbox.keys import KeyStore
from nicocomments.sandbox.msgserver import MessageServerRoutes
from nicocomments.sandbox.stats import Stats
from nicocomments.sandbox.world import World, build_world
from nicocomments.sandbox.www import WwwRoutes

logger = logging.getLogger(__name__)

_ERROR_PAGES = {
    "http500": (500, "Internal Server Error"),
    "http503": (503, "Service Unavailable"),
    "http429": (429, "Too Many Requests"),
}


class Sandbox:
    """A loopback Niconico (legacy protocol) with seeded data, faults, stats and knobs.

    Knobs are plain attributes, read on every request, so a test may change them at any time.
    """

    def __init__(
        self,
        world: World | None = None,
        *,
        seed: int = 0,
        faults: FaultPlan | None = None,
        key_ttl: float = 600,
        key_max_uses: int | None = None,
        shuffle_chats: bool = False,
        past_logs_premium_only: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
        userkey_ttl: float | None = None,
        mfa_ttl: float = 600,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.world = world if world is not None else build_world(seed)
        self.seed = seed
        self.faults = faults
        self.key_ttl = key_ttl
        self.userkey_ttl = userkey_ttl  # None: 3 × key_ttl (the default 1800 s of real userkeys)
        self.key_max_uses = key_max_uses
        self.shuffle_chats = shuffle_chats
        self.past_logs_premium_only = past_logs_premium_only
        self.mfa_ttl = mfa_ttl
        self.clock = clock  # Unix seconds; tests may swap it to age keys and two-factor steps
        self.host = host
        self.port = port
        self.stats = Stats()
        self.sessions = Sessions()
        self.keys = KeyStore(lambda: self.clock())
        self._injections = Injections()
        self._serial = itertools.count(1)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.routes: dict[str, Callable[[web.Request], web.Response]] = {
            "flapi": FlapiRoutes(self).handle,
            "account": AccountRoutes(self).handle,
            "www": WwwRoutes(self).handle,
            "nvapi": lambda request: web.not_found(),
            "msg": MessageServerRoutes(self).handle,
        }

    # -- knobs --------------------------------------------------------------------------------

    @property
    def faults(self) -> FaultPlan:
        return self._faults

    @faults.setter
    def faults(self, plan: FaultPlan | None) -> None:
        self._faults = plan if plan is not None else FaultPlan()

    @property
    def userkey_lifetime(self) -> float:
        return self.userkey_ttl if self.userkey_ttl is not None else 3 * self.key_ttl

    # -- addresses ----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the sandbox is not started")
        host = self.host if ":" not in self.host else f"[{self.host}]"
        return f"http://{host}:{self._server.server_address[1]}"

    @property
    def account_url(self) -> str:
        return f"{self.url}/account"

    @property
    def www_url(self) -> str:
        return f"{self.url}/www"

    def endpoints(self) -> dict[str, str]:
        """The four NICO_*_URL variables pointing at this sandbox."""
        return {var: f"{self.url}/{name}" for name, var in ENDPOINT_ENV_VARS.items()}

    def env(self) -> dict[str, str]:
        """Same as `endpoints`, to merge into a subprocess environment."""
        return dict(self.endpoints())

    # -- control ------------------------------------------------------------------------------

    def start(self) -> Sandbox:
        if self._server is None:
            self._server = _Server((self.host, self.port), _Handler, self)
            self._thread = threading.Thread(
                target=self._server.serve_forever, args=(0.05,), name="nico-sandbox", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        if self._thread is not None:
            server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        server.close_connections()
        server.server_close()

    def serve_forever(self, ready: Callable[[Sandbox], None] | None = None) -> None:
        """Serve in the calling thread until Ctrl-C, then close cleanly and return.

        `ready` is called once the port is bound (to print `url` or `env()`, say).
        """
        if self._server is None:
            self._server = _Server((self.host, self.port), _Handler, self)
        if ready is not None:
            ready(self)
        try:
            if self._thread is not None:  # already started: wait for Ctrl-C
                while self._thread.is_alive():
                    self._thread.join(0.5)
            else:
                self._server.serve_forever(0.1)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset_stats(self) -> None:
        self.stats.reset()

    def expire_sessions(self) -> None:
        """Invalidate every ``user_session`` handed out so far."""
        self.sessions.expire_all()

    def inject(
        self,
        target: str,
        body: bytes,
        status: int = 200,
        content_type: str = web.XML,
        times: int = 1,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        """Answer the next `times` requests to route group `target` with exactly this."""
        if target not in self.routes and target not in ROUTE_GROUPS:
            raise ValueError(f"unknown route group {target!r}")
        answer = Injected(bytes(body), status, content_type, tuple(headers))
        self._injections.add(target, answer, times)

    # -- one request --------------------------------------------------------------------------

    def _serve(self, handler: _Handler, body: bytes) -> None:
        parts = urlsplit(handler.path)
        first, _, rest = parts.path.lstrip("/").partition("/")
        group = first if first in self.routes else "other"
        self.stats.count_request(group, handler.headers.get("User-Agent", ""))
        injected = self._injections.pop(group)
        if injected is not None:
            self.stats.count_injected(group)
            response = web.Response(injected.status, injected.body, injected.content_type)
            response.headers.extend(injected.headers)
            handler.send(response)
            return
        plan = self.faults
        fault = plan.decide(group)
        if fault is not None:
            self.stats.count_fault(group, fault)
        if fault in _ERROR_PAGES:
            status, title = _ERROR_PAGES[fault]
            response = web.page(title, f"<h1>{status} {title}</h1>", status=status)
            if fault == "http429":
                response.headers.append(("Retry-After", str(plan.retry_after)))
            handler.send(response)
            return
        if fault == "drop":
            handler.close_connection = True  # nothing written: the client sees the socket close
            return
        if fault == "slow":
            time.sleep(plan.slow_seconds)
        request = web.Request(
            method=handler.command,
            group=group,
            path="/" + rest if group != "other" else parts.path,
            query={k: v for k, v in reversed(parse_qsl(parts.query, keep_blank_values=True))},
            headers=handler.headers,
            body=body,
            cookies=web.parse_cookies(handler.headers.get("Cookie")),
            serial=next(self._serial),
        )
        route = self.routes.get(group)
        try:
            response = route(request) if route is not None else web.not_found()
        except Exception:  # a bug in the emulator: answer 500 rather than hang the client
            logger.exception("sandbox route %s failed", group)
            response = web.page("Internal Server Error", "<h1>500</h1>", status=500)
        handler.send(response, truncate=fault == "truncate")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], app: Sandbox
    ) -> None:
        self.app = app
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, handler)

    def process_request(self, request, client_address) -> None:  # type: ignore[override]
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request) -> None:  # type: ignore[override]
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Cut kept-alive connections too, so a stopped sandbox really is gone."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request, client_address) -> None:  # type: ignore[override]
        logger.debug("connection from %s failed", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # the answer goes out in two writes (see send)
    server_version = "nginx"
    sys_version = ""
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # quiet: no request lines
        pass

    def _handle(self) -> None:
        body = self._read_body()
        if body is None:
            self.close_connection = True
            self.send(web.text("bad request body", status=400))
            return
        self.server.app._serve(self, body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = _handle

    def _read_body(self) -> bytes | None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                line = self.rfile.readline(65537)
                try:
                    size = int(line.split(b";")[0].strip(), 16)
                except ValueError:
                    return None
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            return None
        return self.rfile.read(length) if length > 0 else b""

    def send(self, response: web.Response, *, truncate: bool = False) -> None:
        body = response.body
        try:
            reason = HTTPStatus(response.status).phrase
        except ValueError:
            reason = ""
        lines = [
            f"HTTP/1.1 {response.status} {reason}",
            f"Server: {self.server_version}",
            f"Date: {formatdate(usegmt=True)}",
        ]
        if response.content_type:
            lines.append(f"Content-Type: {response.content_type}")
        lines.append(f"Content-Length: {len(body)}")
        lines.extend(f"{name}: {value}" for name, value in response.headers)
        if self.close_connection and not truncate:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", errors="replace")
        if self.command == "HEAD":
            body = b""
        if truncate:
            # Half the body; with no body to cut, half the status line (a cut header block
            # would read as a complete empty answer).
            data = head + body[: len(body) // 2] if body else head[: head.index(b"\r\n") // 2]
        else:
            data = head + body
        if truncate:
            self._write(data)
            self.close_connection = True
            return
        # Count the answer between its last two bytes: once the client has it all, the stats
        # already say so (a test may read them right away), and a failed write counts nothing.
        if self._write(data[:-1]):
            for callback in response.on_sent:
                callback()
            self._write(data[-1:])

    def _write(self, data: bytes) -> bool:
        try:
            self.wfile.write(data)
            self.wfile.flush()
            return True
        except OSError:
            self.close_connection = True
            return False
