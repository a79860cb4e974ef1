"""Faults, injected answers and tampering, on every surface they target."""

from __future__ import annotations

import time

import pytest
import requests

from nicosandbox import (
    BIG_THREAD_ID,
    FaultPlan,
    Sandbox,
)
from tests.sandbox.helpers import (
    chats_of,
    guest_key,
    parse,
    post_packet,
    thread_xml,
    v1,
    v1_error,
    v1_ok,
    watch_api,
)


@pytest.mark.parametrize(("kind", "status"), [("http500", 500), ("http503", 503), ("http429", 429)])
def test_http_error_faults(sb, kind, status):
    sb.faults = FaultPlan(rate=1.0, kinds=(kind,), retry_after=7)
    r = post_packet(requests, sb, thread_xml(BIG_THREAD_ID))
    assert r.status_code == status and r.content
    if kind == "http429":
        assert r.headers["Retry-After"] == "7"
    assert sb.stats.faulted["msg"] == 1 and sb.stats.thread_requests(BIG_THREAD_ID) == 0
    assert requests.get(sb.url + "/flapi/api/getflv/sm9").status_code == 200  # not a target


def test_drop_and_truncate_faults(sb):
    sb.faults = FaultPlan(rate=1.0, kinds=("drop",))
    with pytest.raises(requests.ConnectionError):
        post_packet(requests, sb, thread_xml(BIG_THREAD_ID))
    sb.faults = FaultPlan(rate=1.0, kinds=("truncate",), targets=("msg", "flapi"))
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.ConnectionError)):
        post_packet(requests, sb, thread_xml(BIG_THREAD_ID))
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.ConnectionError)):
        requests.get(f"{sb.url}/flapi/api/getthreadkey?thread={BIG_THREAD_ID}")  # empty body
    assert sb.stats.thread_requests(BIG_THREAD_ID) == 0
    assert sb.stats.faulted == {"msg": 2, "flapi": 1}
    sb.faults = None
    assert len(chats_of(parse(post_packet(requests, sb, thread_xml(BIG_THREAD_ID))))) == 100
    assert sb.stats.thread_requests(BIG_THREAD_ID) == 1


def test_slow_fault(sb):
    sb.faults = FaultPlan(rate=1.0, kinds=("slow",), slow_seconds=0.3)
    started = time.monotonic()
    assert len(chats_of(parse(post_packet(requests, sb, thread_xml(BIG_THREAD_ID))))) == 100
    assert time.monotonic() - started >= 0.3
    with pytest.raises(requests.Timeout):
        requests.post(f"{sb.url}/msg/10/api/", data=thread_xml(BIG_THREAD_ID), timeout=0.05)


def test_faults_are_seeded_and_drawn_in_arrival_order(world):
    runs = []
    for _ in range(2):
        with Sandbox(
            world, faults=FaultPlan(rate=0.5, kinds=("http500", "http503"), seed=3)
        ) as sandbox:
            session = requests.Session()
            runs.append(
                [
                    post_packet(
                        session, sandbox, thread_xml(BIG_THREAD_ID, res_from="-1")
                    ).status_code
                    for _ in range(40)
                ]
            )
            assert sandbox.stats.faulted["msg"] == sum(code != 200 for code in runs[-1])
            assert sandbox.stats.thread_requests(BIG_THREAD_ID) == runs[-1].count(200)
    assert runs[0] == runs[1] and {200, 500, 503} == set(runs[0])


def test_inject(sb):
    sb.inject("msg", b"<packet><thread resultcode=", times=2)
    sb.inject("flapi", b"error=busy", status=503, content_type="text/plain")
    for _ in range(2):
        r = post_packet(requests, sb, thread_xml(BIG_THREAD_ID))
        assert r.content == b"<packet><thread resultcode=" and r.headers["Content-Type"].startswith(
            "text/xml"
        )
    assert len(chats_of(parse(post_packet(requests, sb, thread_xml(BIG_THREAD_ID))))) == 100
    r = requests.get(sb.url + "/flapi/api/getflv/sm9")
    assert (r.status_code, r.text) == (503, "error=busy")
    assert requests.get(sb.url + "/flapi/api/getflv/sm9").text == "closed=1&done=true"
    assert (
        sb.stats.injected == {"msg": 2, "flapi": 1} and sb.stats.thread_requests(BIG_THREAD_ID) == 1
    )
    with pytest.raises(ValueError):
        sb.inject("nowhere", b"")


def test_inject_a_huge_answer_without_holding_it(sb):
    sb.inject("flapi", b"0123456789", repeat=100_000, declare_length=False)
    with requests.get(sb.url + "/flapi/api/getflv/sm9", stream=True) as r:
        assert "Content-Length" not in r.headers and r.headers["Connection"] == "close"
        assert sum(len(chunk) for chunk in r.iter_content(65536)) == 1_000_000
    sb.inject("flapi", b"0123456789", repeat=3)
    r = requests.get(sb.url + "/flapi/api/getflv/sm9")
    assert r.headers["Content-Length"] == "30" and r.content == b"0123456789" * 3


def test_tamper_edits_the_real_answer_it_is_meant_for(sb):
    seen = []

    def edit(body):
        seen.append(body)
        return body.replace(b"closed=1", b"closed=0") if len(seen) >= 2 else None

    sb.tamper("flapi", edit)
    url = sb.url + "/flapi/api/getflv/sm9"
    assert requests.get(url).text.startswith("closed=1")  # left alone: the edit stays queued
    assert requests.get(url).text.startswith("closed=0")  # edited: the edit is used up
    assert requests.get(url).text.startswith("closed=1") and len(seen) == 2
    assert sb.stats.injected == {"flapi": 1}
    sb.tamper("flapi", lambda body: b"never", times=5)
    sb.clear_injections()
    assert requests.get(url).text.startswith("closed=1")
    with pytest.raises(ValueError):
        sb.tamper("nowhere", edit)


def test_trickle_fault_sends_a_byte_at_a_time(sb):
    sb.faults = FaultPlan(rate=1.0, kinds=("trickle",), targets=("flapi",), trickle_seconds=0.2)
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(sb.url + "/flapi/api/getflv/sm9", timeout=(1, 0.1))  # no byte in 0.1 s
    sb.faults = FaultPlan(rate=1.0, kinds=("trickle",), targets=("flapi",), trickle_seconds=0.001)
    r = requests.get(sb.url + "/flapi/api/getflv/sm9", timeout=(1, 1))  # slow, but all of it
    assert r.status_code == 200 and r.text.startswith("closed=1")
    assert sb.stats.fault_kinds[("flapi", "trickle")] == 2


def test_nvcomment_faults_and_injection(sb):
    key, main = guest_key(sb), [(BIG_THREAD_ID, "main")]
    sb.faults = FaultPlan(rate=1.0, kinds=("http503",), targets=("nvcomment",))
    assert v1(sb, key, main).status_code == 503
    assert watch_api(requests, sb, "sm9", guest=True).status_code == 200  # www not targeted
    sb.faults = None
    sb.inject(
        "nvcomment",
        b'{"meta":{"status":400,"errorCode":"EXPIRED_TOKEN"}}',
        status=400,
        content_type="application/json",
    )
    assert v1_error(sb, key, main) == (400, "EXPIRED_TOKEN")
    assert v1_ok(sb, key, main)
    assert sb.stats.faulted == {"nvcomment": 1} and sb.stats.injected == {"nvcomment": 1}
    assert sb.stats.v1_requests(BIG_THREAD_ID) == 1 and not sb.stats.v1_errors
