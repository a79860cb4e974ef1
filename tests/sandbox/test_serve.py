"""The server around the surfaces: the registry, knobs, statistics, addresses, and running
until a stop signal (`Sandbox.serve_forever`, `nico sandbox serve`)."""

from __future__ import annotations

import dataclasses
import fcntl
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
import requests

from nicocomments.config import ENDPOINT_ENV_VARS
from nicosandbox import (
    BIG_THREAD_ID,
    ROUTE_GROUPS,
    SURFACES,
    Sandbox,
    Settings,
    build_world,
)
from tests.sandbox.helpers import NOW, key, login, post_packet, thread_xml


def test_stats(sb):
    s = login(sb)
    wk = key(s, sb, "waybackkey", BIG_THREAD_ID)
    post_packet(
        s,
        sb,
        thread_xml(BIG_THREAD_ID)
        + thread_xml(BIG_THREAD_ID, fork="1", version="20061206")
        + f'<thread_leaves thread="{BIG_THREAD_ID}">0-5:1,1</thread_leaves>',
    )
    post_packet(s, sb, thread_xml(BIG_THREAD_ID, when=NOW, waybackkey=wk))
    post_packet(s, sb, thread_xml(BIG_THREAD_ID, when=NOW))  # resultcode 4, still answered
    stats = sb.stats
    assert stats.thread_requests(BIG_THREAD_ID) == 3
    assert stats.thread_requests(BIG_THREAD_ID, "main", with_when=True) == 2
    assert stats.thread_requests(BIG_THREAD_ID, "main", with_when=False) == 1
    assert stats.thread_requests(int(BIG_THREAD_ID), "owner") == 1
    assert stats.leaves[(BIG_THREAD_ID, "main")] == 1
    assert stats.resultcodes[(BIG_THREAD_ID, "main", 4)] == 1
    assert (
        stats.requests["msg"] == 3
        and stats.requests["account"] == 1
        and stats.requests["flapi"] == 1
    )
    snapshot = stats.snapshot()
    sb.reset_stats()
    assert snapshot["requests"]["msg"] == 3
    assert sb.stats.thread_requests(BIG_THREAD_ID) == 0 and not sb.stats.requests


def test_stop_closes_kept_alive_connections(world):
    sandbox = Sandbox(world).start()
    session = requests.Session()
    assert session.get(sandbox.www_url + "/").status_code == 200
    url = sandbox.www_url + "/"
    sandbox.stop()
    with pytest.raises(requests.ConnectionError):
        session.get(url, timeout=5)


def test_endpoints_and_env(sb):
    assert (
        sb.endpoints()
        == sb.env()
        == {
            "NICO_FLAPI_URL": f"{sb.url}/flapi",
            "NICO_ACCOUNT_URL": f"{sb.url}/account",
            "NICO_WWW_URL": f"{sb.url}/www",
            "NICO_NVAPI_URL": f"{sb.url}/nvapi",
            "NICO_SNAPSHOT_URL": f"{sb.url}/snapshot",
            "NICO_LIVE_URL": f"{sb.url}/live",
            "NICO_LIVE2_URL": f"{sb.url}/live2",
            "NICO_CHANNEL_URL": f"{sb.url}/channel",
        }
    )
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", sb.url)


# -- the surfaces and the knobs ----------------------------------------------------------------


def test_every_surface_is_mounted_under_its_group(sb):
    assert tuple(surface.group for surface in SURFACES) == ROUTE_GROUPS
    assert len(set(ROUTE_GROUPS)) == len(ROUTE_GROUPS) == 11
    # every NICO_*_URL nico reads has the one surface that answers it
    assert sorted(s.env_var for s in SURFACES if s.env_var) == sorted(ENDPOINT_ENV_VARS.values())
    for surface in SURFACES:
        sb.inject(surface.group, f"canned {surface.group}".encode(), content_type="text/plain")
        r = requests.post(f"{sb.url}/{surface.group}/anything", data=b"")
        assert r.text == f"canned {surface.group}", surface
    assert sb.stats.injected == dict.fromkeys(ROUTE_GROUPS, 1)
    assert requests.get(f"{sb.url}/nowhere/anything").status_code == 404
    assert sb.stats.requests["other"] == 1


def test_every_setting_is_a_knob_of_the_sandbox(world):
    changed = {"key_ttl": 5, "userkey_ttl": 7, "key_max_uses": 3, "shuffle_chats": True}
    changed |= {"past_logs_premium_only": True, "mfa_ttl": 9, "thread_key_ttl": 11}
    changed |= {"rate_limit_per_minute": None, "maintenance": True, "watch_api_enabled": False}
    changed |= {"watch_page_meta": False, "snapshot_offset_cap": 40, "snapshot_maintenance": True}
    changed |= {"snapshot_index_time": 1_700_000_000, "voltage_zone": {"zones": []}}
    changed |= {"live_segment_seconds": 2.0, "live_ping_seconds": 3.0, "live_socket": "silent"}
    changed |= {"live_next_stuck": True}
    assert set(changed) == {field.name for field in dataclasses.fields(Settings)}
    sandbox = Sandbox(world, **changed)
    assert all(getattr(sandbox, name) == value for name, value in changed.items())
    assert dataclasses.asdict(sandbox.state.settings) == changed
    for name, value in dataclasses.asdict(Settings()).items():
        setattr(sandbox, name, value)  # what a test does between requests
        assert getattr(sandbox.state.settings, name) == value
    assert sandbox.state.settings == Settings()
    sandbox.clock = lambda: 1_800_000_000
    assert sandbox.state.clock() == 1_800_000_000 and sandbox.keys.issue("x", "1", 10)
    later = build_world(big_comments=1000)
    sandbox.world = later
    assert sandbox.state.world is later
    with pytest.raises(TypeError):
        Sandbox(world, key_time_to_live=5)


# -- serving until Ctrl-C --------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_listening(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nico sandbox serve never listened on {port}")


SERVE = [sys.executable, "-m", "nicocomments", "sandbox", "serve", "--big-comments", "2000"]


def _serve(port: int, stdout, *, sigint=signal.SIG_DFL) -> subprocess.Popen:
    return subprocess.Popen(
        [*SERVE, "--port", str(port)],
        stdout=stdout,
        stderr=subprocess.PIPE,
        # A job started in the background inherits an ignored SIGINT; a user's terminal does not.
        preexec_fn=lambda: signal.signal(signal.SIGINT, sigint),
    )


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_signal_while_it_announces_itself_stops_it_cleanly(signum):
    """The signal comes while the server is bound but its first line cannot be written yet
    (stdout is a full pipe): the announcement still goes out whole, then it stops, exit 0.
    Before the fix this Ctrl-C raised KeyboardInterrupt inside the printing (exit 130)."""
    port = _free_port()
    read, write = os.pipe()
    os.set_blocking(write, False)
    try:
        while True:
            os.write(write, b"\0" * fcntl.fcntl(write, fcntl.F_GETPIPE_SZ))
    except BlockingIOError:
        pass  # full
    os.set_blocking(write, True)
    process = _serve(port, write)
    os.close(write)
    with os.fdopen(read, "rb") as stdout:
        try:
            _wait_until_listening(port, process)
            process.send_signal(signum)
        finally:
            output = stdout.read().lstrip(b"\0").decode("utf-8")
            _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert stderr.decode() == "Emulator stopped.\n"
    assert output.startswith("Niconico emulator listening on http://127.0.0.1:")
    assert output.count("export NICO_") == len(ENDPOINT_ENV_VARS)
    assert output.endswith("Press Ctrl-C to stop.\n")
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_a_sigint_ignored_from_the_start_stays_ignored():
    """Started with SIGINT ignored (a background job), Ctrl-C leaves it running; SIGTERM
    still stops it cleanly."""
    port = _free_port()
    process = _serve(port, subprocess.DEVNULL, sigint=signal.SIG_IGN)
    try:
        _wait_until_listening(port, process)
        process.send_signal(signal.SIGINT)
        answer = requests.get(f"http://127.0.0.1:{port}/flapi/api/getflv/sm9", timeout=10)
        assert answer.text.startswith("closed=1") and process.poll() is None
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == 0 and stderr.decode() == "Emulator stopped.\n"


def test_serve_forever_outside_the_main_thread_serves_until_stopped(world):
    sandbox = Sandbox(world)
    announced = threading.Event()
    runner = threading.Thread(target=sandbox.serve_forever, args=(lambda sb: announced.set(),))
    runner.start()
    try:
        assert announced.wait(30)
        assert requests.get(sandbox.www_url + "/").status_code == 200
    finally:
        sandbox.stop()
        runner.join(30)
    assert not runner.is_alive()
    with pytest.raises(RuntimeError):
        sandbox.url  # noqa: B018
    with Sandbox(world) as started, pytest.raises(RuntimeError):
        started.serve_forever()
