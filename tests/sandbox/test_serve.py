"""The server around the surfaces: the registry, knobs, statistics, addresses, and running
until a stop signal (`Sandbox.serve_forever`, `nico sandbox serve`)."""

from __future__ import annotations

import dataclasses
import re

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
        }
    )
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", sb.url)


# -- the surfaces and the knobs ----------------------------------------------------------------


def test_every_surface_is_mounted_under_its_group(sb):
    assert tuple(surface.group for surface in SURFACES) == ROUTE_GROUPS
    assert len(set(ROUTE_GROUPS)) == len(ROUTE_GROUPS) == 6
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
    changed |= {"watch_page_meta": False}
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
