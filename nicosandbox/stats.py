"""What the emulator saw: requests per route group, faults, message-server thread requests and
nvcomment ``/v1/threads`` targets."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any


class Stats:
    """Counters; the keys of the thread counters are ``(thread_id, fork)`` with fork
    'main', 'owner' or 'easy'.

    ``threads`` counts ``<thread>`` request elements (and thread GETs) whose answer was sent in
    full, ``threads_with_when`` the subset that carried ``when``, ``leaves`` the same for
    ``<thread_leaves>``, and ``resultcodes`` counts ``(thread_id, fork, resultcode)`` for both.

    The nvcomment server has its own: ``v1_threads`` counts the targets of ``/v1/threads``
    requests whose 200 answer was sent in full, ``v1_threads_with_when`` the subset that
    carried ``additionals.when``, and ``v1_errors`` the error answers sent, by ``errorCode``;
    ``watch`` counts watch data requests (API and pages) by video id.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._clear()

    def reset(self) -> None:
        with self._lock:
            self._clear()

    def _clear(self) -> None:
        self.requests: Counter[str] = Counter()
        self.user_agents: Counter[str] = Counter()
        self.faulted: Counter[str] = Counter()
        self.fault_kinds: Counter[tuple[str, str]] = Counter()  # (group, kind)
        self.injected: Counter[str] = Counter()
        self.threads: Counter[tuple[str, str]] = Counter()
        self.threads_with_when: Counter[tuple[str, str]] = Counter()
        self.leaves: Counter[tuple[str, str]] = Counter()
        self.leaves_with_when: Counter[tuple[str, str]] = Counter()
        self.resultcodes: Counter[tuple[str, str, int]] = Counter()
        self.v1_threads: Counter[tuple[str, str]] = Counter()
        self.v1_threads_with_when: Counter[tuple[str, str]] = Counter()
        self.v1_errors: Counter[str] = Counter()
        self.watch: Counter[str] = Counter()  # watch data asked for (API or page), by video id

    def count_request(self, group: str, user_agent: str = "") -> None:
        with self._lock:
            self.requests[group] += 1
            self.user_agents[user_agent] += 1

    def count_watch(self, video_id: str) -> None:
        with self._lock:
            self.watch[video_id] += 1

    def count_fault(self, group: str, kind: str) -> None:
        with self._lock:
            self.faulted[group] += 1
            self.fault_kinds[(group, kind)] += 1

    def count_injected(self, group: str) -> None:
        with self._lock:
            self.injected[group] += 1

    def count_thread(
        self, thread_id: str, fork: str, *, leaves: bool, with_when: bool, resultcode: int
    ) -> None:
        key = (thread_id, fork)
        with self._lock:
            if leaves:
                self.leaves[key] += 1
                self.leaves_with_when[key] += with_when
            else:
                self.threads[key] += 1
                self.threads_with_when[key] += with_when
            self.resultcodes[(thread_id, fork, resultcode)] += 1

    def thread_requests(
        self, thread_id: str | int, fork: str = "main", *, with_when: bool | None = None
    ) -> int:
        """``<thread>`` requests answered for this thread and fork (only those with ``when``
        if `with_when` is True, only those without if False)."""
        key = (str(thread_id), fork)
        with self._lock:
            total, past = self.threads[key], self.threads_with_when[key]
        if with_when is None:
            return total
        return past if with_when else total - past

    def count_v1_thread(self, thread_id: str, fork: str, *, with_when: bool) -> None:
        key = (thread_id, fork)
        with self._lock:
            self.v1_threads[key] += 1
            self.v1_threads_with_when[key] += with_when

    def count_v1_error(self, error_code: str) -> None:
        with self._lock:
            self.v1_errors[error_code] += 1

    def v1_requests(
        self, thread_id: str | int, fork: str = "main", *, with_when: bool | None = None
    ) -> int:
        """``/v1/threads`` targets answered for this thread and fork (only those with
        ``when`` if `with_when` is True, only those without if False)."""
        key = (str(thread_id), fork)
        with self._lock:
            total, past = self.v1_threads[key], self.v1_threads_with_when[key]
        if with_when is None:
            return total
        return past if with_when else total - past

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                name: dict(getattr(self, name))
                for name in (
                    "requests",
                    "user_agents",
                    "faulted",
                    "fault_kinds",
                    "injected",
                    "threads",
                    "threads_with_when",
                    "leaves",
                    "leaves_with_when",
                    "resultcodes",
                    "v1_threads",
                    "v1_threads_with_when",
                    "v1_errors",
                    "watch",
                )
            }

    def __repr__(self) -> str:
        return f"Stats({self.snapshot()!r})"
