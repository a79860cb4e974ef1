"""Collection references, listing parsers (on answers shaped as collections.md describes them:
no real capture exists), and the listing clients over HTTP against the emulator: nvapi paging,
Snapshot Search's rules (User-Agent, _context, _limit, pacing, 503 waits) and its windowing past
the offset cap; a channel's list pages (parsed from the emulator's pages and from hand-made
markup, paged to their end)."""

from __future__ import annotations

import json

import pytest

from nicocomments.config import Endpoints
from nicocomments.errors import BadAnswer, BadInput, Refused, VideoNotFound
from nicocomments.http import HttpSettings, make_session
from nicocomments.listings import (
    SnapshotRefused,
    SnapshotSearch,
    iter_channel_listing,
    iter_nvapi_listing,
    parse_channel_page,
    parse_ref,
)
from nicocomments.listings import channel as channel_listing
from nicocomments.listings.parse import (
    parse_mylist,
    parse_series,
    parse_snapshot,
    parse_user_videos,
)
from nicocomments.listings.refs import CollectionRef
from nicosandbox.collection import (
    COLLECTION_CHANNEL_ID,
    COLLECTION_CHANNEL_SLUG,
    COLLECTION_MYLIST_ID,
    COLLECTION_SERIES_ID,
    COLLECTION_TAG,
    COLLECTION_USER_ID,
    DELETED,
    EMPTY_CHANNEL_SLUG,
    PRIVATE,
    SMALL_TAG,
    video_id_at,
)
from nicosandbox.routes.channel import PAGE_SIZE as CHANNEL_PAGE_SIZE
from tests.conftest import fixture_path

# --- references ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind", "key"),
    [
        ("user/123", "user", "123"),
        ("https://www.nicovideo.jp/user/123", "user", "123"),
        ("https://www.nicovideo.jp/user/123/video", "user", "123"),
        ("www.nicovideo.jp/user/123/video?ref=pc", "user", "123"),
        ("mylist/456", "mylist", "456"),
        ("https://www.nicovideo.jp/mylist/456", "mylist", "456"),
        ("https://www.nicovideo.jp/user/123/mylist/456", "mylist", "456"),
        ("series/789", "series", "789"),
        ("https://www.nicovideo.jp/series/789", "series", "789"),
        ("https://www.nicovideo.jp/user/123/series/789", "series", "789"),
        ("tag/VOCALOID", "tag", "VOCALOID"),
        ("https://www.nicovideo.jp/tag/%E5%88%9D%E9%9F%B3%E3%83%9F%E3%82%AF", "tag", "初音ミク"),
        ("search/初音ミク 歌ってみた", "search", "初音ミク 歌ってみた"),
        ("https://www.nicovideo.jp/search/cooking", "search", "cooking"),
        ("channel/ch2632720", "channel", "ch2632720"),
        ("https://ch.nicovideo.jp/ch2632720/video", "channel", "ch2632720"),
        ("TAG/x", "tag", "x"),
    ],
)
def test_every_ref_form_parses_to_its_collection(text, kind, key):
    assert parse_ref(text) == CollectionRef(kind, key)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "sm9",
        "user/abc",
        "mylist/",
        "tag/",
        "https://example.com/user/1",
        "https://www.nicovideo.jp/watch/sm9",
        "file/x.txt",
        "sql/SELECT 1",
        "ftp://www.nicovideo.jp/user/1",
        "tag/" + "x" * 600,
    ],
)
def test_what_is_not_a_collection_is_bad_input(text):
    with pytest.raises(BadInput):
        parse_ref(text)


# --- parsers ------------------------------------------------------------------------------------


def _load(name: str):
    return json.loads(fixture_path(f"listings/{name}").read_text(encoding="utf-8"))


def test_user_uploads_v3_and_v2():
    page = parse_user_videos(_load("user_videos_v3.json"))
    assert [v.video_id for v in page.videos] == ["sm9", "sm10"]
    assert page.total == 2
    first = page.videos[0]
    assert (first.comment_count, first.posted_at) == (5_300_000, 1173108780)
    old = parse_user_videos(_load("user_videos_v2.json"))
    assert [(v.video_id, v.comment_count) for v in old.videos] == [("sm9", 12)]


def test_mylist_keeps_deleted_items_and_says_whether_more_follow():
    page = parse_mylist(_load("mylist.json"))
    assert [v.video_id for v in page.videos] == ["sm9", "so23335421"]
    assert (page.total, page.has_next, page.title) == (101, True, "お気に入り")


def test_series_is_one_answer():
    page = parse_series(_load("series.json"))
    assert [v.video_id for v in page.videos] == ["sm9"]
    assert page.title == "シリーズ"


def test_snapshot_hits_and_errors():
    page = parse_snapshot(_load("snapshot.json"))
    assert page.total == 12673
    assert page.videos[0].last_comment_at == 1795964399  # 2026-11-29T14:59:59Z
    assert page.videos[1].last_comment_at is None
    with pytest.raises(SnapshotRefused) as caught:
        parse_snapshot(_load("snapshot_error.json"))
    assert caught.value.code == "QUERY_PARSE_ERROR"


@pytest.mark.parametrize(
    "payload",
    [None, [], {"meta": {"status": 200}}, {"meta": {"status": 200}, "data": [{"title": "x"}]},
     {"meta": {"status": 200}, "data": [{"contentId": "../etc"}]}],
)  # fmt: skip
def test_a_broken_snapshot_answer_is_bad_answer(payload):
    with pytest.raises(BadAnswer):
        parse_snapshot(payload)


# --- over HTTP against the emulator -------------------------------------------------------------


@pytest.fixture
def listing_sandbox(_collection_sandbox):
    return _collection_sandbox


@pytest.fixture
def net(listing_sandbox):
    listing_sandbox.reset_stats()
    listing_sandbox.snapshot_offset_cap = 1_600
    listing_sandbox.snapshot_maintenance = False
    yield make_session(HttpSettings(interval=0)), Endpoints.from_env(listing_sandbox.env())
    listing_sandbox.snapshot_offset_cap = 1_600
    listing_sandbox.snapshot_maintenance = False


def _readable(world, ids):
    return [v for v in ids if not world.videos[v].deleted]


def test_nvapi_listings_page_to_the_end(listing_sandbox, net):
    session, endpoints = net
    world = listing_sandbox.world
    pages = []

    def listing(ref):
        return list(iter_nvapi_listing(session, endpoints, parse_ref(ref), pages.append))

    user = listing(f"user/{COLLECTION_USER_ID}")
    assert len(pages) == 3  # 215 readable uploads, 100 a page
    assert sorted(v.video_id for v in user) == sorted(
        v.video_id for v in world.uploads(COLLECTION_USER_ID) if not v.deleted
    )
    mylist = listing(f"mylist/{COLLECTION_MYLIST_ID}")
    assert [v.video_id for v in mylist] == list(world.mylists[COLLECTION_MYLIST_ID].video_ids)
    series = listing(f"series/{COLLECTION_SERIES_ID}")
    assert [v.video_id for v in series] == list(world.series[COLLECTION_SERIES_ID].video_ids)
    assert series[0].comment_count == world.comment_count(series[0].video_id)


def test_a_missing_collection_is_refused_not_empty(net):
    session, endpoints = net
    with pytest.raises(VideoNotFound, match="mylist/999 was not found"):
        list(iter_nvapi_listing(session, endpoints, parse_ref("mylist/999"), lambda page: None))
    with pytest.raises(Refused):
        list(iter_nvapi_listing(session, endpoints, parse_ref("user/1"), lambda page: None))


def test_snapshot_search_follows_the_rules(listing_sandbox, net):
    """The emulator refuses what the rules forbid (no _context, _limit over 100), so answers
    prove the client asked properly; its User-Agent names nicocomments."""
    session, endpoints = net
    url = endpoints.url("snapshot", "/api/v2/snapshot/video/contents/search")
    plain = {"q": COLLECTION_TAG, "targets": "tagsExact", "_sort": "+startTime"}
    assert session.get(url, params=plain).status_code == 400
    too_many = {**plain, "_context": "nicocomments", "_limit": "101"}
    assert session.get(url, params=too_many).json()["meta"]["errorCode"] == "QUERY_PARSE_ERROR"
    listing_sandbox.reset_stats()
    search = SnapshotSearch(session, endpoints)
    hits = list(search.iter_videos(parse_ref(f"tag/{COLLECTION_TAG}")))
    world = listing_sandbox.world
    readable = _readable(world, world.tags)
    assert sorted(v.video_id for v in hits) == sorted(readable)
    assert search.requests_made == 3  # 215 hits, 100 a page, no window needed
    agents = listing_sandbox.stats.user_agents
    assert all(agent.startswith("nicocomments/") for agent in agents)


def test_each_request_waits_as_long_as_the_previous_answer_took(net):
    session, endpoints = net
    # Each request reads the clock four times: before waiting, as it starts, as the answer is
    # in, and to set the next request's earliest time.
    moments = iter([0.0, 0.0, 2.0, 2.0, 2.0, 4.0, 4.5, 4.5])
    slept = []
    search = SnapshotSearch(session, endpoints, clock=lambda: next(moments), sleep=slept.append)
    list(search.iter_videos(parse_ref(f"tag/{SMALL_TAG}")))  # 72 hits: one request
    search._ask({**search._base(parse_ref(f"tag/{SMALL_TAG}"), None, None),
                 "_offset": "0", "_limit": "1"})  # fmt: skip
    # The first answer took 2 s (0 → 2): the next request waited until 2 + 2 = 4, from 2.
    assert slept == [2.0]


def test_a_503_waits_the_maintenance_time_then_asks_again(listing_sandbox, net):
    session, endpoints = net
    listing_sandbox.snapshot_maintenance = True
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        listing_sandbox.snapshot_maintenance = False  # back after the wait

    search = SnapshotSearch(session, endpoints, maintenance_wait=300, sleep=sleep)
    hits = list(search.iter_videos(parse_ref(f"tag/{SMALL_TAG}")))
    assert hits and slept and slept[0] >= 299
    listing_sandbox.snapshot_maintenance = True
    search = SnapshotSearch(session, endpoints, maintenance_wait=0, sleep=lambda s: None)
    with pytest.raises(SnapshotRefused, match="MAINTENANCE"):
        list(search.iter_videos(parse_ref(f"tag/{SMALL_TAG}")))


@pytest.mark.parametrize("server_cap", [40, 130])
def test_past_the_offset_cap_the_query_is_split_into_time_windows(listing_sandbox, net, server_cap):
    """The server refuses far below the designed-for 1,600: the client learns the cap from
    QUERY_PARSE_ERROR and splits by startTime until every window fits; every hit comes once."""
    session, endpoints = net
    listing_sandbox.snapshot_offset_cap = server_cap
    search = SnapshotSearch(session, endpoints)
    hits = list(search.iter_videos(parse_ref("search/nicocrawl 検証")))
    world = listing_sandbox.world
    assert len(hits) == len({v.video_id for v in hits})
    assert sorted(v.video_id for v in hits) == sorted(_readable(world, world.tags))
    assert search.cap <= server_cap
    assert listing_sandbox.stats.requests["snapshot"] == search.requests_made


def test_since_filters_on_last_comment_time_and_ids(listing_sandbox, net):
    session, endpoints = net
    world = listing_sandbox.world
    since = 1_650_000_000
    search = SnapshotSearch(session, endpoints, cap=30)
    hits = list(search.iter_videos(parse_ref(f"tag/{COLLECTION_TAG}"), since=since))
    expected = [v for v in _readable(world, world.tags) if world.last_comment_at(v) >= since]
    assert sorted(v.video_id for v in hits) == sorted(expected) and expected
    ids = [video_id_at(i) for i in range(0, 30)]
    chosen = list(SnapshotSearch(session, endpoints).iter_videos(None, content_ids=ids))
    gone = {video_id_at(i) for i in (*DELETED, *PRIVATE)}
    assert sorted(v.video_id for v in chosen) == sorted(set(ids) - gone)


# --- a channel's list pages -------------------------------------------------------------------


def test_a_channel_page_gives_each_linked_video_once_in_page_order():
    page = fixture_path("listings/channel_tricky.html").read_bytes()
    assert parse_channel_page(page) == ["so101", "sm102", "nm103", "so104", "so105", "so112"]
    assert parse_channel_page(page.decode("utf-8")) == parse_channel_page(page)


@pytest.mark.parametrize(
    "page",
    [b"", b"   ", b"<!-- nothing -->", b'{"meta": {}}', b"\x00\xff\xfe", "<p>ない</p>"],
)
def test_a_page_without_video_links_lists_nothing(page):
    assert parse_channel_page(page) == []


def _channel_page(session, endpoints, slug, page, path="/video"):
    return session.get(endpoints.url("channel", f"/{slug}{path}"), params={"page": page})


def test_the_emulator_s_channel_pages_parse_to_its_lists(listing_sandbox, net):
    session, endpoints = net
    channel = listing_sandbox.world.channels[COLLECTION_CHANNEL_SLUG]
    for path, ids in (("/video", channel.video_ids), ("/video/pay", channel.pay_video_ids)):
        pages = -(-len(ids) // CHANNEL_PAGE_SIZE)
        for number in range(1, pages + 2):  # and one past the end: no video
            response = _channel_page(session, endpoints, COLLECTION_CHANNEL_SLUG, number, path)
            assert response.status_code == 200
            start = (number - 1) * CHANNEL_PAGE_SIZE
            assert parse_channel_page(response.content) == list(ids[start : start + 20])


def test_a_channel_is_listed_free_then_paid_page_by_page(listing_sandbox, net):
    session, endpoints = net
    channel = listing_sandbox.world.channels[COLLECTION_CHANNEL_SLUG]
    for name in (COLLECTION_CHANNEL_SLUG, COLLECTION_CHANNEL_ID):
        listing_sandbox.reset_stats()
        pages = []
        ref = parse_ref(f"https://ch.nicovideo.jp/{name}/video")
        videos = list(iter_channel_listing(session, endpoints, ref, pages.append))
        assert [v.video_id for v in videos] == [*channel.video_ids, *channel.pay_video_ids]
        assert all(v.comment_count is None for v in videos)  # the pages show none
        # 47 free videos: pages of 20, 20, 7 and an empty one; 5 paid: one page and an empty one
        assert [len(p.videos) for p in pages] == [20, 20, 7, 0, 5, 0]
        assert listing_sandbox.stats.requests["channel"] == 6


def test_a_channel_without_videos_or_a_paid_list_lists_nothing(listing_sandbox, net):
    session, endpoints = net
    pages = []
    ref = parse_ref(f"channel/{EMPTY_CHANNEL_SLUG}")
    assert list(iter_channel_listing(session, endpoints, ref, pages.append)) == []
    assert _channel_page(session, endpoints, EMPTY_CHANNEL_SLUG, 1, "/video/pay").status_code == 404
    assert len(pages) == 1  # the empty free list; the paid list's 404 is no page


def test_a_missing_channel_is_not_found(net):
    session, endpoints = net
    with pytest.raises(VideoNotFound, match="channel/nothing-here: no such channel"):
        list(iter_channel_listing(session, endpoints, parse_ref("channel/nothing-here"), len))


def test_a_list_that_never_ends_stops_at_a_page_with_nothing_new_or_the_page_cap(
    listing_sandbox, net, monkeypatch
):
    session, endpoints = net
    ref = parse_ref(f"channel/{COLLECTION_CHANNEL_SLUG}")
    first = _channel_page(session, endpoints, COLLECTION_CHANNEL_SLUG, 1).content
    # A server that answers page 1 whatever page is asked: the list ends at its second page.
    listing_sandbox.inject("channel", first, content_type="text/html; charset=utf-8", times=2)
    listing_sandbox.reset_stats()
    videos = list(iter_channel_listing(session, endpoints, ref, lambda page: None))
    channel = listing_sandbox.world.channels[COLLECTION_CHANNEL_SLUG]
    assert [v.video_id for v in videos] == [*channel.video_ids[:20], *channel.pay_video_ids]
    monkeypatch.setattr(channel_listing, "MAX_CHANNEL_PAGES", 2)
    with pytest.raises(BadAnswer, match="did not end after 2 pages"):
        list(iter_channel_listing(session, endpoints, ref, lambda page: None))
