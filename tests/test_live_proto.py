"""nicocomments/live/ndgr.proto: the wire numbers of live.md §3, and generated code that never
drifts from the .proto nor outruns the protobuf runtime pyproject.toml allows."""

from __future__ import annotations

import re
import tomllib

import pytest

from nicocomments.live import ndgr_pb2 as pb
from tests import protogen

# live.md §3, message by message: field name → wire number.
LIVE_MD_FIELDS = {
    pb.ChunkedEntry: {"segment": 1, "backward": 2, "previous": 3, "next": 4},
    pb.ChunkedEntry.ReadyForNext: {"at": 1},
    pb.MessageSegment: {"from": 1, "until": 2, "uri": 3},
    pb.BackwardSegment: {"until": 1, "segment": 2, "snapshot": 3},
    pb.PackedSegment: {"messages": 1, "next": 2, "snapshot": 3},
    pb.PackedSegment.Next: {"uri": 1},
    pb.PackedSegment.StateSnapshot: {"uri": 1},
    pb.ChunkedMessage: {"meta": 1, "message": 2, "state": 4, "signal": 5},
    pb.ChunkedMessage.Meta: {"id": 1, "at": 2, "origin": 3},
    pb.NicoliveOrigin: {"chat": 1},
    pb.NicoliveOrigin.Chat: {"live_id": 1},
    pb.NicoliveMessage: {
        "chat": 1,
        "simple_notification": 7,
        "gift": 8,
        "nicoad": 9,
        "game_update": 13,
        "tag_updated": 17,
        "moderator_updated": 18,
        "ssng_updated": 19,
        "overflowed_chat": 20,
        "forwarded_chat": 22,
        "simple_notification_v2": 23,
        "akashic_message_event": 24,
        "features_updated": 25,
        "cruise_recent_contents": 26,
    },
    pb.Chat: {
        "content": 1,
        "name": 2,
        "vpos": 3,
        "account_status": 4,
        "raw_user_id": 5,
        "hashed_user_id": 6,
        "modifier": 7,
        "no": 8,
    },
    pb.Chat.Modifier: {
        "position": 1,
        "size": 2,
        "named_color": 3,
        "full_color": 4,
        "font": 5,
        "opacity": 6,
    },
    pb.Chat.Modifier.FullColor: {"r": 1, "g": 2, "b": 3},
    pb.Gift: {
        "item_id": 1,
        "advertiser_user_id": 2,
        "advertiser_name": 3,
        "point": 4,
        "message": 5,
        "item_name": 6,
        "contribution_rank": 7,
    },
    pb.SimpleNotification: {
        "ichiba": 1,
        "quote": 2,
        "emotion": 3,
        "cruise": 4,
        "program_extended": 5,
        "ranking_in": 6,
        "visited": 7,
        "ranking_updated": 8,
        "supporter_registered": 9,
        "user_level_up": 10,
    },
}
LIVE_MD_ENUMS = {
    pb.ChunkedMessage.Signal: ["Flushed"],
    pb.Chat.AccountStatus: ["Standard", "Premium"],
    pb.Chat.Modifier.Pos: ["naka", "shita", "ue"],
    pb.Chat.Modifier.Size: ["medium", "small", "big"],
    pb.Chat.Modifier.ColorName: [
        *("white", "red", "pink", "orange", "yellow", "green", "cyan", "blue", "purple", "black"),
        *("white2", "red2", "pink2", "orange2", "yellow2", "green2", "cyan2", "blue2", "purple2"),
        "black2",
    ],
    pb.Chat.Modifier.Font: ["defont", "mincho", "gothic"],
    pb.Chat.Modifier.Opacity: ["Normal", "Translucent"],
}


@pytest.mark.parametrize("message", LIVE_MD_FIELDS, ids=lambda m: m.DESCRIPTOR.full_name)
def test_every_field_has_the_number_live_md_gives(message):
    declared = {f.name: f.number for f in message.DESCRIPTOR.fields}
    assert declared == LIVE_MD_FIELDS[message]


@pytest.mark.parametrize("enum", LIVE_MD_ENUMS, ids=lambda e: e.DESCRIPTOR.full_name)
def test_every_enum_value_has_the_number_live_md_gives(enum):
    assert [(v.name, v.number) for v in enum.DESCRIPTOR.values] == list(
        zip(LIVE_MD_ENUMS[enum], range(len(LIVE_MD_ENUMS[enum])), strict=True)
    )


def test_the_oneofs_group_what_live_md_groups():
    def oneof(message, name):
        return {f.name for f in message.DESCRIPTOR.oneofs_by_name[name].fields}

    assert oneof(pb.ChunkedEntry, "entry") == set(LIVE_MD_FIELDS[pb.ChunkedEntry])
    assert oneof(pb.ChunkedMessage, "payload") == {"message", "state", "signal"}
    assert oneof(pb.NicoliveMessage, "data") == set(LIVE_MD_FIELDS[pb.NicoliveMessage])
    assert oneof(pb.Chat.Modifier, "color") == {"named_color", "full_color"}
    assert oneof(pb.SimpleNotification, "notification") == set(
        LIVE_MD_FIELDS[pb.SimpleNotification]
    )


def test_optional_fields_track_presence():
    chat = pb.Chat()
    for name in ("name", "raw_user_id", "hashed_user_id"):
        assert not chat.HasField(name)
    chat.raw_user_id = 0
    assert chat.HasField("raw_user_id")  # 0 sent explicitly is not "absent"


def test_a_hand_encoded_chat_decodes_by_live_md_numbers():
    # content=1 "a", vpos=3 150, raw_user_id=5 7, modifier=7 {position=1 ue(2)}, no=8 42
    wire = bytes([0x0A, 1, 0x61, 0x18, 0x96, 0x01, 0x28, 7, 0x3A, 2, 0x08, 2, 0x40, 42])
    chat = pb.Chat.FromString(wire)
    assert (chat.content, chat.vpos, chat.raw_user_id, chat.no) == ("a", 150, 7, 42)
    assert chat.modifier.position == pb.Chat.Modifier.ue


def test_generated_code_matches_the_proto():
    """Fails when ndgr.proto was edited without `python -m tests.protogen` (or the other way)."""
    assert protogen.generate() == protogen.GENERATED.read_text(encoding="utf-8")


def test_generated_code_runs_on_every_runtime_pyproject_allows():
    """The gencode refuses a runtime older than itself, so the dependency's floor must be at
    least the gencode version, and the installed runtime inside the declared range."""
    import google.protobuf

    text = protogen.GENERATED.read_text(encoding="utf-8")
    found = re.search(r"ValidateProtobufRuntimeVersion\(\s*\S+,\s*(\d+),\s*(\d+),\s*(\d+),", text)
    gencode = tuple(int(n) for n in found.groups())
    with open(protogen.ROOT / "pyproject.toml", "rb") as file:
        project = tomllib.load(file)["project"]
    (spec,) = [d for d in project["dependencies"] if d.startswith("protobuf")]
    floor = tuple(int(n) for n in re.search(r">=([\d.]+)", spec).group(1).split("."))
    ceiling_major = int(re.search(r"<(\d+)", spec).group(1))
    assert floor >= gencode, f"{spec} lets in runtimes older than the gencode {gencode}"
    assert ceiling_major > gencode[0]
    runtime = tuple(int(n) for n in google.protobuf.__version__.split(".")[:3])
    assert floor <= runtime and runtime[0] < ceiling_major
