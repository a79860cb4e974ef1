"""The legacy message server: windows, `when`, keys and result codes, leaves, chats."""

from __future__ import annotations

import re
import time
from bisect import bisect_right
from collections import Counter

import pytest
import requests
from lxml import etree

from nicosandbox import (
    BIG_THREAD_ID,
    CHANNEL_DEFAULT_THREAD_ID,
    CHANNEL_THREAD_ID,
    MEDIUM_THREAD_ID,
    REAL_NM_THREAD_ID,
    REAL_NM_VIDEO_ID,
    SHORT_THREAD_ID,
    Sandbox,
    expected_comments,
)
from tests.sandbox.helpers import (
    NOW,
    chat_to_comment,
    chats_of,
    key,
    kv,
    login,
    parse,
    post_packet,
    thread_xml,
    threads_of,
)


@pytest.mark.parametrize(
    ("thread_id", "fork", "window"),
    [
        (BIG_THREAD_ID, None, 500),  # 319 s
        (SHORT_THREAD_ID, None, 100),  # 45 s
        (MEDIUM_THREAD_ID, None, 250),  # 240 s
        (CHANNEL_DEFAULT_THREAD_ID, None, 800),  # 1420 s: 1000, but only 800 exist
        (REAL_NM_THREAD_ID, None, 250),  # 150 s
        (REAL_NM_THREAD_ID, "1", 802),  # owner threads are not windowed
    ],
)
def test_window_by_video_length(sb, world, thread_id, fork, window):
    root = parse(
        post_packet(
            requests,
            sb,
            thread_xml(
                thread_id, fork=fork, res_from="-1000", version="20061206" if fork else "20090904"
            ),
        )
    )
    chats = chats_of(root)
    table = world.thread(thread_id, "owner" if fork else "main").comments
    assert [int(c.get("no")) for c in chats] == list(table.nos[-window:])
    head = threads_of(root)[0]
    assert head["resultcode"] == "0" and head["last_res"] == str(table.nos[-1])
    assert list(head) == ["resultcode", "thread", "last_res", "ticket", "revision"] + (
        ["fork"] if fork else []
    ) + ["server_time"]


def test_default_res_from_is_last_100_and_positive_res_from(sb, world):
    chats = chats_of(parse(post_packet(requests, sb, thread_xml(BIG_THREAD_ID))))
    assert [int(c.get("no")) for c in chats] == list(range(29_901, 30_001))
    chats = chats_of(parse(post_packet(requests, sb, thread_xml(BIG_THREAD_ID, res_from="29990"))))
    assert [int(c.get("no")) for c in chats] == list(range(29_990, 30_001))
    chats = chats_of(parse(post_packet(requests, sb, thread_xml(BIG_THREAD_ID, res_from="1"))))
    assert len(chats) == 500  # the window still applies


def test_when_is_inclusive_and_capped_at_1000(sb, world):
    s = login(sb)
    wk = key(s, sb, "waybackkey", BIG_THREAD_ID)
    table = world.thread(BIG_THREAD_ID).comments
    when = table.posted_at[15_000]
    hi = bisect_right(table.posted_at, when)
    assert table.posted_at[hi - 1] == when
    root = parse(
        post_packet(s, sb, thread_xml(BIG_THREAD_ID, res_from="-5000", when=when, waybackkey=wk))
    )
    nos = [int(c.get("no")) for c in chats_of(root)]
    assert nos == list(table.nos[hi - 1000 : hi])
    assert max(int(c.get("date")) for c in chats_of(root)) == when
    assert threads_of(root)[0]["last_res"] == "30000"  # the newest overall, not at `when`
    root = parse(
        post_packet(s, sb, thread_xml(BIG_THREAD_ID, res_from="-10", when=when, waybackkey=wk))
    )
    assert [int(c.get("no")) for c in chats_of(root)] == list(table.nos[hi - 10 : hi])


def _walk(sb, session, *, overlap: bool) -> set[int]:
    wk = key(session, sb, "waybackkey", BIG_THREAD_ID)
    seen: set[int] = set()
    when = NOW
    while True:
        root = parse(
            post_packet(
                session, sb, thread_xml(BIG_THREAD_ID, res_from="-1000", when=when, waybackkey=wk)
            )
        )
        chats = chats_of(root)
        if not chats:
            return seen
        seen.update(int(c.get("no")) for c in chats)
        oldest = min(chats, key=lambda c: int(c.get("no")))
        if int(oldest.get("no")) == 1:
            return seen
        next_when = int(oldest.get("date")) - (0 if overlap else 1)
        if next_when == when:
            return seen
        when = next_when


def test_backward_walk_needs_overlapping_pages(sb):
    s = login(sb)
    assert _walk(sb, s, overlap=True) == set(range(1, 30_001))
    table = sb.world.thread(BIG_THREAD_ID).comments
    first_boundary = table.posted_at[30_000 - 1000]
    lost = set(range(1, 30_001)) - _walk(sb, s, overlap=False)
    assert lost and {table.posted_at[no - 1] for no in lost} >= {first_boundary}
    assert sb.stats.thread_requests(BIG_THREAD_ID, "main", with_when=True) > 60


def test_result_codes(sb):
    s = login(sb)
    uk = kv(s.get(sb.url + "/flapi/api/getflv/sm9").text)["userkey"]
    wk = key(s, sb, "waybackkey", BIG_THREAD_ID)
    tk = key(s, sb, "threadkey", CHANNEL_THREAD_ID)
    other_wk = key(s, sb, "waybackkey", SHORT_THREAD_ID)
    cases = [
        (thread_xml(BIG_THREAD_ID, version=None), "3"),
        (thread_xml(BIG_THREAD_ID, version="2000"), "3"),
        (thread_xml("1999999999"), "1"),
        (thread_xml(BIG_THREAD_ID, fork="5"), "1"),
        (thread_xml(BIG_THREAD_ID, when="1300000000"), "4"),
        (
            thread_xml(
                BIG_THREAD_ID,
                when="1300000000",
                waybackkey="1494930258.CCLkvC6-3gV4xT4Uo1gs5MBs5Xg",
            ),
            "4",
        ),
        (thread_xml(BIG_THREAD_ID, when="1300000000", waybackkey=other_wk), "4"),
        (thread_xml(BIG_THREAD_ID, when="1300000000", waybackkey=wk), "0"),
        (thread_xml(BIG_THREAD_ID, userkey=uk), "0"),
        (thread_xml(BIG_THREAD_ID, userkey=uk[:-1] + ("A" if uk[-1] != "A" else "B")), "14"),
        (thread_xml(BIG_THREAD_ID, userkey=uk, when="1300000000", waybackkey=wk), "16"),
        (thread_xml(CHANNEL_THREAD_ID, userkey=uk, threadkey=tk, force_184="1"), "16"),
        (thread_xml(CHANNEL_THREAD_ID), "8"),
        (
            thread_xml(
                CHANNEL_THREAD_ID, threadkey="1471592569.6z3FmteLEiSPTye5JGKpf4ElmMk", force_184="1"
            ),
            "8",
        ),
        (thread_xml(CHANNEL_THREAD_ID, threadkey=tk, force_184="1"), "0"),
        (thread_xml(CHANNEL_DEFAULT_THREAD_ID, userkey=uk), "0"),
        (thread_xml(BIG_THREAD_ID, res_from="abc"), "2"),
    ]
    for element, code in cases:
        head = threads_of(parse(post_packet(s, sb, element)))[0]
        assert head["resultcode"] == code, element
        if code != "0":
            assert list(head) == ["resultcode", "thread", "server_time"]
    sb.clock = lambda: time.time() + 601
    expired = [
        (thread_xml(BIG_THREAD_ID, when="1300000000", waybackkey=wk), "5"),
        (thread_xml(CHANNEL_THREAD_ID, threadkey=tk, force_184="1"), "9"),
        (thread_xml(BIG_THREAD_ID, userkey=uk), "0"),  # userkeys live 1800 s
    ]
    for element, code in expired:
        assert threads_of(parse(post_packet(s, sb, element)))[0]["resultcode"] == code, element
    sb.clock = lambda: time.time() + 1801
    assert (
        threads_of(parse(post_packet(s, sb, thread_xml(BIG_THREAD_ID, userkey=uk))))[0][
            "resultcode"
        ]
        == "15"
    )


def test_key_max_uses(sb):
    s = login(sb)
    sb.key_max_uses = 2
    tk = key(s, sb, "threadkey", CHANNEL_THREAD_ID)
    element = thread_xml(CHANNEL_THREAD_ID, threadkey=tk, force_184="1")
    leaves = (
        f'<thread_leaves thread="{CHANNEL_THREAD_ID}" threadkey="{tk}" force_184="1">'
        "0-24:100,1000</thread_leaves>"
    )
    codes = [
        threads_of(parse(post_packet(s, sb, element + leaves)))[0]["resultcode"] for _ in range(3)
    ]
    assert codes == ["0", "0", "9"]  # one use per request, however many elements carry the key
    tk2 = key(s, sb, "threadkey", CHANNEL_THREAD_ID)
    assert (
        threads_of(parse(post_packet(s, sb, thread_xml(CHANNEL_THREAD_ID, threadkey=tk2))))[0][
            "resultcode"
        ]
        == "0"
    )


def test_owner_thread_and_empty_forks(sb, world):
    root = parse(
        post_packet(
            requests, sb, thread_xml(BIG_THREAD_ID, version="20061206", fork="1", res_from="-1000")
        )
    )
    head = threads_of(root)[0]
    assert head["fork"] == "1" and head["last_res"] == "20"
    chats = chats_of(root)
    assert len(chats) == 20
    assert all(
        c.get("fork") == "1" and "user_id" not in c.attrib and "leaf" not in c.attrib for c in chats
    )
    root = parse(
        post_packet(
            requests,
            sb,
            thread_xml(SHORT_THREAD_ID, version="20061206", fork="1", res_from="-1000"),
        )
    )
    head = threads_of(root)[0]
    assert head["resultcode"] == "0" and "last_res" not in head and not chats_of(root)


def test_get_form_sub_server_and_with_global(sb):
    r = requests.get(
        f"{sb.url}/msg/10/api/thread?version=20090904&thread={BIG_THREAD_ID}&res_from=-10"
    )
    via_get = parse(r)
    via_post = parse(post_packet(requests, sb, thread_xml(BIG_THREAD_ID, res_from="-10"), sub=True))
    strip = lambda root: [etree.tostring(e) for e in root if e.tag == "chat"]  # noqa: E731
    assert strip(via_get) == strip(via_post) and len(strip(via_get)) == 10
    root = parse(
        post_packet(requests, sb, thread_xml(BIG_THREAD_ID, res_from="-10", with_global="1"))
    )
    assert [e.tag for e in root][:2] == ["thread", "global_num_res"]
    assert root[1].attrib == {"thread": BIG_THREAD_ID, "num_res": "30000"}
    bare = requests.post(f"{sb.url}/msg/10/api/", data=thread_xml(BIG_THREAD_ID, res_from="-3"))
    assert len(chats_of(parse(bare))) == 3


def test_unreadable_requests_are_400(sb):
    url = f"{sb.url}/msg/10/api/"
    for body in (b"", b"<packet><thread", b"not xml", b"<other/>"):
        assert requests.post(url, data=body).status_code == 400
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;">]>'
        b'<packet><thread thread="&lol2;" version="20090904"/></packet>'
    )
    r = requests.post(url, data=laughs)
    assert r.status_code in (200, 400) and len(r.content) < 10_000
    xxe = (
        b'<?xml version="1.0"?><!DOCTYPE p [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<packet><thread thread="&x;" version="20090904"/></packet>'
    )
    r = requests.post(url, data=xxe)
    assert b"root:" not in r.content


def test_thread_leaves(sb, world):
    table = world.thread(BIG_THREAD_ID).comments
    root = parse(
        post_packet(
            requests,
            sb,
            thread_xml(BIG_THREAD_ID, res_from="-500")
            + f'<thread_leaves thread="{BIG_THREAD_ID}">0-5:3,7</thread_leaves>',
        )
    )
    tags = [e.tag for e in root]
    first_chat = tags.index("chat")
    assert set(tags[first_chat:]) == {"chat"} and tags[:2] == ["thread", "thread"]
    minutes = Counter(v // 60_000 for v in table.vpos_ms)
    leaves = [e.attrib for e in root if e.tag == "leaf"]
    assert [(int(a.get("leaf", 0)), int(a["count"])) for a in leaves] == sorted(minutes.items())
    assert "leaf" not in leaves[0]
    chats = chats_of(root)
    thread_part, leaf_part = chats[:500], chats[500:]
    expected = set()
    for minute in minutes:
        positions = [i for i, v in enumerate(table.vpos_ms) if v // 60_000 == minute]
        expected.update(positions[-3:])
    expected.update(range(len(table) - 7, len(table)))
    assert [int(c.get("no")) for c in leaf_part] == [table.nos[i] for i in sorted(expected)]
    assert set(c.get("no") for c in leaf_part) & set(c.get("no") for c in thread_part)  # repeated
    for c in chats:
        minute = int(c.get("vpos")) // 6000
        assert c.get("leaf") == (str(minute) if minute else None)
    bad = threads_of(
        parse(
            post_packet(
                requests, sb, f'<thread_leaves thread="{BIG_THREAD_ID}">junk</thread_leaves>'
            )
        )
    )
    assert bad[0]["resultcode"] == "2"
    spaced = parse(
        post_packet(
            requests,
            sb,
            f'<thread_leaves thread="{BIG_THREAD_ID}">0 - 6:1,2,nicoru: 100</thread_leaves>',
        )
    )
    assert threads_of(spaced)[0]["resultcode"] == "0" and len(chats_of(spaced)) >= 2


def test_leaves_with_when_and_keys(sb, world):
    s = login(sb)
    table = world.thread(CHANNEL_THREAD_ID).comments
    when = table.posted_at[1500]
    tk, wk = key(s, sb, "threadkey", CHANNEL_THREAD_ID), key(s, sb, "waybackkey", CHANNEL_THREAD_ID)
    no_key = (
        f'<thread_leaves thread="{CHANNEL_THREAD_ID}" when="{when}">0-24:100,1000</thread_leaves>'
    )
    assert threads_of(parse(post_packet(s, sb, no_key)))[0]["resultcode"] == "8"
    element = (
        f'<thread_leaves thread="{CHANNEL_THREAD_ID}" threadkey="{tk}" force_184="1" when="{when}" '
        f'waybackkey="{wk}">0-24:100,1000</thread_leaves>'
    )
    root = parse(post_packet(s, sb, element))
    hi = bisect_right(table.posted_at, when)
    assert sum(int(e.get("count")) for e in root if e.tag == "leaf") == hi
    assert max(int(c.get("no")) for c in chats_of(root)) == table.nos[hi - 1]


def test_chats_match_expected_comments(sb, world):
    """Collect nm14999484 (real data) by hand and compare with the ground truth."""
    s = login(sb)
    wk = key(s, sb, "waybackkey", REAL_NM_THREAD_ID)
    root = parse(
        post_packet(
            s,
            sb,
            thread_xml(
                REAL_NM_THREAD_ID,
                version="20061206",
                fork="1",
                res_from="-1000",
                scores="1",
                nicoru="3",
            )
            + thread_xml(
                REAL_NM_THREAD_ID, res_from="-1000", when=NOW, waybackkey=wk, scores="1", nicoru="3"
            ),
        )
    )
    got = [chat_to_comment(c, "owner" if c.get("fork") == "1" else "main") for c in chats_of(root)]
    expected = expected_comments(world, REAL_NM_VIDEO_ID)
    assert sorted(got) == sorted(expected)
    assert any(c.score for c in got) and any(c.nicoru_count for c in got)
    plain = chats_of(parse(post_packet(s, sb, thread_xml(REAL_NM_THREAD_ID, res_from="-1000"))))
    assert not any("score" in c.attrib or "nicoru" in c.attrib for c in plain)


def test_chat_serialization_deleted_and_escaping(sb, world):
    s = login(sb)
    wk = key(s, sb, "waybackkey", BIG_THREAD_ID)
    table = world.thread(BIG_THREAD_ID).comments
    response = post_packet(
        s, sb, thread_xml(BIG_THREAD_ID, res_from="-1000", when=NOW, waybackkey=wk, scores="1")
    )
    raw = response.content.decode("utf-8")
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f]", raw)
    assert "&lt;script&gt;" in raw and "&amp;amp; ではない" in raw and "]]&gt;" in raw
    chats = chats_of(parse(response))
    deleted = [c for c in chats if "deleted" in c.attrib]
    assert deleted
    for c in deleted:
        assert set(c.attrib) <= {
            "thread",
            "no",
            "vpos",
            "leaf",
            "date",
            "premium",
            "anonymity",
            "deleted",
        }
        assert c.text is None and c.get("deleted") in ("1", "2")
    texts = {c.text for c in chats if c.text}
    assert {"<script>alert(1)</script>", "a < b && c > d", "\"引用\"と'引用'"} & texts
    assert any("\n" in t for t in texts)
    by_no = {c.no: c for c in table[-1000:]}
    for c in chats:
        truth = by_no[int(c.get("no"))]
        if truth.deleted_reason is None:
            assert c.text == truth.content and c.get("mail", "") == truth.commands
            assert c.get("user_id") == truth.user_id
            assert c.get("premium") == ("1" if truth.is_premium else None)
            assert c.get("anonymity") == ("1" if truth.is_anonymous else None)
            assert c.get("score") == (str(truth.score) if truth.score else None)


def test_shuffled_chats_are_seeded(world):
    orders = []
    for _ in range(2):
        with Sandbox(world, shuffle_chats=True) as sandbox:
            chats = chats_of(
                parse(post_packet(requests, sandbox, thread_xml(BIG_THREAD_ID, res_from="-200")))
            )
            orders.append([int(c.get("no")) for c in chats])
    assert orders[0] == orders[1] and orders[0] != sorted(orders[0])
    assert sorted(orders[0]) == list(range(29_801, 30_001))


def test_easy_fork_on_the_legacy_server(sb, world):
    easy = world.thread(BIG_THREAD_ID, "easy").comments
    root = parse(post_packet(requests, sb, thread_xml(BIG_THREAD_ID, fork="2", res_from="-1000")))
    head = threads_of(root)[0]
    assert head["resultcode"] == "0" and head["fork"] == "2" and head["last_res"] == "300"
    chats = chats_of(root)
    assert [int(c.get("no")) for c in chats] == list(easy.nos) and all(
        c.get("fork") == "2" for c in chats
    )
    assert sb.stats.thread_requests(BIG_THREAD_ID, "easy") == 1
