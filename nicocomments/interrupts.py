"""Keeping Ctrl-C out of the middle of a database write.

A KeyboardInterrupt raised inside a transaction can leave a connection half rolled back and the
SQLite write lock held, so the run could not even record that it was interrupted. Inside
`deferred_interrupt()` a SIGINT is remembered and raised as KeyboardInterrupt when the block ends;
everywhere else (waiting for the network, sleeping) Ctrl-C acts at once.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def deferred_interrupt() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield  # signals only ever reach the main thread
        return
    previous = signal.getsignal(signal.SIGINT)
    if previous is not signal.default_int_handler:
        yield  # SIGINT is ignored, or someone else handles it: leave it alone
        return
    received: list[int] = []
    signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        raise KeyboardInterrupt
