"""The emulator's live surface on its own (live.md): its own .proto declares the client's wire,
watch pages, the timeshift API, the watch WebSocket, and the message server's view, segments
and backward chains, read here with the protobuf runtime and plain HTTP/WebSocket clients."""

from __future__ import annotations

import html
import json
import re

import pytest
import requests
from google.protobuf.internal.decoder import _DecodeVarint32
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from nicocomments.live import ndgr_pb2 as client_pb
from nicosandbox import DEMO_EMAIL, MFA_EMAIL
from nicosandbox import ndgr_pb2 as pb
from nicosandbox.liveworld import (
    BACKWARD_BATCH,
    LIVE_ENDED_ID,
    LIVE_EXPIRED_ID,
    LIVE_NO_TIMESHIFT_ID,
    LIVE_ON_AIR_ID,
    LIVE_PREMIUM_ID,
)
from tests import protogen

FRONTEND = {"X-Frontend-Id": "9"}


def _wire(descriptor) -> dict:
    """A message's wire: field numbers, types and labels, nested messages and enums too."""
    return {
        "fields": {
            f.name: (
                f.number,
                f.type,
                f.is_repeated,
                f.has_presence,
                f.containing_oneof.name if f.containing_oneof else "",
            )
            for f in descriptor.fields
        },
        "nested": {n.name: _wire(n) for n in descriptor.nested_types},
        "enums": {e.name: [(v.name, v.number) for v in e.values] for e in descriptor.enum_types},
    }


def test_the_emulators_proto_declares_the_clients_wire():
    ours, theirs = pb.DESCRIPTOR.message_types_by_name, client_pb.DESCRIPTOR.message_types_by_name
    assert set(ours) == set(theirs)
    for name in ours:
        assert _wire(ours[name]) == _wire(theirs[name]), name


def test_the_emulators_generated_code_matches_its_proto():
    assert protogen.generate(protogen.SANDBOX_PROTO) == protogen.SANDBOX_GENERATED.read_text(
        encoding="utf-8"
    )


def _login(sb, email: str) -> requests.Session:
    session = requests.Session()
    session.cookies.set("user_session", sb.sessions.create(sb.world.accounts[email]))
    return session


def _embedded(sb, program_id: str, session=None) -> dict:
    answer = (session or requests).get(f"{sb.state.url('live')}/watch/{program_id}", timeout=5)
    assert answer.status_code == 200
    props = re.search(r'id="embedded-data" data-props="([^"]*)"', answer.text).group(1)
    return json.loads(html.unescape(props))


def _view_uri(socket_url: str) -> str:
    with connect(socket_url) as socket:
        socket.send(json.dumps({"type": "startWatching", "data": {"reconnect": False}}))
        while True:
            message = json.loads(socket.recv(timeout=5))
            if message["type"] == "messageServer":
                return message["data"]["viewUri"]


def _delimited(data: bytes, kind) -> list:
    out, position = [], 0
    while position < len(data):
        length, position = _DecodeVarint32(data, position)
        out.append(kind.FromString(data[position : position + length]))
        position += length
    return out


def test_watch_pages_say_who_may_watch(sb):
    on_air = _embedded(sb, LIVE_ON_AIR_ID)
    assert on_air["program"]["status"] == "ON_AIR"
    assert on_air["site"]["relive"]["webSocketUrl"].startswith("ws://")
    ended = _embedded(sb, LIVE_ENDED_ID)
    assert ended["program"]["status"] == "ENDED" and ended["site"]["relive"]["webSocketUrl"] == ""
    assert requests.get(f"{sb.state.url('live')}/watch/lv9", timeout=5).status_code == 404


def test_a_timeshift_is_reserved_then_started_then_watched(sb):
    session = _login(sb, MFA_EMAIL)
    url = f"{sb.state.url('live2')}/api/v2/programs/{LIVE_ENDED_ID}/timeshift/reservation"
    assert session.patch(url, headers=FRONTEND).json()["meta"]["errorCode"] == (
        "RESERVATION_NOT_FOUND"
    )
    assert session.post(url, headers=FRONTEND).status_code == 200
    assert session.post(url, headers=FRONTEND).json()["meta"]["errorCode"] == "DUPLICATED"
    assert _embedded(sb, LIVE_ENDED_ID, session)["site"]["relive"]["webSocketUrl"] == ""
    assert session.patch(url, headers=FRONTEND).status_code == 200
    assert _embedded(sb, LIVE_ENDED_ID, session)["site"]["relive"]["webSocketUrl"]
    assert requests.post(url, headers=FRONTEND).status_code == 401  # a guest
    assert session.post(url).status_code == 400  # no X-Frontend-Id


@pytest.mark.parametrize(
    ("program_id", "email", "code"),
    [
        (LIVE_PREMIUM_ID, MFA_EMAIL, "NO_PERMISSION"),
        (LIVE_EXPIRED_ID, DEMO_EMAIL, "EXPIRED"),
        (LIVE_NO_TIMESHIFT_ID, DEMO_EMAIL, "NOT_AVAILABLE"),
    ],
)
def test_timeshift_refusals(sb, program_id, email, code):
    url = f"{sb.state.url('live2')}/api/v2/programs/{program_id}/timeshift/reservation"
    answer = _login(sb, email).post(url, headers=FRONTEND)
    assert answer.status_code == 403 and answer.json()["meta"]["errorCode"] == code


def test_the_premium_timeshift_opens_to_a_premium_member(sb):
    url = f"{sb.state.url('live2')}/api/v2/programs/{LIVE_PREMIUM_ID}/timeshift/reservation"
    assert _login(sb, DEMO_EMAIL).post(url, headers=FRONTEND).status_code == 200


def test_the_websocket_refuses_an_unknown_token_and_times_out_a_silent_client(sb):
    socket_url = _embedded(sb, LIVE_ON_AIR_ID)["site"]["relive"]["webSocketUrl"]
    with pytest.raises(InvalidStatus) as refused:
        connect(re.sub(r"audience_token=[^&]+", "audience_token=nope", socket_url))
    assert refused.value.response.status_code == 403
    sb.live_ping_seconds = 0.2
    with connect(socket_url) as socket:
        socket.send(json.dumps({"type": "startWatching", "data": {"reconnect": False}}))
        kinds = []
        while not kinds or kinds[-1] != "disconnect":
            message = json.loads(socket.recv(timeout=5))
            kinds.append(message["type"])
        assert message["data"]["reason"] == "PING_TIMEOUT"  # we never answered the ping
    assert kinds[:3] == ["seat", "serverTime", "messageServer"] and "ping" in kinds


def test_the_view_backward_chain_ends_partway_and_segments_hold_the_slices(sb, world):
    program = world.live_programs[LIVE_ON_AIR_ID]
    now = world.live_anchor + 100
    sb.clock = lambda: now
    view_uri = _view_uri(_embedded(sb, LIVE_ON_AIR_ID)["site"]["relive"]["webSocketUrl"])
    first = _delimited(
        requests.get(view_uri, params={"at": "now"}, timeout=5).content, pb.ChunkedEntry
    )
    assert [e.WhichOneof("entry") for e in first] == ["next"] and first[0].next.at == now
    entries = _delimited(
        requests.get(view_uri, params={"at": now}, timeout=5).content, pb.ChunkedEntry
    )
    assert [e.WhichOneof("entry") for e in entries] == ["backward", "previous", "segment", "next"]
    segment = entries[2].segment
    start, until = getattr(segment, "from").seconds, segment.until.seconds
    assert start <= now < until == entries[3].next.at
    messages = _delimited(requests.get(segment.uri, timeout=5).content, pb.ChunkedMessage)
    assert [m.meta.id for m in messages] == [
        m.message_id for m in program.messages if start <= m.moment < min(until, now + 1e-9)
    ]
    # Backward: BACKWARD_BATCH messages an answer, ascending, until the chain ends partway.
    uri, answers, ids = entries[0].backward.segment.uri, 0, []
    while uri:
        packed = pb.PackedSegment.FromString(requests.get(uri, timeout=5).content)
        batch = [m.meta.id for m in packed.messages]
        assert len(batch) == BACKWARD_BATCH
        ids = batch + ids
        answers += 1
        uri = packed.next.uri
    assert answers == program.chain_batches
    before = program.index_before(entries[0].backward.until.seconds)
    assert ids == [m.message_id for m in program.messages[before - len(ids) : before]]
    assert before - len(ids) > 0  # the program's start was not reached: a client must re-seed
