"""Length-delimited message streams (live.md §2): ``varint length`` + ``message bytes``, repeated.

The view and segment answers of the NDGR message server are such streams, delivered in HTTP
chunks that cut anywhere: inside a message, inside a length, or between many messages. The
reader keeps a buffer, takes chunks as they come and pops whole messages; a partial message
waits for the next chunk. Pure: bytes in, bytes out, no protocol knowledge.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from nicocomments.errors import BadAnswer
from nicocomments.limits import MAX_STREAM_MESSAGE_BYTES

# A varint of a 64-bit length takes at most 10 bytes; more continuation bytes is not a length.
_MAX_VARINT_BYTES = 10


class DelimitedReader:
    """Feed chunks with `feed`, take whole messages with `pop` (or iterate over `messages`)."""

    def __init__(self, max_message_bytes: int = MAX_STREAM_MESSAGE_BYTES) -> None:
        self.max_message_bytes = max_message_bytes
        self._buffer = bytearray()
        self._start = 0  # where the first unread byte is; the buffer is compacted lazily

    def feed(self, chunk: bytes) -> None:
        if self._start and self._start * 2 >= len(self._buffer):
            del self._buffer[: self._start]
            self._start = 0
        self._buffer += chunk

    def pop(self) -> bytes | None:
        """The next whole message, or None until more bytes arrive."""
        header = self._read_length()
        if header is None:
            return None
        length, body_start = header
        end = body_start + length
        if end > len(self._buffer):
            return None
        message = bytes(self._buffer[body_start:end])
        self._start = end
        return message

    def messages(self) -> Iterator[bytes]:
        """Every whole message buffered so far."""
        while (message := self.pop()) is not None:
            yield message

    @property
    def pending(self) -> int:
        """Bytes received but not yet returned as a message."""
        return len(self._buffer) - self._start

    def finish(self) -> None:
        """The stream has ended: anything left over is a message cut off midway."""
        if self.pending:
            raise BadAnswer(
                f"the message stream ended in the middle of a message ({self.pending} bytes left)"
            )

    def _read_length(self) -> tuple[int, int] | None:
        length = 0
        position = self._start
        for shift in range(0, 7 * _MAX_VARINT_BYTES, 7):
            if position >= len(self._buffer):
                return None
            byte = self._buffer[position]
            position += 1
            length |= (byte & 0x7F) << shift
            if not byte & 0x80:
                break
        else:
            raise BadAnswer("the message stream is garbled: a length runs over 10 bytes")
        if length > self.max_message_bytes:
            raise BadAnswer(
                f"the message stream declares a {length}-byte message; "
                f"the limit is {self.max_message_bytes} bytes"
            )
        return length, position


def iter_delimited(
    chunks: Iterable[bytes], max_message_bytes: int = MAX_STREAM_MESSAGE_BYTES
) -> Iterator[bytes]:
    """The messages of a whole stream, as its chunks arrive; a cut-off end is `BadAnswer`."""
    reader = DelimitedReader(max_message_bytes)
    for chunk in chunks:
        reader.feed(chunk)
        yield from reader.messages()
    reader.finish()
