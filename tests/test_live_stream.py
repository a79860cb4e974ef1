"""The length-delimited stream reader (live.md §2) on streams written by the official runtime."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nicocomments.errors import BadAnswer, ExitStatus
from nicocomments.live import ndgr_pb2 as pb
from nicocomments.live.stream import MAX_STREAM_MESSAGE_BYTES, DelimitedReader, iter_delimited
from tests.livewire import chat_message, delimited, varint


def _read(chunks, **kwargs):
    return list(iter_delimited(chunks, **kwargs))


def test_varint_prefixes_are_what_the_runtime_writes():
    # The prefix of every stream below comes from the runtime; check it is the varint we parse.
    assert [varint(n) for n in (0, 1, 127, 128, 300, 16384)] == [
        b"\x00", b"\x01", b"\x7f", b"\x80\x01", b"\xac\x02", b"\x80\x80\x01",
    ]  # fmt: skip


def test_many_messages_in_one_chunk():
    messages = [chat_message(f"id{i}", no=i).SerializeToString() for i in range(50)]
    assert _read([delimited(messages)]) == messages


def test_a_message_split_across_chunks_waits_for_the_rest():
    message = chat_message("id", content="x" * 1000).SerializeToString()
    stream = delimited([message])
    reader = DelimitedReader()
    reader.feed(stream[:500])
    assert reader.pop() is None
    assert reader.pending == 500
    reader.feed(stream[500:])
    assert reader.pop() == message
    assert reader.pop() is None
    assert reader.pending == 0


def test_a_length_split_across_chunks():
    message = chat_message("id", content="y" * 20000).SerializeToString()
    assert len(varint(len(message))) == 3  # the prefix itself is split below
    stream = delimited([message, message])
    reader = DelimitedReader()
    popped = []
    for byte in stream:  # one byte per chunk: every split point, varint bytes included
        reader.feed(bytes([byte]))
        popped.extend(reader.messages())
    assert popped == [message, message]


def test_empty_messages_are_messages():
    empty = pb.ChunkedMessage().SerializeToString()
    assert empty == b""
    assert _read([delimited([empty, chat_message("a"), empty])])[::2] == [empty, empty]


def test_a_declared_length_over_the_limit_is_refused_before_its_body_arrives():
    reader = DelimitedReader(max_message_bytes=1000)
    reader.feed(varint(1000) + b"x" * 1000)
    assert reader.pop() == b"x" * 1000
    reader.feed(varint(1001))  # no body yet: the length alone is enough to refuse
    with pytest.raises(BadAnswer, match="declares a 1001-byte message; the limit is 1000") as info:
        reader.pop()
    assert info.value.exit_status == ExitStatus.SERVER
    assert "\n" not in str(info.value)


def test_the_default_limit_applies():
    with pytest.raises(BadAnswer, match=f"limit is {MAX_STREAM_MESSAGE_BYTES} bytes"):
        _read([varint(MAX_STREAM_MESSAGE_BYTES + 1)])
    huge = 2**63  # a 10-byte varint the runtime could write: still only a length
    with pytest.raises(BadAnswer, match="declares a"):
        _read([varint(huge)])


def test_a_length_of_more_than_ten_bytes_is_garbage():
    with pytest.raises(BadAnswer, match="garbled"):
        _read([b"\xff" * 11 + b"\x01"])


def test_a_stream_cut_off_midway_is_an_error_not_a_silent_loss():
    stream = delimited([chat_message("a"), chat_message("b")])
    with pytest.raises(BadAnswer, match="ended in the middle of a message"):
        _read([stream[:-3]])
    with pytest.raises(BadAnswer, match="ended in the middle"):
        _read([stream + b"\x85"])  # a varint cut off after its first byte


def test_the_buffer_does_not_grow_with_what_was_already_read():
    reader = DelimitedReader()
    message = chat_message("a", content="z" * 100).SerializeToString()
    for _ in range(2000):
        reader.feed(delimited([message]))
        assert reader.pop() == message
    assert len(reader._buffer) < 4 * len(message)


# --- property: any chunking of any stream gives back the messages written -------------------

_texts = st.text(max_size=20)
_chat = st.builds(
    lambda i, no, vpos, content, repeat, raw, hashed: chat_message(
        f"msg-{i}",
        no=no,
        vpos=vpos,
        content=content * repeat,
        raw_user_id=raw,
        hashed_user_id=hashed,
    ),
    st.integers(0, 10**6),
    st.integers(0, 2**31 - 1),
    st.integers(-(2**31), 2**31 - 1),
    _texts,
    st.sampled_from([0, 1, 2, 50, 1000]),  # up to ~80 KB: lengths of 1, 2 and 3 varint bytes
    st.integers(0, 2**63 - 1),
    _texts,
)
_empty = st.just(pb.ChunkedMessage())


def _entry(kind, uri, at):
    entry = pb.ChunkedEntry()
    if kind == "next":
        entry.next.at = at
    elif kind == "backward":
        entry.backward.segment.uri = uri
        entry.backward.until.seconds = at
    else:
        getattr(entry, kind).uri = uri
        getattr(entry, kind).until.seconds = at
    return entry


_view_entry = st.builds(
    _entry,
    st.sampled_from(["segment", "previous", "backward", "next"]),
    _texts,
    st.integers(0, 2**40),
)


@st.composite
def _chunked(draw, messages):
    """A stream of ``messages`` cut at arbitrary points (empty chunks included)."""
    stream = delimited(messages)
    cuts = draw(st.lists(st.integers(0, len(stream)), max_size=30))
    bounds = [0, *sorted(cuts), len(stream)]
    return [stream[a:b] for a, b in itertools.pairwise(bounds)]


@settings(max_examples=200, deadline=None)
@given(data=st.data(), messages=st.lists(st.one_of(_chat, _empty, _view_entry), max_size=25))
def test_any_chunking_gives_back_every_message_written(data, messages):
    chunks = data.draw(_chunked(messages))
    read = _read(chunks)
    assert read == [m.SerializeToString() for m in messages]
    # and each decodes to the message the runtime wrote
    assert [type(m).FromString(raw) for m, raw in zip(messages, read, strict=True)] == messages


@settings(max_examples=100, deadline=None)
@given(data=st.data(), messages=st.lists(_chat, min_size=1, max_size=10))
def test_a_stream_cut_anywhere_inside_a_message_is_refused(data, messages):
    framed = [delimited([m]) for m in messages]
    stream = b"".join(framed)
    boundaries = {sum(len(f) for f in framed[:i]) for i in range(len(framed) + 1)}
    end = data.draw(st.integers(1, len(stream) - 1).filter(lambda n: n not in boundaries))
    whole = sum(1 for b in boundaries if 0 < b <= end)
    reader = DelimitedReader()
    reader.feed(stream[:end])
    assert list(reader.messages()) == [m.SerializeToString() for m in messages[:whole]]
    with pytest.raises(BadAnswer, match="ended in the middle of a message"):
        reader.finish()
