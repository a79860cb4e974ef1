"""Listing a channel's videos: its list pages on ch.nicovideo.jp, best effort (collections.md
§1 — HTML, 20 videos a page, ``page`` until a page has none; the free list ``/video``, then the
paid one ``/video/pay``). The pages give video ids and nothing more: no comment counts, so a
crawl's estimate cannot know them. A JSON ``/v1/channels/{id}/videos`` exists in one client
only and is not used.

``fetch_channel_page`` returns the raw answer; ``iter_channel_listing`` pages through
`channel_page.parse_channel_page`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import requests

from nicocomments.config import Endpoints
from nicocomments.errors import BadAnswer, Refused, VideoNotFound
from nicocomments.listings.channel_page import parse_channel_page
from nicocomments.listings.parse import ListedVideo, ListingPage
from nicocomments.listings.refs import CollectionRef

log = logging.getLogger(__name__)

CHANNEL_LISTS = ("/video", "/video/pay")  # free videos, then paid ones
MAX_CHANNEL_PAGES = 2_500  # 50,000 videos a list: past that the server is not ending it


def fetch_channel_page(
    session: requests.Session, endpoints: Endpoints, slug: str, page: int, *, path: str = "/video"
) -> requests.Response:
    """One list page of a channel (``slug``: its name or ``ch…`` id; ``path``: one of
    `CHANNEL_LISTS`)."""
    return session.get(endpoints.url("channel", f"/{slug}{path}"), params={"page": page})


def iter_channel_listing(
    session: requests.Session,
    endpoints: Endpoints,
    ref: CollectionRef,
    on_page: Callable[[ListingPage], None],
) -> Iterator[ListedVideo]:
    """Every video of a channel's free and paid lists, page by page, each once.

    A list ends at its first page without a video it has not shown yet (an empty page past
    the end, or a server that repeats its last page). A channel whose free list is not found
    is `VideoNotFound` ("no such channel"); a missing paid list is only a channel without one.
    """
    if ref.kind != "channel":
        raise ValueError(f"not a channel: {ref.kind}")
    listed: set[str] = set()
    for path in CHANNEL_LISTS:
        shown: set[str] = set()
        for page_number in range(1, MAX_CHANNEL_PAGES + 1):
            response = fetch_channel_page(session, endpoints, ref.key, page_number, path=path)
            if response.status_code == 404 and path != CHANNEL_LISTS[0]:
                log.info("%s has no %s list (HTTP 404)", ref.name, path)
                break
            _check(response, ref, path)
            fresh = [v for v in parse_channel_page(response.content) if v not in shown]
            shown.update(fresh)
            videos = [ListedVideo(v) for v in fresh if v not in listed]
            listed.update(fresh)
            on_page(ListingPage(videos))
            yield from videos
            if not fresh:
                break
        else:
            raise BadAnswer(
                f"{ref.name}: the channel's {path} list did not end after {MAX_CHANNEL_PAGES} pages"
            )


def _check(response: requests.Response, ref: CollectionRef, path: str) -> None:
    status = response.status_code
    if status == 404:
        raise VideoNotFound(
            f"{ref.name}: no such channel (ch.nicovideo.jp answered HTTP 404)", status=status
        )
    if status in (401, 403):
        raise Refused(f"{ref.name}: the channel's {path} list was refused (HTTP {status})",
                      status=status)  # fmt: skip
    if not response.ok:
        raise BadAnswer(f"{ref.name}: the channel's {path} list answered HTTP {status}",
                        status=status)  # fmt: skip
