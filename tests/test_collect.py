"""The collecting job's own rules: interrupts, resumes, bookkeeping."""

from __future__ import annotations

import pytest


def test_ctrl_c_waits_for_the_end_of_a_database_write():
    import os
    import signal

    from nicocomments.interrupts import deferred_interrupt

    finished = []
    with pytest.raises(KeyboardInterrupt), deferred_interrupt():
        os.kill(os.getpid(), signal.SIGINT)
        finished.append("the write finished first")
    assert finished == ["the write finished first"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
