"""Niconico Live comments over the NDGR message server (live.md).

The protocol core, without storage: the watch page's embedded data (`watch`), the watch
WebSocket that names the message server (`watchsocket`), length-delimited protocol-buffer
streams (`stream`, messages declared in ``ndgr.proto``), their parsers and the mapping to our
comment record (`parse`), and the walk through the past (`past`).
"""

from nicocomments.live.parse import (  # noqa: F401
    LIVE_FORK,
    UNKNOWN_EVENT,
    BackwardSegment,
    LiveComment,
    LiveEvent,
    LiveItem,
    LiveSignal,
    LiveState,
    MessageSegment,
    PackedBatch,
    ReadyForNext,
    ViewEntry,
    chat_commands,
    iter_segment_items,
    iter_view_entries,
    live_comment,
    parse_chunked_message,
    parse_packed_segment,
    parse_view_entry,
)
from nicocomments.live.past import (  # noqa: F401
    NO_BACKWARD,
    NO_PROGRESS,
    NOTHING_NEW,
    REACHED_BEGIN,
    RESEED_OVERLAP,
    PastBatch,
    iter_past,
)
from nicocomments.live.stream import (  # noqa: F401
    MAX_STREAM_MESSAGE_BYTES,
    DelimitedReader,
    iter_delimited,
)
from nicocomments.live.watch import ENDED, ON_AIR, RELEASED, ProgramInfo, parse_program_info  # noqa: F401
from nicocomments.live.watchsocket import (  # noqa: F401
    DISCONNECT_REASONS,
    MessageServer,
    ProgramEnded,
    SeatKeeper,
    WatchConversation,
    ask_message_server,
    disconnect_error,
)
