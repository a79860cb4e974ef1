"""Listing a collection's videos over the network: nvapi listings (paged) and Snapshot Search
(paced by its rules, split into ``startTime`` windows past its offset cap). ``fetch_*`` return
raw answers; ``iter_*`` page lazily through the parsers of `parse`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests

from nicocomments.config import Endpoints
from nicocomments.errors import BadAnswer, BadInput, NicoError, ServerUnavailable
from nicocomments.http import FRONTEND_HEADERS, RETRY_STATUSES, answer_json, maybe_json
from nicocomments.listings.parse import (
    ListedVideo,
    ListingPage,
    SnapshotRefused,
    collection_error,
    nvapi_error,
    parse_mylist,
    parse_series,
    parse_snapshot,
    parse_snapshot_version,
    parse_user_videos,
)
from nicocomments.listings.refs import CollectionRef
from nicocomments.records import JST, MIN_POSTED_AT

log = logging.getLogger(__name__)

NVAPI_PAGE_SIZE = 100
SNAPSHOT_PATH = "/api/v2/snapshot/video/contents/search"
SNAPSHOT_VERSION_PATH = "/api/v2/snapshot/version"
SNAPSHOT_CONTEXT = "nicocomments"  # `_context`: the application's name (≤ 40 characters)
SNAPSHOT_LIMIT = 100  # the largest `_limit` allowed
SNAPSHOT_CAP = 1_600  # design for it: `_offset + _limit` past this is refused (Sept 2026)
SNAPSHOT_FIELDS = "contentId,title,startTime,commentCounter,lastCommentTime"
SNAPSHOT_TARGETS = {"tag": "tagsExact", "search": "title,description,tags"}
MAINTENANCE_WAIT_S = 300.0  # the guide: at least five minutes after a 503
MAINTENANCE_TRIES = 3
# Snapshot Search's 503 is answered by its own (long) wait, not the session's backoff.
SNAPSHOT_RETRY_STATUSES = RETRY_STATUSES - {503}
MAX_PAGES = 10_000  # a listing that never ends is a broken server


def fetch_nvapi(session: requests.Session, endpoints: Endpoints, path: str, **params: Any):
    """One nvapi request; what the session retries (5xx, 429) is retried with its backoff."""
    return session.get(endpoints.url("nvapi", path), params=params, headers=FRONTEND_HEADERS)


def fetch_user_videos(session, endpoints: Endpoints, user_id: str, page: int):
    return fetch_nvapi(
        session,
        endpoints,
        f"/v3/users/{user_id}/videos",
        sortKey="registeredAt",
        sortOrder="desc",
        pageSize=NVAPI_PAGE_SIZE,
        page=page,
    )


def fetch_mylist(session, endpoints: Endpoints, mylist_id: str, page: int):
    return fetch_nvapi(
        session, endpoints, f"/v2/mylists/{mylist_id}", pageSize=NVAPI_PAGE_SIZE, page=page
    )


def fetch_series(session, endpoints: Endpoints, series_id: str):
    return fetch_nvapi(session, endpoints, f"/v2/series/{series_id}")


def iter_nvapi_listing(
    session, endpoints: Endpoints, ref: CollectionRef, on_page: Callable[[ListingPage], None]
) -> Iterator[ListedVideo]:
    """Every video of a user's uploads, a mylist or a series, page by page."""
    for page_number in range(1, MAX_PAGES + 1):
        try:
            response, parse = _fetch_listing_page(session, endpoints, ref, page_number)
        except ServerUnavailable as exc:  # still failing after every retry
            raise exc.but(where=f"listing {ref.name}", hint="try again later") from None
        payload = (
            answer_json(response, f"nvapi ({ref.name})") if response.ok else maybe_json(response)
        )
        code = nvapi_error(payload)
        if not response.ok or code:
            raise collection_error(code, response.status_code, ref.name)
        page = parse(payload)
        on_page(page)
        yield from page.videos
        if ref.kind == "series" or not page.videos:
            return
        if page.has_next is False:
            return
        total = page.total
        if page.has_next is None and total is not None and page_number * NVAPI_PAGE_SIZE >= total:
            return
    raise BadAnswer(f"{ref.name}: the listing did not end after {MAX_PAGES} pages")


def _fetch_listing_page(session, endpoints: Endpoints, ref: CollectionRef, page_number: int):
    """The answer of one page of ``ref``'s listing, and its parser."""
    if ref.kind == "user":
        return fetch_user_videos(session, endpoints, ref.key, page_number), parse_user_videos
    if ref.kind == "mylist":
        return fetch_mylist(session, endpoints, ref.key, page_number), parse_mylist
    if ref.kind == "series":
        return fetch_series(session, endpoints, ref.key), parse_series
    raise ValueError(f"not an nvapi listing: {ref.kind}")


# --- Snapshot Search ------------------------------------------------------------------------------


@dataclass
class SnapshotSearch:
    """Snapshot Search by its rules: ``_context``, ``_limit`` ≤ 100, each request waits as long
    as the previous answer took, a 503 waits `maintenance_wait` (≥ 5 min on the real site), and
    a query whose hits pass the offset cap is split into ``startTime`` windows until each fits.
    The cap starts at `SNAPSHOT_CAP` and drops to wherever a server refuses earlier
    (``QUERY_PARSE_ERROR`` at an offset under it)."""

    session: requests.Session
    endpoints: Endpoints
    cap: int = SNAPSHOT_CAP
    maintenance_wait: float = MAINTENANCE_WAIT_S
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    on_page: Callable[[ListingPage], None] | None = None
    on_wait: Callable[[str], None] | None = None
    requests_made: int = 0
    _next_at: float = 0.0

    def iter_videos(
        self,
        ref: CollectionRef | None,
        *,
        since: int | None = None,
        content_ids: list[str] | None = None,
        now: float | None = None,
    ) -> Iterator[ListedVideo]:
        """Every hit of ``ref``'s query (a tag or search words; None: no keywords, for
        ``content_ids``), with ``lastCommentTime ≥ since`` when given, each once."""
        base = self._base(ref, since, content_ids)
        high = int(time.time() if now is None else now) + 1
        seen: set[str] = set()
        windows = [(MIN_POSTED_AT, high)]
        while windows:
            low, high = windows.pop()
            outcome = self._window(base, low, high, seen)
            if outcome is None:
                continue
            yield from outcome[0]
            if outcome[1]:  # too many hits: split, older half last so it is taken first
                if high - low <= 1:
                    raise BadAnswer(
                        f"Snapshot Search: more than {self.cap:,} hits within one second; "
                        "cannot split the query further"
                    )
                middle = (low + high) // 2
                windows += [(middle, high), (low, middle)]

    def _window(self, base: dict, low: int, high: int, seen: set[str]):
        """The hits of one window, or (hits so far, True) when it must be split."""
        params = dict(base)
        params["filters[startTime][gte]"] = _iso(low)
        params["filters[startTime][lt]"] = _iso(high)
        hits: list[ListedVideo] = []
        offset = 0
        while True:
            limit = min(SNAPSHOT_LIMIT, self.cap - offset)
            if limit <= 0:
                return hits, True
            params.update({"_offset": str(offset), "_limit": str(limit)})
            try:
                page = self._ask(params)
            except SnapshotRefused as exc:
                # Refused where the cap should allow it: this server's cap is lower. Below the
                # offset asked (or, at offset 0, half the limit asked); a query refused even
                # for one hit is wrong in itself.
                if exc.code != "QUERY_PARSE_ERROR" or offset + limit <= 1:
                    raise
                self.cap = offset if offset > 0 else limit // 2
                log.info(
                    "Snapshot Search refused _offset+_limit=%d: cap now %d",
                    offset + limit,
                    self.cap,
                )
                continue
            if offset == 0 and page.total is not None and page.total > self.cap:
                return hits, True
            for video in page.videos:
                if video.video_id not in seen:
                    seen.add(video.video_id)
                    hits.append(video)
            offset += len(page.videos)
            if not page.videos or len(page.videos) < limit:
                return hits, False
            if page.total is not None and offset >= page.total:
                return hits, False

    def _base(self, ref, since, content_ids) -> dict:
        params = {
            "q": "",
            "targets": "title,description,tags",
            "fields": SNAPSHOT_FIELDS,
            "_sort": "+startTime",
            "_context": SNAPSHOT_CONTEXT,
        }
        if ref is not None:
            if ref.kind not in SNAPSHOT_TARGETS:
                raise ValueError(f"not a search: {ref.kind}")
            params["q"] = ref.key
            params["targets"] = SNAPSHOT_TARGETS[ref.kind]
        if since is not None:
            params["filters[lastCommentTime][gte]"] = _iso(since)
        for i, video_id in enumerate(content_ids or ()):
            params[f"filters[contentId][{i}]"] = video_id
        if ref is None and not content_ids:
            raise BadInput("a search needs keywords or video ids")
        return params

    def _ask(self, params: dict) -> ListingPage:
        for attempt in range(1, MAINTENANCE_TRIES + 1):
            wait = self._next_at - self.clock()
            if wait > 0:
                self.sleep(wait)
            started = self.clock()
            response = self.session.get(
                self.endpoints.url("snapshot", SNAPSHOT_PATH),
                params=params,
                retry_statuses=SNAPSHOT_RETRY_STATUSES,
            )
            self.requests_made += 1
            took = self.clock() - started
            self._next_at = self.clock() + took  # as long as the previous answer took
            if response.status_code == 503 and attempt < MAINTENANCE_TRIES:
                wait = self.maintenance_wait
                message = f"Snapshot Search is unavailable (HTTP 503); waiting {wait:g} s"
                log.info(message)
                if self.on_wait is not None:
                    self.on_wait(message)
                self._next_at = self.clock() + self.maintenance_wait
                continue
            page = parse_snapshot(_snapshot_json(response))
            if self.on_page is not None:
                self.on_page(page)
            return page
        raise AssertionError("unreachable")  # pragma: no cover

    def index_time(self) -> int | None:
        """When the search index was last rebuilt (Unix s), or None if the server won't say
        (it failed, or answered something else than its version)."""
        try:
            response = self.session.get(self.endpoints.url("snapshot", SNAPSHOT_VERSION_PATH))
            self.requests_made += 1
            payload = answer_json(response, "Snapshot Search's version") if response.ok else None
        except NicoError as exc:
            log.info("no Snapshot Search index time: %s", exc)
            return None
        return parse_snapshot_version(payload)


def _iso(seconds: int) -> str:
    """Unix seconds as the ISO 8601 Japan time Snapshot Search takes."""
    moment = datetime.fromtimestamp(seconds, UTC).astimezone(JST)
    return moment.isoformat(timespec="seconds")


def _snapshot_json(response: requests.Response) -> Any:
    """Snapshot Search's answer, its errors included; a bare 503 is its maintenance."""
    payload = maybe_json(response)
    if payload is not None:
        return payload
    if response.status_code == 503:
        return {"meta": {"status": 503, "errorCode": "MAINTENANCE"}}
    return answer_json(response, "Snapshot Search")  # the BadAnswer saying what it was
