"""Today's protocol: watch data + nvcomment ``POST {server}/v1/threads`` (protocol.md §2, §3).

``parse_*`` functions are pure (dicts, bytes or text in, records out); ``fetch_*`` functions do
one HTTP request; `NvcommentClient` puts them together for one video, including thread-key
refresh (EXPIRED_TOKEN), backing off on TOO_MANY_REQUESTS and the guest/past-log rule.
"""

from nicocomments.nvcomment.client import (  # noqa: F401
    FRONTEND_HEADERS,
    THREADS_HEADERS,
    NvcommentClient,
    action_track_id,
    fetch_thread_key,
    fetch_threads,
    fetch_watch_api,
    fetch_watch_page,
)
from nicocomments.nvcomment.parse import (  # noqa: F401
    ERROR_CODES,
    PAGE_SIZE,
    REASON_CODES,
    THREAD_ERRORS,
    WatchData,
    parse_api_response,
    parse_comment,
    parse_error,
    parse_thread_key,
    parse_threads,
    parse_watch_data,
    watch_error,
)
