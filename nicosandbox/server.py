"""`Sandbox`: the emulator as a real HTTP server on loopback, one prefix per surface.

    /msg/…        the legacy message server named by getflv's ``ms``
    /flapi/…      flapi.nicovideo.jp      (getflv, getthreadkey, getwaybackkey)
    /account/…    account.nicovideo.jp    (login, two-factor)
    /www/…        www.nicovideo.jp        (login check, watch pages, watch data API)
    /nvapi/…      nvapi.nicovideo.jp      (thread keys)
    /nvcomment/…  the nvcomment server named by watch data's ``nvComment.server``
    /snapshot/…   snapshot.search.nicovideo.jp (Snapshot Search API v2)
    /live/…       live.nicovideo.jp       (live watch pages)
    /live2/…      live2.nicovideo.jp      (the timeshift API)
    /mpn/…        the NDGR message server named by the live watch WebSocket
    /channel/…    ch.nicovideo.jp         (channels' video list pages)
    ws://…        the live watch WebSocket, on a port of its own (`livesocket`)

The prefixes are the groups of `routes.SURFACES`; each request goes through the same steps
whatever its surface: a queued injection, else a drawn fault, else the surface's route, whose
answer a queued tamper may edit.
"""

from __future__ import annotations

import itertools
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from nicosandbox import web
from nicosandbox.faults import Edit, FaultPlan, Injected
from nicosandbox.httpd import Handler, Server
from nicosandbox.keys import KeyStore
from nicosandbox.livesocket import LiveSocketServer
from nicosandbox.routes import SURFACES
from nicosandbox.seed import build_world, describe_world
from nicosandbox.state import Sessions, Settings, SlidingWindow, State
from nicosandbox.stats import Stats
from nicosandbox.threadkeys import ThreadKeys
from nicosandbox.world import World

logger = logging.getLogger(__name__)

_ERROR_PAGES = {
    "http500": (500, "Internal Server Error"),
    "http503": (503, "Service Unavailable"),
    "http429": (429, "Too Many Requests"),
}
# What stops `Sandbox.serve_forever`: Ctrl-C, and the polite kill of a service manager.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _note(number: int, frame: object) -> None:
    """A stop signal's Python handler: nothing to do, the wakeup pipe has its number."""


class _Setting:
    """A `Settings` field read and written as an attribute of the `Sandbox`."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, sandbox: Sandbox | None, owner: type | None = None) -> Any:
        if sandbox is None:
            return self
        return getattr(sandbox.state.settings, self.name)

    def __set__(self, sandbox: Sandbox, value: Any) -> None:
        setattr(sandbox.state.settings, self.name, value)


class Sandbox:
    """A loopback Niconico (the legacy protocol and today's nvcomment one) with seeded data,
    faults, stats and knobs.

    Every `Settings` field is a knob: a keyword argument here and a plain attribute, read on
    every request, so a test may change it at any time (``sb.key_ttl = 5``); so are
    ``clock`` (Unix seconds, swapped to age keys and two-factor steps), ``faults`` and
    ``world``.
    The routes see none of this object: they get its `state`.
    """

    key_ttl = _Setting()
    userkey_ttl = _Setting()
    key_max_uses = _Setting()
    shuffle_chats = _Setting()
    past_logs_premium_only = _Setting()
    mfa_ttl = _Setting()
    thread_key_ttl = _Setting()
    rate_limit_per_minute = _Setting()
    maintenance = _Setting()
    watch_api_enabled = _Setting()
    watch_page_meta = _Setting()
    snapshot_offset_cap = _Setting()
    snapshot_maintenance = _Setting()
    snapshot_index_time = _Setting()
    live_segment_seconds = _Setting()
    live_ping_seconds = _Setting()
    live_socket = _Setting()
    live_next_stuck = _Setting()
    voltage_zone = _Setting()

    def __init__(
        self,
        world: World | None = None,
        *,
        seed: int = 0,
        faults: FaultPlan | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] = time.time,
        **settings: Any,
    ) -> None:
        """`settings`: any `Settings` field (``key_ttl=5``, ``rate_limit_per_minute=None``…)."""
        self.state = State(
            world if world is not None else build_world(seed),
            seed=seed,
            settings=Settings(**settings),
            clock=clock,
            faults=faults,
        )
        self.host = host
        self.port = port
        self.routes: dict[str, Callable[[web.Request], web.Response]] = {
            surface.group: surface.routes(self.state).handle for surface in SURFACES
        }
        self._serial = itertools.count(1)
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._live_socket: LiveSocketServer | None = None

    # -- what the routes share ----------------------------------------------------------------

    @property
    def world(self) -> World:
        return self.state.world

    @world.setter
    def world(self, world: World) -> None:
        """Swap the world a running sandbox serves (the same site, later, say)."""
        self.state.world = world

    @property
    def seed(self) -> int:
        return self.state.seed

    @property
    def stats(self) -> Stats:
        return self.state.stats

    @property
    def sessions(self) -> Sessions:
        return self.state.sessions

    @property
    def keys(self) -> KeyStore:
        return self.state.keys

    @property
    def thread_keys(self) -> ThreadKeys:
        return self.state.thread_keys

    @property
    def rate_window(self) -> SlidingWindow:
        return self.state.rate_window

    @property
    def clock(self) -> Callable[[], float]:
        return self.state.clock

    @clock.setter
    def clock(self, clock: Callable[[], float]) -> None:
        self.state.clock = clock

    @property
    def faults(self) -> FaultPlan:
        return self.state.faults

    @faults.setter
    def faults(self, plan: FaultPlan | None) -> None:
        self.state.faults = plan if plan is not None else FaultPlan()

    # -- addresses ----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the sandbox is not started")
        host = self.host if ":" not in self.host else f"[{self.host}]"
        return f"http://{host}:{self._server.server_address[1]}"

    @property
    def account_url(self) -> str:
        return self.state.url("account")

    @property
    def www_url(self) -> str:
        return self.state.url("www")

    @property
    def nvcomment_url(self) -> str:
        """What watch data gives as ``nvComment.server`` (clients take it from there)."""
        return self.state.url("nvcomment")

    def endpoints(self) -> dict[str, str]:
        """The NICO_*_URL variables pointing at this sandbox, one per surface that has one."""
        return {s.env_var: self.state.url(s.group) for s in SURFACES if s.env_var is not None}

    def env(self) -> dict[str, str]:
        """Same as `endpoints`, to merge into a subprocess environment."""
        return dict(self.endpoints())

    # -- control ------------------------------------------------------------------------------

    def start(self) -> Sandbox:
        if self._server is None:
            self._server = Server((self.host, self.port), Handler, self._dispatch)
            self.state.root_url = self.url
            self._live_socket = LiveSocketServer(self.state, self.host)
            self.state.live_socket_url = self._live_socket.start()
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
        if self._live_socket is not None:
            self._live_socket.stop()
            self._live_socket = None
        self.state.root_url = None
        self.state.live_socket_url = None

    def serve_forever(self, ready: Callable[[Sandbox], None] | None = None) -> None:
        """Start, serve until Ctrl-C (SIGINT) or SIGTERM, then close cleanly and return.

        `ready` is called once the port is bound (to print `url` or `env()`, say). In the
        main thread the stop signals are caught from before the server starts: a handler that
        raises nothing notes them on a wakeup pipe, and the one place that waits reads it. A
        signal that comes early (while `ready` still prints) therefore ends the run the same
        clean way, instead of a KeyboardInterrupt in whatever runs then. Outside the main
        thread (where no signal arrives) it serves until `stop` is called.
        """
        if self._server is not None:
            raise RuntimeError("serve_forever starts the sandbox: do not start it first")
        if threading.current_thread() is not threading.main_thread():
            thread = self.start()._thread
            try:
                if ready is not None:
                    ready(self)
                if thread is not None:
                    thread.join()
            finally:
                self.stop()
            return
        reader, writer = os.pipe()
        os.set_blocking(writer, False)
        handlers = {  # a signal ignored from the start stays ignored (a background job's SIGINT)
            number: signal.signal(number, _note)
            for number in STOP_SIGNALS
            if signal.getsignal(number) is not signal.SIG_IGN
        }
        wakeup = signal.set_wakeup_fd(writer, warn_on_full_buffer=False)
        try:
            self.start()
            if ready is not None:
                ready(self)
            while os.read(reader, 1)[0] not in handlers:  # at once if it came already
                pass  # another signal with a Python handler: not ours
        finally:
            self.stop()  # still catching: a second Ctrl-C cannot cut the shutdown short
            signal.set_wakeup_fd(wakeup)
            for number, handler in handlers.items():
                signal.signal(number, handler)
            os.close(reader)
            os.close(writer)

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset_stats(self) -> None:
        """Zero the counters, and forget the ``/v1/threads`` rate-limit window."""
        self.state.stats.reset()
        self.state.rate_window.clear()

    def describe(self) -> str:
        """Where everything is (once started), the knobs that differ from the real site's
        defaults, and the world (accounts, videos, what watch data refuses)."""
        lines = []
        if self._server is not None:
            lines.append(f"Niconico emulator at {self.url}")
            lines.extend(f"  {name}={value}" for name, value in self.env().items())
            lines.append(f"  nvComment.server (from watch data): {self.nvcomment_url}")
            lines.append(f"  live watch WebSocket (from watch pages): {self.state.live_socket_url}")
        limit = self.rate_limit_per_minute
        lines.append(
            f"Thread keys live {self.thread_key_ttl:g} s; /v1/threads: "
            + (f"{limit} requests per minute" if limit is not None else "no rate limit")
        )
        lines.append(describe_world(self.world))
        return "\n".join(lines)

    # -- injections ---------------------------------------------------------------------------

    def clear_injections(self) -> None:
        """Forget the canned answers `inject` queued and the edits `tamper` queued that no
        request has taken yet."""
        self.state.injections.clear()

    def expire_sessions(self) -> None:
        """Invalidate every ``user_session`` handed out so far."""
        self.state.sessions.expire_all()

    def inject(
        self,
        target: str,
        body: bytes,
        status: int = 200,
        content_type: str = web.XML,
        times: int = 1,
        headers: tuple[tuple[str, str], ...] = (),
        repeat: int = 1,
        declare_length: bool = True,
    ) -> None:
        """Answer the next `times` requests to route group `target` with exactly this: `body`
        sent `repeat` times over (a gigabyte costs no memory), with a Content-Length or, with
        ``declare_length=False``, none (the answer ends when the connection does)."""
        self._check_group(target)
        answer = Injected(
            bytes(body), status, content_type, tuple(headers), max(repeat, 1), declare_length
        )
        self.state.injections.add(target, answer, times)

    def tamper(self, target: str, edit: Edit, times: int = 1) -> None:
        """Pass the real answers of route group `target` through `edit` (body in, body out)
        until it has edited `times` of them; an answer it returns None for goes out as it was.
        For answers that are right but for one value (a comment no 0, a date in 1970)."""
        self._check_group(target)
        self.state.injections.add_edit(target, edit, times)

    def _check_group(self, target: str) -> None:
        if target not in self.routes:
            raise ValueError(f"unknown route group {target!r}")

    # -- one request --------------------------------------------------------------------------

    def _dispatch(self, handler: Handler, body: bytes) -> None:
        state = self.state
        parts = urlsplit(handler.path)
        first, _, rest = parts.path.lstrip("/").partition("/")
        group = first if first in self.routes else "other"
        state.stats.count_request(group, handler.headers.get("User-Agent", ""))
        injected = state.injections.pop(group)
        if injected is not None:
            state.stats.count_injected(group)
            response = web.Response(injected.status, injected.body, injected.content_type)
            response.headers.extend(injected.headers)
            response.repeat, response.declare_length = injected.repeat, injected.declare_length
            handler.send(response)
            return
        plan = state.faults
        fault = plan.decide(group)
        if fault is not None:
            state.stats.count_fault(group, fault)
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
        edited = state.injections.edit(group, response.body)
        if edited is not None:
            state.stats.count_injected(group)
            response.body = edited
        trickle = plan.trickle_seconds if fault == "trickle" else None
        handler.send(response, truncate=fault == "truncate", trickle=trickle)
