"""The legacy protocol: flapi getflv / getthreadkey / getwaybackkey and the message server's XML.

``parse_*`` functions are pure (bytes or text in, records out); ``fetch_*`` functions do one HTTP
request and return the raw answer; `LegacyClient` puts them together for one video, including the
"key too old: fetch a fresh one and retry once" dance.
"""

from nicocomments.legacy.client import (  # noqa: F401
    LegacyClient,
    fetch_getflv,
    fetch_packet,
    fetch_threadkey,
    fetch_waybackkey,
    watch_page_thread_id,
)
from nicocomments.legacy.parse import (  # noqa: F401
    DELETED_REASONS,
    MAIN_VERSION,
    OWNER_VERSION,
    PACKET_HEADERS,
    PAGE_SIZE,
    RESULTCODES,
    THREADKEY_CODES,
    USERKEY_CODES,
    WAYBACKKEY_CODES,
    FlvInfo,
    Packet,
    build_packet,
    parse_getflv,
    parse_packet,
    parse_threadkey,
    parse_waybackkey,
    refuse_dtd,
    thread_id_from_watch_data,
)
