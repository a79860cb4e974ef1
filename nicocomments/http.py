"""The one HTTP session factory for the whole tool.

Every request goes through `NicoSession.request`, which adds what a polite, robust client needs:
a User-Agent naming nicocomments, connect/read timeouts, pacing (at least `interval` seconds
between requests to the same host, shared by every session in the process), and retries with
exponential backoff and jitter on connection errors, truncated bodies, 5xx and 429 (honouring
``Retry-After``).

The retry loop lives here rather than in urllib3's ``Retry``: a body cut off mid-answer only
surfaces after the adapter has returned, and every retry must wait its turn with the shared pacer.
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

from nicocomments import __version__
from nicocomments.errors import NetworkError, RateLimited, ServerUnavailable

log = logging.getLogger(__name__)

USER_AGENT = f"nicocomments/{__version__} (+https://github.com/nicocomments/nicocomments)"
SESSION_COOKIE = "user_session"
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
    read_timeout: float = 30.0
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
        host = urlsplit(url).netloc
        where = _describe(method, url)
        attempts = 1 + (self.settings.retries if retry else 0)
        for attempt in range(1, attempts + 1):
            self.pacer.wait(host, self.settings.interval)
            self.request_count += 1
            try:
                response = super().request(method, url, *args, **kwargs)
            except _RETRY_EXCEPTIONS as exc:
                if attempt == attempts:
                    raise NetworkError(f"{where}: {_exception_summary(exc)}") from None
                self._back_off(host, attempt, f"{_exception_summary(exc)} from {where}")
                continue
            if response.status_code not in retry_statuses:
                return response
            wait = retry_after(response)
            if wait is not None and wait > self.settings.max_retry_after:
                raise RateLimited(f"{where}: the server asks to wait {wait:.0f} s; try again later")
            if attempt == attempts:
                if response.status_code == 429:
                    raise RateLimited(f"{where}: too many requests (HTTP 429); try again later")
                raise ServerUnavailable(
                    f"{where}: server error HTTP {response.status_code}",
                    status=response.status_code,
                    response=response,
                )
            self._back_off(host, attempt, f"HTTP {response.status_code} from {where}", wait)
        raise AssertionError("unreachable")  # pragma: no cover

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


def _describe(method: str, url: str) -> str:
    # Host and path only: query strings may carry keys, and keys never go into logs.
    parts = urlsplit(url)
    return f"{method} {parts.netloc}{parts.path}"


def _exception_summary(exc: Exception) -> str:
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return "the answer broke off midway"
    if isinstance(exc, requests.exceptions.ContentDecodingError):
        return "the answer could not be decoded"
    if isinstance(exc, requests.ConnectTimeout):
        return "timed out connecting"
    if isinstance(exc, requests.Timeout):
        return "timed out waiting for the answer"
    return "could not connect or the connection dropped"
