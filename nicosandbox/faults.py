"""Fault injection: seeded, per route group, decided in arrival order.

A `FaultPlan` answers "should this request fail, and how?" for a route group (a surface's
``group``, see `routes.ROUTE_GROUPS`). The server then acts it out:
``http500``/``http503`` (that status, small body), ``http429`` (with ``Retry-After``), ``drop``
(close the socket, no answer), ``truncate`` (full ``Content-Length``, half the body, close),
``slow`` (sleep, then answer normally) and ``trickle`` (the whole answer, status line first, one
byte every ``trickle_seconds``, until the client gives up: a read timeout never fires).
"""

from __future__ import annotations

import random
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

FAULT_KINDS = ("http500", "http503", "http429", "drop", "truncate", "slow", "trickle")


class FaultPlan:
    def __init__(
        self,
        rate: float = 0.0,
        kinds: Iterable[str] = FAULT_KINDS,
        seed: int = 0,
        targets: Iterable[str] = ("msg",),
        retry_after: int = 0,
        slow_seconds: float = 0.2,
        limit: int | None = None,
        trickle_seconds: float = 1.0,
    ) -> None:
        """`limit`: at most this many faults, then none (to test "fails, then works")."""
        self.rate = rate
        self.kinds = tuple(kinds)
        unknown = set(self.kinds) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds: {sorted(unknown)}")
        if not self.kinds and rate > 0:
            raise ValueError("a fault rate needs at least one kind")
        self.seed = seed
        self.targets = tuple(targets)
        self.retry_after = retry_after
        self.slow_seconds = slow_seconds
        self.trickle_seconds = trickle_seconds
        self.limit = limit
        self._made = 0
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def decide(self, group: str) -> str | None:
        """The fault for the next request to `group`, or None. Only targeted requests draw."""
        if self.rate <= 0 or group not in self.targets:
            return None
        with self._lock:
            if self.limit is not None and self._made >= self.limit:
                return None
            if self._rng.random() >= self.rate:
                return None
            self._made += 1
            return self.kinds[int(self._rng.random() * len(self.kinds))]

    def __repr__(self) -> str:
        return (
            f"FaultPlan(rate={self.rate}, kinds={self.kinds}, seed={self.seed}, "
            f"targets={self.targets}, retry_after={self.retry_after}, "
            f"slow_seconds={self.slow_seconds}, trickle_seconds={self.trickle_seconds}, "
            f"limit={self.limit})"
        )


@dataclass(frozen=True)
class Injected:
    body: bytes
    status: int
    content_type: str
    headers: tuple[tuple[str, str], ...] = ()
    repeat: int = 1  # the body is sent this many times over (a huge answer costs no memory)
    declare_length: bool = True  # False: no Content-Length; the answer ends when the socket does


# An edit of a route's real answer (`Sandbox.tamper`): its body in, the body to send out, or
# None when the answer is not one to edit (then it goes out as it is and the edit stays queued).
Edit = Callable[[bytes], "bytes | None"]


class Injections:
    """Canned answers (`Sandbox.inject`) and edits of real ones (`Sandbox.tamper`), queued per
    route group."""

    def __init__(self) -> None:
        self._queues: dict[str, deque[Injected]] = {}
        self._edits: dict[str, deque[Edit]] = {}
        self._lock = threading.Lock()

    def add(self, group: str, answer: Injected, times: int) -> None:
        with self._lock:
            self._queues.setdefault(group, deque()).extend([answer] * times)

    def pop(self, group: str) -> Injected | None:
        with self._lock:
            queue = self._queues.get(group)
            return queue.popleft() if queue else None

    def add_edit(self, group: str, edit: Edit, times: int) -> None:
        with self._lock:
            self._edits.setdefault(group, deque()).extend([edit] * times)

    def edit(self, group: str, body: bytes) -> bytes | None:
        """``body`` as the next queued edit of ``group`` makes it (and that edit is used up),
        or None when no edit is queued or it leaves this answer alone."""
        with self._lock:
            queue = self._edits.get(group)
            edit = queue[0] if queue else None
        if edit is None:
            return None
        edited = edit(body)
        if edited is not None:
            with self._lock:
                if queue and queue[0] is edit:
                    queue.popleft()
        return edited

    def clear(self) -> None:
        with self._lock:
            self._queues.clear()
            self._edits.clear()
