"""The one HTTP session factory for the whole tool.

Every request goes through `NicoSession.request`, which adds what a polite, robust client needs:
a User-Agent naming nicocomments, connect/read timeouts and a deadline for the whole answer,
a cap on its size, pacing (at least `interval` seconds between requests to the same host, shared
by every session in the process), and retries with exponential backoff and jitter on connection
errors, truncated bodies, answers past their deadline, 5xx and 429 (honouring ``Retry-After``).

The retry loop lives here rather than in urllib3's ``Retry``: a body cut off mid-answer only
surfaces after the adapter has returned, and every retry must wait its turn with the shared pacer.

Socket timeouts bound each wait for a byte, never the whole answer: a server sending one byte a
second would hold a request forever. So every attempt runs under a `_Deadline` that shuts the
connection's socket when the time is up (the connections register themselves with it, through
the pool classes `_Adapter` installs), and every body is read here, as a stream, and refused
once it passes `HttpSettings.max_answer_bytes`, before it is ever whole in memory.
"""

from __future__ import annotations

import email.utils
import heapq
import logging
import random
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson
import requests
import urllib3

from nicocomments import __version__
from nicocomments.errors import BadAnswer, NetworkError, RateLimited, ServerUnavailable
from nicocomments.limits import MAX_ANSWER_BYTES

log = logging.getLogger(__name__)

USER_AGENT = f"nicocomments/{__version__} (+https://github.com/nicocomments/nicocomments)"
SESSION_COOKIE = "user_session"
# What nvapi and the watch API require of a caller: the site's own frontend's headers.
FRONTEND_HEADERS = {"X-Frontend-Id": "6", "X-Frontend-Version": "0"}
SERVER_ERRORS = frozenset({500, 502, 503, 504})
RETRY_STATUSES = SERVER_ERRORS | {429}
_RETRY_EXCEPTIONS = (
    requests.ConnectionError,  # refused, reset, dropped before the answer
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,  # the body was cut off
    requests.exceptions.ContentDecodingError,
)


@dataclass(frozen=True)
class HttpSettings:
    """Every wait is configurable so tests and the emulator can run at full speed."""

    interval: float = 1.0  # minimum seconds between two requests to the same host
    connect_timeout: float = 10.0
    read_timeout: float = 30.0  # for each wait for a byte
    answer_timeout: float = 30.0  # for the whole answer, from connecting to its last byte
    max_answer_bytes: int = MAX_ANSWER_BYTES  # a larger answer is refused (after decoding)
    retries: int = 6  # retries after the first attempt
    backoff_base: float = 1.0  # first backoff in seconds, doubled on every retry
    backoff_cap: float = 60.0  # no single backoff is longer than this
    max_retry_after: float = 600.0  # a longer Retry-After is not waited for: the request fails


class HostPacer:
    """Spaces requests to the same host at least ``interval`` seconds apart, across threads."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next_slot: dict[str, float] = {}

    def wait(self, host: str, interval: float) -> float:
        """Block until ``host`` may be asked again; return the seconds waited."""
        with self._lock:
            now = self._clock()
            start = max(now, self._next_slot.get(host, now))
            self._next_slot[host] = start + interval
        delay = start - now
        if delay > 0:
            self._sleep(delay)
        return delay

    def hold(self, host: str, seconds: float) -> None:
        """Keep everyone off ``host`` for ``seconds`` (a server asked us to back off)."""
        with self._lock:
            now = self._clock()
            self._next_slot[host] = max(self._next_slot.get(host, now), now + seconds)


PACER = HostPacer()  # shared by everything in the process


RetryNotice = Callable[[str], None]


class NicoSession(requests.Session):
    def __init__(
        self,
        settings: HttpSettings,
        *,
        pacer: HostPacer = PACER,
        sleep: Callable[[float], None] = time.sleep,
        on_retry: RetryNotice | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.pacer = pacer
        self._sleep = sleep
        self.on_retry = on_retry
        self.request_count = 0  # every attempt, retries included
        self.headers["User-Agent"] = USER_AGENT
        for prefix in ("http://", "https://"):
            self.mount(prefix, _Adapter())
        self.hooks["response"].append(self._read_body)
        self._environment: dict[tuple, dict] = {}

    def merge_environment_settings(self, url, proxies, stream, verify, cert):  # type: ignore[override]
        """requests' own, once per scheme and host: it reads the proxy variables (the whole
        environment, twice) on every request, a good part of a page's CPU beyond parsing and
        storing; a session lives for one run, in which the environment stays as it was."""
        parts = urlsplit(url)
        given = tuple(sorted((proxies or {}).items()))
        key = (parts.scheme, parts.netloc, given, stream, verify, cert)
        if key not in self._environment:
            merged = super().merge_environment_settings(url, proxies, stream, verify, cert)
            self._environment[key] = merged
        merged = self._environment[key]
        return {**merged, "proxies": dict(merged["proxies"])}

    def request(  # type: ignore[override]
        self,
        method: str,
        url: str,
        *args,
        retry: bool = True,
        retry_statuses: frozenset[int] = RETRY_STATUSES,
        **kwargs,
    ) -> requests.Response:
        """Like `requests.Session.request`, paced and retried. ``retry=False`` sends once
        (for what must never be sent twice); statuses outside ``retry_statuses`` come back to
        the caller as they are."""
        kwargs.setdefault("timeout", (self.settings.connect_timeout, self.settings.read_timeout))
        kwargs["stream"] = True  # the body is read by `_read_body`, under the deadline
        host = urlsplit(url).netloc
        where = _describe(method, url)
        attempts = 1 + (self.settings.retries if retry else 0)
        for attempt in range(1, attempts + 1):
            self.pacer.wait(host, self.settings.interval)
            self.request_count += 1
            failure = None
            with _Deadline(self.settings.answer_timeout) as deadline:
                try:
                    response = super().request(method, url, *args, **kwargs)
                except _RETRY_EXCEPTIONS as exc:
                    failure = _exception_summary(exc)
            if deadline.expired:  # whatever came of it: a cut socket may look like an end
                failure = f"no complete answer within {self.settings.answer_timeout:g} s"
            if failure is not None:
                if attempt == attempts:
                    raise NetworkError(f"{where}: {failure}") from None
                self._back_off(host, attempt, f"{failure} from {where}")
                continue
            if response.status_code not in retry_statuses:
                return response
            wait = retry_after(response)
            if wait is not None and wait > self.settings.max_retry_after:
                raise RateLimited(
                    f"{where}: the server asks to wait {wait:.0f} s; try again later",
                    status=response.status_code,
                )
            if attempt == attempts:
                if response.status_code == 429:
                    raise RateLimited(
                        f"{where}: too many requests (HTTP 429); try again later", status=429
                    )
                raise ServerUnavailable(
                    f"{where}: server error HTTP {response.status_code}",
                    status=response.status_code,
                    response=response,
                )
            self._back_off(host, attempt, f"HTTP {response.status_code} from {where}", wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def _read_body(self, response: requests.Response, *args, **kwargs) -> requests.Response:
        """Read the whole body now, as a stream, refusing it once it passes the size limit (a
        response hook, so the answers of redirects are read the same way)."""
        limit = self.settings.max_answer_bytes
        where = _describe(response.request.method or "GET", response.url)
        too_large = BadAnswer(f"{where} answered more than {limit:,} bytes; refusing to read it")
        length = response.headers.get("Content-Length", "")
        try:
            if length.isdigit() and int(length) > limit:
                raise too_large
            body = bytearray()
            for chunk in response.iter_content(_READ_SIZE):
                body += chunk
                if len(body) > limit:
                    raise too_large
        except BaseException:
            response.close()
            raise
        response._content = bytes(body)
        response._content_consumed = True
        return response

    def _back_off(self, host: str, attempt: int, reason: str, asked: float | None = None) -> None:
        delay = backoff_delay(self.settings, attempt)
        if asked is not None:
            delay = max(delay, asked)
            self.pacer.hold(host, asked)
        message = f"{reason}; retrying in {delay:.1f} s"
        log.info(message)
        if self.on_retry is not None:
            self.on_retry(message)
        if delay > 0:
            self._sleep(delay)


def backoff_delay(
    settings: HttpSettings, attempt: int, rng: Callable[[], float] = random.random
) -> float:
    """Exponential backoff with "equal jitter": half fixed, half random, capped."""
    ceiling = min(settings.backoff_cap, settings.backoff_base * 2 ** (attempt - 1))
    return ceiling / 2 + rng() * ceiling / 2


def make_session(
    settings: HttpSettings | None = None,
    *,
    user_session: str | None = None,
    cookie_hosts: Iterable[str] = (),
    on_retry: RetryNotice | None = None,
    pacer: HostPacer = PACER,
) -> NicoSession:
    """A session; with ``user_session``, that cookie is sent to ``cookie_hosts`` only (never to
    the message or comment servers, whose addresses come from the server's own answers)."""
    session = NicoSession(settings or HttpSettings(), on_retry=on_retry, pacer=pacer)
    if user_session:
        set_session_cookie(session, user_session, cookie_hosts)
    return session


def set_session_cookie(session: requests.Session, user_session: str, hosts: Iterable[str]) -> None:
    for host in hosts:
        session.cookies.set(SESSION_COOKIE, user_session, domain=host, path="/")


def retry_after(response: requests.Response) -> float | None:
    """Seconds from a ``Retry-After`` header (a number or an HTTP date), if any."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def parse_json(data: bytes) -> Any:
    """JSON from the network: orjson, because a history is a thousand answers of a thousand
    comments and the stdlib parser takes twice as long as the rest of reading them."""
    return orjson.loads(data)


def answer_json(response: requests.Response, what: str) -> Any:
    """The answer's JSON, or `BadAnswer` saying that ``what`` answered something else."""
    try:
        return parse_json(response.content)
    except orjson.JSONDecodeError as exc:
        # orjson says why in its first words: "unexpected character", "depth limit exceeded"…
        why = str(exc).split(":", 1)[0]
        raise BadAnswer(
            f"{what} answered HTTP {response.status_code} without readable JSON ({why})"
        ) from None


def maybe_json(response: requests.Response) -> Any:
    """The answer's JSON, or None when it is not JSON (an error page, a CDN's bare status)."""
    content_type = response.headers.get("Content-Type", "")
    if "json" not in content_type and response.content[:1] not in (b"{", b"["):
        return None
    try:
        return parse_json(response.content)
    except orjson.JSONDecodeError:
        return None


def _describe(method: str, url: str) -> str:
    # Host and path only: query strings may carry keys, and keys never go into logs.
    parts = urlsplit(url)
    return f"{method} {parts.netloc}{parts.path}"


def _exception_summary(exc: Exception) -> str:
    # A read timeout in the middle of a body reaches us as a ConnectionError wrapping it.
    cause = exc.args[0] if exc.args else None
    if isinstance(exc, requests.ConnectionError) and isinstance(
        cause, urllib3.exceptions.ReadTimeoutError
    ):
        return "timed out waiting for the answer"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return "the answer broke off midway"
    if isinstance(exc, requests.exceptions.ContentDecodingError):
        return "the answer could not be decoded"
    if isinstance(exc, requests.ConnectTimeout):
        return "timed out connecting"
    if isinstance(exc, requests.Timeout):
        return "timed out waiting for the answer"
    return "could not connect or the connection dropped"


# --- the deadline of one attempt ------------------------------------------------------------

# urllib3 (2.6 and later) inflates a compressed answer read by read, at most this much each;
# older versions up to about a thousand times as much, which is still bounded.
_READ_SIZE = 65536
_current = threading.local()  # the deadline of the attempt running in this thread
_RECHECK = 0.05  # seconds between looks for a connection that had no socket yet


class _Deadline:
    """Shuts the sockets of one attempt's connections once ``seconds`` have passed.

    The connections register themselves (`_watch`) as they send; the `_Watchdog` thread shuts
    their sockets down when the time is up, which ends any wait for a byte at once. Until the
    attempt is over it looks again every `_RECHECK` seconds, for a connection that had no
    socket yet."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self.over = False
        self._connections: list[urllib3.connection.HTTPConnection] = []

    def __enter__(self) -> _Deadline:
        _current.deadline = self
        WATCHDOG.add(self, time.monotonic() + self.seconds)
        return self

    def __exit__(self, *exc: object) -> None:
        _current.deadline = None
        self.over = True  # the watchdog drops it the next time it looks

    def watch(self, connection: urllib3.connection.HTTPConnection) -> None:
        self._connections.append(connection)

    def expire(self) -> None:
        """Called by the watchdog thread."""
        self.expired = True
        for connection in list(self._connections):
            sock = getattr(connection, "sock", None)
            if sock is not None:
                try:  # the plain socket's shutdown, under TLS too: the reader sees the end
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)
                except OSError:
                    pass


class _Watchdog:
    """One thread for the deadlines of every attempt in the process (a thread per attempt
    cost more than the rest of a request's bookkeeping)."""

    def __init__(self) -> None:
        self._due: list[tuple[float, int, _Deadline]] = []  # a heap
        self._wake = threading.Condition()
        self._serial = 0
        self._thread: threading.Thread | None = None

    def add(self, deadline: _Deadline, when: float) -> None:
        with self._wake:
            self._serial += 1
            heapq.heappush(self._due, (when, self._serial, deadline))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="nico-deadlines")
                self._thread.daemon = True
                self._thread.start()
            elif self._due[0][2] is deadline:
                self._wake.notify()

    def _run(self) -> None:
        with self._wake:
            while True:
                while self._due and self._due[0][2].over:
                    heapq.heappop(self._due)
                if not self._due:
                    self._wake.wait()
                    continue
                when, _, deadline = self._due[0]
                wait = when - time.monotonic()
                if wait > 0:
                    self._wake.wait(wait)
                    continue
                heapq.heappop(self._due)
                deadline.expire()
                self._serial += 1
                heapq.heappush(self._due, (time.monotonic() + _RECHECK, self._serial, deadline))


WATCHDOG = _Watchdog()


def _watch(connection: urllib3.connection.HTTPConnection) -> None:
    deadline = getattr(_current, "deadline", None)
    if deadline is not None:
        deadline.watch(connection)


class _WatchedHTTPConnection(urllib3.connection.HTTPConnection):
    def request(self, *args, **kwargs) -> None:
        _watch(self)
        super().request(*args, **kwargs)


class _WatchedHTTPSConnection(urllib3.connection.HTTPSConnection):
    def request(self, *args, **kwargs) -> None:
        _watch(self)
        super().request(*args, **kwargs)


class _HTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _HTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_POOLS = {"http": _HTTPPool, "https": _HTTPSPool}


class _Adapter(requests.adapters.HTTPAdapter):
    """requests' adapter, with connections that register with the attempt's deadline."""

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if isinstance(manager, urllib3.ProxyManager):  # SOCKS brings pools of its own
            manager.pool_classes_by_scheme = _POOLS
        return manager
