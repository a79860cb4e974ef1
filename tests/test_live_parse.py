"""Parsers of the NDGR answers and the mapping to our comment record (live.md §3, §4), on bytes
written by the official runtime from the project's .proto."""

from __future__ import annotations

import base64

import pytest

from nicocomments.errors import BadAnswer
from nicocomments.live import ndgr_pb2 as pb
from nicocomments.live.parse import (
    LIVE_FORK,
    UNKNOWN_EVENT,
    BackwardSegment,
    LiveComment,
    LiveEvent,
    LiveSignal,
    LiveState,
    MessageSegment,
    ReadyForNext,
    iter_segment_items,
    iter_view_entries,
    parse_chunked_message,
    parse_packed_segment,
    parse_view_entry,
)
from nicocomments.records import Comment
from tests.livewire import chat_message, delimited, field, gift_message, length_field, varint

LV = "lv345678"
Mod = pb.Chat.Modifier


def _parse(message: pb.ChunkedMessage):
    return parse_chunked_message(message.SerializeToString(), LV)


# --- the view stream -------------------------------------------------------------------------


def _view_stream() -> bytes:
    backward = pb.ChunkedEntry()
    backward.backward.until.seconds = 1_722_840_000
    backward.backward.segment.uri = "https://mpn.example/data/backward/v4/b1"
    backward.backward.snapshot.uri = "https://mpn.example/data/snapshot/v4/s1"
    previous = pb.ChunkedEntry()
    getattr(previous.previous, "from").seconds = 1_722_840_000
    previous.previous.until.seconds = 1_722_840_016
    previous.previous.uri = "https://mpn.example/data/segment/v4/p1"
    segment = pb.ChunkedEntry()
    getattr(segment.segment, "from").seconds = 1_722_840_016
    segment.segment.until.seconds = 1_722_840_032
    segment.segment.uri = "https://mpn.example/data/segment/v4/s2"
    ready = pb.ChunkedEntry()
    ready.next.at = 1_722_840_032
    return delimited([backward, previous, segment, ready])


def test_view_entries_of_every_kind():
    assert list(iter_view_entries([_view_stream()])) == [
        BackwardSegment(
            uri="https://mpn.example/data/backward/v4/b1",
            until_at=1_722_840_000,
            snapshot_uri="https://mpn.example/data/snapshot/v4/s1",
        ),
        MessageSegment(
            "https://mpn.example/data/segment/v4/p1", 1_722_840_000, 1_722_840_016, True
        ),
        MessageSegment(
            "https://mpn.example/data/segment/v4/s2", 1_722_840_016, 1_722_840_032, False
        ),
        ReadyForNext(at=1_722_840_032),
    ]


def test_view_entries_arrive_as_the_chunks_do():
    stream = _view_stream()
    chunks = [stream[i : i + 7] for i in range(0, len(stream), 7)]
    assert list(iter_view_entries(chunks)) == list(iter_view_entries([stream]))


def test_an_unknown_view_entry_kind_is_skipped_and_unknown_fields_ignored():
    ready = pb.ChunkedEntry()
    ready.next.at = 99
    future_kind = length_field(9, b"\x08\x01")  # ChunkedEntry member 9: not in live.md
    # a ReadyForNext with an extra field 5, inside an entry with an extra field 12
    extended = length_field(4, ready.next.SerializeToString() + field(5, 0, varint(7)))
    extended += length_field(12, b"later")
    assert list(iter_view_entries([delimited([future_kind, extended, b""])])) == [ReadyForNext(99)]
    assert parse_view_entry(future_kind) is None


def test_a_segment_without_an_address_is_a_bad_answer():
    entry = pb.ChunkedEntry()
    entry.segment.until.seconds = 5
    with pytest.raises(BadAnswer, match="segment segment without an address"):
        parse_view_entry(entry.SerializeToString())


def test_garbage_is_a_one_line_bad_answer():
    with pytest.raises(BadAnswer, match="view stream entry that is not a valid protocol buffer"):
        parse_view_entry(b"\x0a\x05ab")  # a length running past the end
    with pytest.raises(BadAnswer, match="message that is not a valid protocol buffer"):
        parse_chunked_message(b"\xff\xff\xff", LV)


# --- backward answers ------------------------------------------------------------------------


def test_a_packed_segment_gives_its_messages_in_order_and_the_next_uri():
    packed = pb.PackedSegment()
    for i in range(3):
        packed.messages.append(chat_message(f"m{i}", no=i + 1, vpos=100 * i))
    packed.messages.append(gift_message("g1"))
    packed.next.uri = "https://mpn.example/data/backward/v4/older"
    packed.snapshot.uri = "https://mpn.example/data/snapshot/v4/x"
    batch = parse_packed_segment(packed.SerializeToString(), LV)
    assert [item.message_id for item in batch.items] == ["m0", "m1", "m2", "g1"]
    assert [type(item) for item in batch.items] == [LiveComment] * 3 + [LiveEvent]
    assert batch.next_uri == "https://mpn.example/data/backward/v4/older"
    assert batch.snapshot_uri == "https://mpn.example/data/snapshot/v4/x"


def test_the_last_packed_segment_has_no_next():
    packed = pb.PackedSegment()
    packed.messages.append(chat_message("m"))
    batch = parse_packed_segment(packed.SerializeToString(), LV)
    assert batch.next_uri is None
    assert parse_packed_segment(b"", LV).items == []


def test_segment_streams_give_items_and_skip_unknown_payloads():
    unknown_payload = pb.ChunkedMessage()
    unknown_payload.meta.id = "future"
    raw = unknown_payload.SerializeToString() + length_field(7, b"\x08\x01")  # payload member 7
    stream = delimited([chat_message("a", no=1), raw, chat_message("b", no=2)])
    assert [item.message_id for item in iter_segment_items([stream], LV)] == ["a", "b"]
    assert parse_chunked_message(raw, LV) is None


# --- the comment mapping (§4) ----------------------------------------------------------------


def test_a_chat_maps_to_our_comment_record():
    message = chat_message(
        "AQIDBA",
        no=1234,
        vpos=45678,
        at=1_722_840_123,
        nanos=987_654_321,
        content="こんにちは",
        raw_user_id=2_345_678,
        account_status=pb.Chat.Premium,
        name="ななし",
        modifier={"position": Mod.ue, "named_color": Mod.red},
    )
    shared = {
        "thread_id": LV,
        "fork": LIVE_FORK,
        "no": 1234,
        "vpos_ms": 456_780,
        "posted_at": 1_722_840_123,
        "content": "こんにちは",
        "commands": "ue red",
        "date_usec": 987_654,
        "user_id": "2345678",
        "is_premium": True,
        "is_anonymous": False,
    }
    comment = _parse(message)
    assert comment == LiveComment(**shared, message_id="AQIDBA", is_overflowed=False, name="ななし")
    assert comment.to_comment() == Comment(
        **shared, message_id="AQIDBA", is_overflowed=False, name="ななし"
    )
    assert LIVE_FORK == "live"


@pytest.mark.parametrize(
    ("fields", "user_id", "anonymous"),
    [
        ({"raw_user_id": 77, "hashed_user_id": "a:xyz"}, "77", False),
        ({"raw_user_id": 0, "hashed_user_id": "a:xyz"}, "a:xyz", True),
        ({"hashed_user_id": "a:xyz"}, "a:xyz", True),  # raw_user_id absent
        ({}, None, True),
        ({"raw_user_id": -5, "hashed_user_id": "a:neg"}, "a:neg", True),
    ],
)
def test_user_is_the_raw_id_when_positive_else_the_hashed_id(fields, user_id, anonymous):
    comment = _parse(chat_message("m", **fields))
    assert (comment.user_id, comment.is_anonymous) == (user_id, anonymous)
    assert comment.commands.startswith("184") == anonymous


def test_standard_accounts_are_not_premium():
    assert not _parse(chat_message("m", account_status=pb.Chat.Standard)).is_premium
    assert _parse(chat_message("m", account_status=pb.Chat.Premium)).is_premium


def test_vpos_is_hundredths_and_may_be_negative():
    assert _parse(chat_message("m", vpos=-250)).vpos_ms == -2500
    assert _parse(chat_message("m", vpos=1)).vpos_ms == 10


def test_an_overflowed_chat_is_kept_flagged():
    comment = _parse(chat_message("m", overflowed=True, content="溢れた", raw_user_id=1))
    assert comment.is_overflowed
    assert comment.content == "溢れた"
    assert not _parse(chat_message("m")).is_overflowed


def test_a_chat_without_a_name_has_none():
    assert _parse(chat_message("m")).name is None
    assert _parse(chat_message("m", name="")).name == ""  # sent, though empty


@pytest.mark.parametrize(
    ("raw_user_id", "modifier", "commands"),
    [
        (1, {}, ""),
        (None, {}, "184"),
        (0, {}, "184"),
        (1, {"position": Mod.ue}, "ue"),
        (1, {"position": Mod.shita}, "shita"),
        (1, {"position": Mod.naka}, ""),
        (1, {"size": Mod.big}, "big"),
        (1, {"size": Mod.small}, "small"),
        (1, {"size": Mod.medium}, ""),
        (1, {"named_color": Mod.white}, ""),
        (1, {"named_color": Mod.white2}, "white2"),
        (1, {"named_color": Mod.black2}, "black2"),
        (1, {"named_color": Mod.cyan}, "cyan"),
        (1, {"full_color": (255, 0, 128)}, "#ff0080"),
        (1, {"full_color": (0, 0, 0)}, "#000000"),  # black given as full colour is still written
        (1, {"full_color": (300, -4, 10)}, "#ff000a"),  # out of range: clamped, never "#12cfffc0a"
        (1, {"font": Mod.mincho}, "mincho"),
        (1, {"font": Mod.gothic}, "gothic"),
        (1, {"font": Mod.defont}, ""),
        (1, {"opacity": Mod.Translucent}, "translucent"),
        (1, {"opacity": Mod.Normal}, ""),
        (
            0,
            {
                "opacity": Mod.Translucent,
                "font": Mod.gothic,
                "named_color": Mod.purple2,
                "size": Mod.small,
                "position": Mod.shita,
            },
            "184 shita small purple2 gothic translucent",
        ),
        (
            None,
            {"position": Mod.ue, "size": Mod.big, "full_color": (1, 2, 3), "font": Mod.mincho},
            "184 ue big #010203 mincho",
        ),
    ],
)
def test_commands_are_rebuilt_by_the_rule_in_its_order(raw_user_id, modifier, commands):
    fields = {} if raw_user_id is None else {"raw_user_id": raw_user_id}
    assert _parse(chat_message("m", modifier=modifier, **fields)).commands == commands


def test_modifier_values_this_version_does_not_know_are_left_out():
    message = chat_message("m", raw_user_id=1, modifier={"size": Mod.big})
    chat = message.message.chat
    chat.modifier.position = 7  # proto3 enums are open: a newer server may send any number
    chat.modifier.named_color = 42
    chat.modifier.font = 9
    chat.modifier.opacity = 3
    assert _parse(message).commands == "big"


def test_a_chat_with_unknown_fields_parses_as_if_they_were_absent():
    message = chat_message("m", no=5, raw_user_id=9, modifier={"position": Mod.ue})
    plain = _parse(message)
    chat = message.message.chat
    modifier = chat.modifier.SerializeToString() + field(15, 0, varint(3))
    chat_bytes = chat.SerializeToString() + field(50, 0, varint(123)) + length_field(7, modifier)
    nicolive = length_field(1, chat_bytes) + field(120, 5, b"\x00\x00\x80\x3f")  # a float
    meta = message.meta.SerializeToString() + length_field(4, b"new meta")
    wire = length_field(1, meta) + length_field(2, nicolive) + field(30, 0, varint(1))
    assert parse_chunked_message(wire, LV) == plain


def test_a_comment_without_a_message_id_or_a_time_is_a_bad_answer():
    message = chat_message("", no=12)
    with pytest.raises(BadAnswer, match="comment no 12 without a message id"):
        _parse(message)
    message = chat_message("x", no=13)
    message.meta.ClearField("at")
    with pytest.raises(BadAnswer, match="comment no 13 without a posting time"):
        _parse(message)


# --- events, states, signals -----------------------------------------------------------------


def test_a_gift_is_an_event_with_its_json_payload():
    event = _parse(gift_message("g1", at=1_722_840_500, point=1200))
    assert isinstance(event, LiveEvent)
    assert (event.thread_id, event.message_id, event.kind) == (LV, "g1", "gift")
    assert (event.posted_at, event.date_usec) == (1_722_840_500, 0)
    assert event.payload == {
        "item_id": "nicoad-kaede",
        "advertiser_user_id": "12345",  # proto3 JSON writes int64 as strings
        "advertiser_name": "ギフト主",
        "point": "1200",
        "message": "おめでとう",
        "item_name": "楓",
        "contribution_rank": 3,
    }
    assert pb.NicoliveMessage.FromString(event.raw).gift.point == 1200


@pytest.mark.parametrize(
    "kind", ["ichiba", "quote", "emotion", "cruise", "program_extended", "visited", "user_level_up"]
)
def test_simple_notifications_keep_their_kind_in_the_payload(kind):
    message = pb.ChunkedMessage()
    message.meta.id = "n1"
    setattr(message.message.simple_notification, kind, "text of it")
    event = _parse(message)
    assert (event.kind, event.payload) == ("simple_notification", {kind: "text of it"})


def test_kinds_live_md_names_but_does_not_describe_keep_their_bytes():
    # nicoad's fields are not declared: they arrive as unknown fields, the payload is empty,
    # and the raw NicoliveMessage keeps them for a later version to decode.
    nicoad_v1 = length_field(2, field(1, 0, varint(3000)) + length_field(2, "広告".encode()))
    message = pb.ChunkedMessage()
    message.meta.id = "ad1"
    message.message.nicoad.MergeFromString(nicoad_v1)
    event = parse_chunked_message(message.SerializeToString(), LV)
    assert (event.kind, event.payload) == ("nicoad", {})
    assert event.raw == length_field(9, nicoad_v1)


def test_an_unknown_nicolive_message_member_is_skipped_as_a_comment_but_kept_raw():
    """Field 99 of NicoliveMessage is no member this version knows: never fatal."""
    member = length_field(99, b"\x0a\x03new")
    message = pb.ChunkedMessage()
    message.meta.id = "u1"
    message.meta.at.seconds = 1_722_840_000
    wire = message.SerializeToString() + length_field(2, member)
    event = parse_chunked_message(wire, LV)
    assert event == LiveEvent(LV, "u1", 1_722_840_000, 0, UNKNOWN_EVENT, {}, member)
    # and a stream holding one goes on to the comments after it
    stream = delimited([wire, chat_message("c1")])
    assert [type(i) for i in iter_segment_items([stream], LV)] == [LiveEvent, LiveComment]


def test_an_empty_nicolive_message_is_nothing():
    message = pb.ChunkedMessage()
    message.meta.id = "e"
    message.message.SetInParent()
    assert _parse(message) is None


def test_an_event_without_a_message_id_is_a_bad_answer():
    message = gift_message("")
    with pytest.raises(BadAnswer, match="gift without a message id"):
        _parse(message)


def test_states_and_signals():
    state = pb.ChunkedMessage()
    state.meta.id = "s1"
    state.meta.at.seconds = 10
    statistics = length_field(1, field(1, 0, varint(5000)))  # NicoliveState.statistics.viewers
    state.state.MergeFromString(statistics)
    assert _parse(state) == LiveState(LV, "s1", 10, statistics)
    assert base64.b64encode(_parse(state).raw)  # bytes a store can keep

    flushed = pb.ChunkedMessage()
    flushed.signal = pb.ChunkedMessage.Flushed  # 0, but a oneof member: sent and seen
    assert flushed.SerializeToString() == b"\x28\x00"
    assert _parse(flushed) == LiveSignal(LV, None, "Flushed")
    future = pb.ChunkedMessage()
    future.signal = 4
    assert _parse(future) == LiveSignal(LV, None, "signal 4")
