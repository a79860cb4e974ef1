"""The HTTP layer: pacing, backoff, and retries over real HTTP against the emulator."""

from __future__ import annotations

import pytest

from nicocomments.http import USER_AGENT, HostPacer, HttpSettings, backoff_delay


class FakeClock:
    def __init__(self):
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_pacer_spaces_requests_to_the_same_host():
    clock = FakeClock()
    pacer = HostPacer(clock=clock, sleep=clock.sleep)
    assert pacer.wait("a.example", 1.0) == 0
    assert pacer.wait("a.example", 1.0) == pytest.approx(1.0)
    clock.now += 0.25
    assert pacer.wait("a.example", 1.0) == pytest.approx(0.75)
    assert pacer.wait("b.example", 1.0) == 0  # another host is not held back
    assert clock.slept == [pytest.approx(1.0), pytest.approx(0.75)]


def test_pacer_zero_interval_never_sleeps():
    clock = FakeClock()
    pacer = HostPacer(clock=clock, sleep=clock.sleep)
    for _ in range(5):
        pacer.wait("a.example", 0.0)
    assert clock.slept == []


def test_pacer_hold_keeps_everyone_off_a_host():
    clock = FakeClock()
    pacer = HostPacer(clock=clock, sleep=clock.sleep)
    pacer.hold("a.example", 30)
    assert pacer.wait("a.example", 1.0) == pytest.approx(30)


def test_backoff_doubles_with_jitter_and_a_cap():
    settings = HttpSettings(backoff_base=1.0, backoff_cap=5.0)
    assert backoff_delay(settings, 1, rng=lambda: 0.0) == 0.5
    assert backoff_delay(settings, 1, rng=lambda: 1.0) == 1.0
    assert backoff_delay(settings, 3, rng=lambda: 1.0) == 4.0
    assert backoff_delay(settings, 10, rng=lambda: 1.0) == 5.0
    assert backoff_delay(HttpSettings(backoff_base=0), 4) == 0


def test_user_agent_names_the_tool_and_version():
    from nicocomments import __version__

    assert USER_AGENT.startswith(f"nicocomments/{__version__} ")
