"""The HTTP layer: pacing, backoff, and retries over real HTTP against the emulator."""

from __future__ import annotations

import pytest
import requests

from nicocomments.http import USER_AGENT, HostPacer, HttpSettings, backoff_delay, make_session


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


# --- over real HTTP against the emulator -------------------------------------------------------


def _session(recorder: list[float], **settings):
    clock = FakeClock()

    def sleep(seconds: float) -> None:
        recorder.append(seconds)

    from nicocomments.http import NicoSession

    return NicoSession(
        HttpSettings(interval=0, **settings),
        pacer=HostPacer(clock=clock, sleep=clock.sleep),
        sleep=sleep,
    )


def _getflv_url(sandbox) -> str:
    return sandbox.env()["NICO_FLAPI_URL"] + "/api/getflv/sm9"


def test_user_agent_and_timeouts_reach_the_server(sandbox):
    from nicocomments.http import make_session

    session = make_session(HttpSettings(interval=0))
    assert session.get(_getflv_url(sandbox)).status_code == 200
    assert sandbox.stats.user_agents[USER_AGENT] == 1


def test_server_errors_are_retried_with_backoff(sandbox):
    sandbox.inject("flapi", b"busy", status=503, times=2)
    waits: list[float] = []
    session = _session(waits, backoff_base=2.0, backoff_cap=60.0)
    response = session.get(_getflv_url(sandbox))
    assert response.status_code == 200 and response.text.startswith("closed=1")
    assert session.request_count == 3
    assert len(waits) == 2 and 1.0 <= waits[0] <= 2.0 and 2.0 <= waits[1] <= 4.0


def test_retry_after_is_honoured(sandbox):
    sandbox.inject("flapi", b"slow down", status=429, headers=(("Retry-After", "7"),))
    waits: list[float] = []
    session = _session(waits, backoff_base=0.0)
    assert session.get(_getflv_url(sandbox)).status_code == 200
    assert waits == [7.0]


def test_a_retry_after_too_long_to_wait_fails_clearly(sandbox):
    from nicocomments.errors import RateLimited

    sandbox.inject("flapi", b"come back tomorrow", status=429, headers=(("Retry-After", "86400"),))
    with pytest.raises(RateLimited, match="wait 86400 s"):
        _session([]).get(_getflv_url(sandbox))


@pytest.mark.parametrize("kind", ["drop", "truncate", "http500", "slow"])
def test_broken_answers_are_retried(sandbox, kind):
    from nicosandbox import FaultPlan

    sandbox.faults = FaultPlan(
        rate=1.0, kinds=(kind,), targets=("flapi",), limit=2, slow_seconds=1.0
    )
    waits: list[float] = []
    session = _session(waits, backoff_base=0.0, read_timeout=0.3)
    response = session.get(_getflv_url(sandbox))
    assert response.status_code == 200 and response.text.startswith("closed=1")
    assert session.request_count == 3
    assert sandbox.stats.faulted["flapi"] == 2


def test_giving_up_says_why(sandbox):
    from nicocomments.errors import NetworkError, ServerUnavailable
    from nicosandbox import FaultPlan

    sandbox.faults = FaultPlan(rate=1.0, kinds=("truncate",), targets=("flapi",))
    with pytest.raises(NetworkError, match="broke off"):
        _session([], retries=2).get(_getflv_url(sandbox))
    sandbox.faults = FaultPlan(rate=1.0, kinds=("http503",), targets=("flapi",))
    with pytest.raises(ServerUnavailable, match="HTTP 503"):
        _session([], retries=1).get(_getflv_url(sandbox))


def test_posts_that_must_not_be_repeated_are_sent_once(sandbox):
    sandbox.inject("flapi", b"busy", status=503)
    from nicocomments.errors import ServerUnavailable

    session = _session([])
    with pytest.raises(ServerUnavailable):
        session.get(_getflv_url(sandbox), retry=False)
    assert session.request_count == 1


def test_the_pacer_is_shared_by_sessions_of_one_process(sandbox):
    from nicocomments.http import make_session

    clock = FakeClock()
    pacer = HostPacer(clock=clock, sleep=clock.sleep)
    first = make_session(HttpSettings(interval=1.0), pacer=pacer)
    second = make_session(HttpSettings(interval=1.0), pacer=pacer)
    first.get(_getflv_url(sandbox))
    second.get(_getflv_url(sandbox))
    first.get(_getflv_url(sandbox))
    assert clock.slept == [pytest.approx(1.0), pytest.approx(1.0)]


def test_the_session_cookie_goes_only_to_configured_hosts(sandbox):
    from nicocomments.http import make_session

    session = make_session(
        HttpSettings(interval=0), user_session="secret-value", cookie_hosts={"127.0.0.1"}
    )
    assert session.get(_getflv_url(sandbox)).text.startswith("closed=1")  # sent, not accepted
    other = make_session(HttpSettings(interval=0), user_session="secret-value", cookie_hosts={"x"})
    prepared = other.prepare_request(requests.Request("GET", _getflv_url(sandbox)))
    assert "Cookie" not in prepared.headers
    prepared = session.prepare_request(requests.Request("GET", _getflv_url(sandbox)))
    assert prepared.headers["Cookie"] == "user_session=secret-value"


# --- deadlines and sizes (issue 8: a trickling server, an endless answer) ---------------------


def test_a_server_trickling_a_byte_a_second_is_given_up_on_at_the_deadline(sandbox):

    from nicocomments.errors import NetworkError
    from nicosandbox import FaultPlan

    # The emulator's "trickle" fault: the whole answer, status line first, a byte a second.
    sandbox.faults = FaultPlan(rate=1.0, kinds=("trickle",), targets=("flapi",))
    session = _session([], retries=1, backoff_base=0.0, read_timeout=5, answer_timeout=1)
    with pytest.raises(NetworkError, match=r"no complete answer within 1 s"):
        session.get(_getflv_url(sandbox))  # how soon: benchmarks/bench_deadline.py
    assert session.request_count == 2 and sandbox.stats.faulted["flapi"] == 2


def test_after_a_trickle_the_usual_retry_gets_the_answer(sandbox):
    from nicosandbox import FaultPlan

    sandbox.faults = FaultPlan(rate=1.0, kinds=("trickle",), targets=("flapi",), limit=1)
    waits: list[float] = []
    session = _session(waits, backoff_base=0.01, answer_timeout=0.5)
    response = session.get(_getflv_url(sandbox))
    assert response.status_code == 200 and response.text.startswith("closed=1")
    assert session.request_count == 2 and len(waits) == 1


@pytest.fixture
def raw_server():
    """A loopback server answering every connection with ``behaviour(connection)``."""
    import socket
    import threading

    servers = []

    def start(behaviour):
        listener = socket.create_server(("127.0.0.1", 0))
        listener.settimeout(0.05)
        stop = threading.Event()

        def serve():
            while not stop.is_set():
                try:
                    connection, _ = listener.accept()
                except TimeoutError:
                    continue
                threading.Thread(target=_answer, args=(connection, behaviour), daemon=True).start()

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        servers.append((stop, thread, listener))
        return f"http://127.0.0.1:{listener.getsockname()[1]}/"

    yield start
    for stop, thread, listener in servers:
        stop.set()
        thread.join()
        listener.close()


def _answer(connection, behaviour):
    import contextlib

    with contextlib.suppress(OSError), connection:
        request = b""
        while b"\r\n\r\n" not in request:
            chunk = connection.recv(65536)
            if not chunk:
                return
            request += chunk
        behaviour(connection)


def _trickle_the_body(connection):
    import time

    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
    for _ in range(100_000):
        connection.sendall(b"x")
        time.sleep(1)


def test_a_body_trickling_after_quick_headers_meets_the_deadline_too(raw_server):

    from nicocomments.errors import NetworkError

    url = raw_server(_trickle_the_body)
    session = _session([], retries=0, read_timeout=5, answer_timeout=1.5)
    with pytest.raises(NetworkError, match=r"no complete answer within 1\.5 s"):
        session.get(url)  # how soon: benchmarks/bench_deadline.py


def _stall_in_the_body(connection):
    import time

    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
    time.sleep(3)


def test_a_read_timeout_in_the_body_is_a_timeout_not_a_failed_connection(raw_server):
    from nicocomments.errors import NetworkError

    url = raw_server(_stall_in_the_body)
    session = _session([], retries=0, read_timeout=0.3, answer_timeout=10)
    with pytest.raises(NetworkError) as caught:
        session.get(url)
    assert "timed out waiting for the answer" in str(caught.value)
    assert "connect" not in str(caught.value)


@pytest.mark.parametrize("declare_length", [True, False], ids=["declared", "streamed"])
def test_an_answer_larger_than_the_limit_is_refused_without_reading_it_whole(
    sandbox, declare_length
):
    from nicocomments.errors import BadAnswer

    # 64 MiB, against a limit of 1 MiB: refused at the header, or after 1 MiB of the stream.
    sandbox.inject("flapi", b"x" * 2**20, repeat=64, declare_length=declare_length)
    session = _session([], max_answer_bytes=2**20)
    with pytest.raises(BadAnswer, match=r"answered more than 1,048,576 bytes"):
        session.get(_getflv_url(sandbox))
    assert session.request_count == 1  # not retried: it would be just as large again
    assert session.get(_getflv_url(sandbox)).text.startswith("closed=1")  # the next one is fine


def test_the_limit_applies_to_the_decoded_answer(raw_server):
    import gzip

    from nicocomments.errors import BadAnswer

    bomb = gzip.compress(b"\0" * 50 * 2**20)  # 50 MiB of zeros in about 50 KB

    def send_bomb(connection):
        connection.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n"
            + f"Content-Length: {len(bomb)}\r\n\r\n".encode()
            + bomb
        )

    session = _session([], max_answer_bytes=2**20)
    with pytest.raises(BadAnswer, match="answered more than"):
        session.get(raw_server(send_bomb))


def test_proxy_variables_are_honoured_per_host_and_read_once(monkeypatch):
    """The proxy variables (HTTPS_PROXY, NO_PROXY) apply as requests applies them, per host;
    they are read once per scheme and host of a session, and a caller changing the answer
    it got changes nothing for the next request."""
    import requests.sessions

    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    monkeypatch.setenv("NO_PROXY", "nvapi.nicovideo.jp")
    session = make_session(HttpSettings(interval=0))
    reads = []
    real = requests.sessions.get_environ_proxies
    monkeypatch.setattr(
        requests.sessions, "get_environ_proxies", lambda *a, **k: reads.append(1) or real(*a, **k)
    )

    def proxies(url: str) -> dict:
        return session.merge_environment_settings(url, {}, None, None, None)["proxies"]

    assert proxies("https://www.nicovideo.jp/watch/sm9")["https"] == "http://proxy.invalid:3128"
    assert "https" not in proxies("https://nvapi.nicovideo.jp/v1/users/1")
    read = len(reads)
    answer = proxies("https://www.nicovideo.jp/api/other")
    answer["https"] = "http://elsewhere.invalid"
    assert proxies("https://www.nicovideo.jp/x")["https"] == "http://proxy.invalid:3128"
    assert len(reads) == read  # those hosts were read before
