"""`Sandbox`: the emulator as a real HTTP server on loopback, one prefix per real host.

    /flapi/…      flapi.nicovideo.jp      (getflv, getthreadkey, getwaybackkey)
    /account/…    account.nicovideo.jp    (login, two-factor)
    /www/…        www.nicovideo.jp        (login check, watch pages, watch data API)
    /nvapi/…      nvapi.nicovideo.jp      (thread keys)
    /nvcomment/…  the nvcomment server named by watch data's ``nvComment.server``
    /msg/…        the legacy message server named by getflv's ``ms``

Route handlers take a `web.Request` and return a `web.Response`; `Sandbox.routes` maps a
prefix to its handler, so a new protocol is one more entry.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from urllib.parse import parse_qsl, urlsplit

from nicocomments.config import ENDPOINT_ENV_VARS
from nicosandbox import web
from nicosandbox.faults import ROUTE_GROUPS, Edit, FaultPlan, Injected, Injections
from nicosandbox.httpd import Handler, Server
from nicosandbox.keys import KeyStore
from nicosandbox.routes.account import AccountRoutes, Sessions
from nicosandbox.routes.flapi import FlapiRoutes
from nicosandbox.routes.msgserver import MessageServerRoutes
from nicosandbox.routes.nvapi import NvapiRoutes
from nicosandbox.routes.nvcomment import NvcommentRoutes, SlidingWindow
from nicosandbox.routes.www import WwwRoutes
from nicosandbox.stats import Stats
from nicosandbox.threadkeys import ThreadKeys
from nicosandbox.world import World, build_world

logger = logging.getLogger(__name__)

_ERROR_PAGES = {
    "http500": (500, "Internal Server Error"),
    "http503": (503, "Service Unavailable"),
    "http429": (429, "Too Many Requests"),
}


class Sandbox:
    """A loopback Niconico (the legacy protocol and today's nvcomment one) with seeded data,
    faults, stats and knobs.

    Knobs are plain attributes, read on every request, so a test may change them at any time:
    ``key_ttl``/``userkey_ttl``/``key_max_uses`` (legacy keys; ``key_max_uses`` applies to
    thread keys too), ``thread_key_ttl`` (nvcomment thread keys, 204 s as the real ones),
    ``rate_limit_per_minute`` (``/v1/threads``; None: no limit), ``maintenance`` (watch data
    answers 503 MAINTENANCE), ``watch_api_enabled`` (False: ``/api/watch/*`` is a 404 page),
    ``watch_page_meta`` (False: no ``server-response`` meta in watch pages), ``shuffle_chats``
    (legacy chats and v1 comments in seeded random order), ``past_logs_premium_only``,
    ``mfa_ttl`` and ``clock``.
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
        thread_key_ttl: float = 204,
        rate_limit_per_minute: int | None = 60,
        maintenance: bool = False,
        watch_api_enabled: bool = True,
        watch_page_meta: bool = True,
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
        self.thread_key_ttl = thread_key_ttl
        self.rate_limit_per_minute = rate_limit_per_minute
        self.maintenance = maintenance
        self.watch_api_enabled = watch_api_enabled
        self.watch_page_meta = watch_page_meta
        self.host = host
        self.port = port
        self.stats = Stats()
        self.sessions = Sessions()
        self.keys = KeyStore(lambda: self.clock())
        self.thread_keys = ThreadKeys(lambda: self.clock())
        self.rate_window = SlidingWindow()
        self._injections = Injections()
        self._serial = itertools.count(1)
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self.routes: dict[str, Callable[[web.Request], web.Response]] = {
            "flapi": FlapiRoutes(self).handle,
            "account": AccountRoutes(self).handle,
            "www": WwwRoutes(self).handle,
            "nvapi": NvapiRoutes(self).handle,
            "nvcomment": NvcommentRoutes(self).handle,
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

    @property
    def nvcomment_url(self) -> str:
        """What watch data gives as ``nvComment.server`` (clients take it from there)."""
        return f"{self.url}/nvcomment"

    def endpoints(self) -> dict[str, str]:
        """The four NICO_*_URL variables pointing at this sandbox."""
        return {var: f"{self.url}/{name}" for name, var in ENDPOINT_ENV_VARS.items()}

    def env(self) -> dict[str, str]:
        """Same as `endpoints`, to merge into a subprocess environment."""
        return dict(self.endpoints())

    # -- control ------------------------------------------------------------------------------

    def start(self) -> Sandbox:
        if self._server is None:
            self._server = Server((self.host, self.port), Handler, self)
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
            self._server = Server((self.host, self.port), Handler, self)
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
        """Zero the counters, and forget the ``/v1/threads`` rate-limit window."""
        self.stats.reset()
        self.rate_window.clear()

    def describe(self) -> str:
        """Where everything is (once started), the knobs that differ from the real site's
        defaults, and the world (accounts, videos, what watch data refuses)."""
        lines = []
        if self._server is not None:
            lines.append(f"Niconico emulator at {self.url}")
            lines.extend(f"  {name}={value}" for name, value in self.env().items())
            lines.append(f"  nvComment.server (from watch data): {self.nvcomment_url}")
        limit = self.rate_limit_per_minute
        lines.append(
            f"Thread keys live {self.thread_key_ttl:g} s; /v1/threads: "
            + (f"{limit} requests per minute" if limit is not None else "no rate limit")
        )
        lines.append(self.world.describe())
        return "\n".join(lines)

    def clear_injections(self) -> None:
        """Forget the canned answers `inject` queued and the edits `tamper` queued that no
        request has taken yet."""
        self._injections.clear()

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
        self._injections.add(target, answer, times)

    def tamper(self, target: str, edit: Edit, times: int = 1) -> None:
        """Pass the real answers of route group `target` through `edit` (body in, body out)
        until it has edited `times` of them; an answer it returns None for goes out as it was.
        For answers that are right but for one value (a comment no 0, a date in 1970)."""
        self._check_group(target)
        self._injections.add_edit(target, edit, times)

    def _check_group(self, target: str) -> None:
        if target not in self.routes and target not in ROUTE_GROUPS:
            raise ValueError(f"unknown route group {target!r}")

    # -- one request --------------------------------------------------------------------------

    def _serve(self, handler: Handler, body: bytes) -> None:
        parts = urlsplit(handler.path)
        first, _, rest = parts.path.lstrip("/").partition("/")
        group = first if first in self.routes else "other"
        self.stats.count_request(group, handler.headers.get("User-Agent", ""))
        injected = self._injections.pop(group)
        if injected is not None:
            self.stats.count_injected(group)
            response = web.Response(injected.status, injected.body, injected.content_type)
            response.headers.extend(injected.headers)
            response.repeat, response.declare_length = injected.repeat, injected.declare_length
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
        edited = self._injections.edit(group, response.body)
        if edited is not None:
            self.stats.count_injected(group)
            response.body = edited
        trickle = plan.trickle_seconds if fault == "trickle" else None
        handler.send(response, truncate=fault == "truncate", trickle=trickle)
