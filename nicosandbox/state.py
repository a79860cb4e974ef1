"""What a route handler receives: the emulator's `State` (world, key stores, sessions, clock,
statistics, settings, faults), and what a surface declares about itself (`Surface`).

No HTTP here and no route: the server builds one `State` and gives it to every surface's
routes, so a route module imports this module, `web` and the world, never the server.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from nicosandbox import web
from nicosandbox.faults import FaultPlan, Injections
from nicosandbox.keys import KeyStore
from nicosandbox.liveworld import LiveState
from nicosandbox.stats import Stats
from nicosandbox.threadkeys import ThreadKeys
from nicosandbox.world import Account, World

RATE_WINDOW_S = 60.0


@dataclass
class Settings:
    """The knobs, read on every request, so a test may change them at any time (the `Sandbox`
    exposes each as an attribute of its own: ``sb.key_ttl = 5``).

    ``key_ttl``/``userkey_ttl``/``key_max_uses``: legacy keys (``key_max_uses`` applies to
    thread keys too; ``userkey_ttl`` None is 3 × ``key_ttl``, the 1800 s of real userkeys);
    ``thread_key_ttl``: nvcomment thread keys (204 s, as the real ones);
    ``rate_limit_per_minute``: ``/v1/threads`` (None: no limit); ``maintenance``: watch data
    answers 503 MAINTENANCE; ``watch_api_enabled`` False: ``/api/watch/*`` is a 404 page;
    ``watch_page_meta`` False: no ``server-response`` meta in watch pages; ``shuffle_chats``:
    legacy chats and v1 comments in seeded random order; ``past_logs_premium_only``;
    ``mfa_ttl``: how long a two-factor step waits for its code; ``voltage_zone``: an object
    ``/v1/threads`` answers carry as ``data.voltageZone`` (None: none, as before 2025).
    ``snapshot_offset_cap``: Snapshot Search refuses ``_offset + _limit`` past it;
    ``snapshot_maintenance``: it answers 503 MAINTENANCE; ``snapshot_index_time``: when its
    index was rebuilt (None: now). Live: ``live_segment_seconds``,
    the length of a message server segment (and the longest a long poll is held);
    ``live_ping_seconds``, between the watch WebSocket's pings; ``live_socket``: ``normal``,
    ``silent`` (takes startWatching, never answers) or ``close`` (closes at once);
    ``live_next_stuck``: a fault of the view stream, whose ``next.at`` stops advancing (every
    ``?at=T`` answer names ``next{at: T}`` again).
    """

    key_ttl: float = 600
    userkey_ttl: float | None = None
    key_max_uses: int | None = None
    shuffle_chats: bool = False
    past_logs_premium_only: bool = False
    mfa_ttl: float = 600
    thread_key_ttl: float = 204
    rate_limit_per_minute: int | None = 60
    maintenance: bool = False
    watch_api_enabled: bool = True
    watch_page_meta: bool = True
    snapshot_offset_cap: int = 1_600
    snapshot_maintenance: bool = False
    snapshot_index_time: float | None = None
    live_segment_seconds: float = 4.0
    live_ping_seconds: float = 10.0
    live_socket: str = "normal"
    live_next_stuck: bool = False
    voltage_zone: dict | None = None

    @property
    def userkey_lifetime(self) -> float:
        return self.userkey_ttl if self.userkey_ttl is not None else 3 * self.key_ttl


class Sessions:
    """Server-side ``user_session`` values: cookie value → account."""

    def __init__(self) -> None:
        self._by_token: dict[str, Account] = {}
        self._lock = threading.Lock()

    def create(self, account: Account) -> str:
        token = f"user_session_{account.user_id}_{secrets.token_hex(32)}"
        with self._lock:
            self._by_token[token] = account
        return token

    def lookup(self, cookies: dict[str, str]) -> Account | None:
        token = cookies.get("user_session")
        if not token:
            return None
        with self._lock:
            return self._by_token.get(token)

    def expire_all(self) -> None:
        with self._lock:
            self._by_token.clear()

    def __len__(self) -> int:
        return len(self._by_token)


class SlidingWindow:
    """Moments of admitted requests; admits one more if fewer than `limit` lie in the last
    60 s. Moments in the future (a test moved the clock back) do not count."""

    def __init__(self) -> None:
        self._moments: list[float] = []
        self._lock = threading.Lock()

    def admit(self, now: float, limit: int | None) -> bool:
        if limit is None:
            return True
        with self._lock:
            self._moments = [t for t in self._moments if now - RATE_WINDOW_S < t <= now]
            if len(self._moments) >= limit:
                return False
            self._moments.append(now)
            return True

    def clear(self) -> None:
        with self._lock:
            self._moments.clear()


class State:
    """Everything the routes of every surface share. Routes keep what only they need (the
    two-factor steps of account.nicovideo.jp, a shuffle's random stream) to themselves.

    ``clock`` (Unix seconds) may be swapped at any time to age keys and two-factor steps;
    the key stores read it through the state. ``root_url`` is set once the server is bound.
    """

    def __init__(
        self,
        world: World,
        *,
        seed: int = 0,
        settings: Settings | None = None,
        clock: Callable[[], float],
        faults: FaultPlan | None = None,
    ) -> None:
        self.world = world
        self.seed = seed
        self.settings = settings if settings is not None else Settings()
        self.clock = clock
        self.faults = faults if faults is not None else FaultPlan()
        self.injections = Injections()
        self.stats = Stats()
        self.sessions = Sessions()
        self.keys = KeyStore(lambda: self.clock())
        self.thread_keys = ThreadKeys(lambda: self.clock())
        self.rate_window = SlidingWindow()
        self.root_url: str | None = None
        self.live = LiveState()  # timeshift reservations, audience and view tokens
        self.live_socket_url: str | None = None  # ws://… of the watch WebSocket, once started

    def url(self, group: str) -> str:
        """The base URL of a surface (``…/flapi``, ``…/msg``): its route group is its prefix."""
        if self.root_url is None:
            raise RuntimeError("the sandbox is not started")
        return f"{self.root_url}/{group}"


class Routes(Protocol):
    def handle(self, request: web.Request) -> web.Response: ...


@dataclass(frozen=True)
class Surface:
    """One real host (or server) the emulator stands in for, as its route module declares it.

    ``group``: the first path segment of its URLs (``/flapi/…``), and the route group that
    faults target and that injections, tampering and statistics count it under.
    ``routes``: builds its handler from the shared `State` (called once per sandbox).
    ``env_var``: the ``NICO_*_URL`` variable that points nico at it, from
    `nicocomments.config`; None for a server nico learns from answers (the message server
    named by getflv, the nvcomment server named by watch data).
    """

    group: str
    host: str
    routes: Callable[[State], Routes]
    env_var: str | None = None
