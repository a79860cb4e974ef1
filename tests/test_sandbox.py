"""The emulator, through raw HTTP (requests) on loopback: no nicocomments client code involved."""

from __future__ import annotations

import ast
import hashlib
import re
import time
from bisect import bisect_right
from collections import Counter
from pathlib import Path
from urllib.parse import parse_qsl, urljoin, urlsplit

import pytest
import requests
from lxml import etree

from nicocomments.records import Comment
from nicocomments.sandbox import (
    BIG_THREAD_ID,
    CHANNEL_DEFAULT_THREAD_ID,
    CHANNEL_THREAD_ID,
    CHANNEL_VIDEO_ID,
    DEMO_EMAIL,
    DEMO_PASSWORD,
    DEMO_USER_ID,
    MEDIUM_THREAD_ID,
    MFA_CODE,
    MFA_EMAIL,
    MFA_PASSWORD,
    MFA_USER_ID,
    REAL_NM_THREAD_ID,
    REAL_NM_VIDEO_ID,
    SHORT_THREAD_ID,
    FaultPlan,
    Sandbox,
    build_world,
)

SANDBOX_DIR = Path(__file__).resolve().parent.parent / "nicocomments" / "sandbox"
PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
REDIRECTOR = "/login/redirector?show_button_twitter=1&site=niconico&show_button_facebook=1"
NOW = 2_000_000_000  # a `when` after every comment


@pytest.fixture(scope="session")
def world():
    return build_world(0)


@pytest.fixture
def sb(world):
    with Sandbox(world) as sandbox:
        yield sandbox


def login(sb, email=DEMO_EMAIL, password=DEMO_PASSWORD) -> requests.Session:
    session = requests.Session()
    r = session.post(sb.account_url + REDIRECTOR, data={"mail_tel": email, "password": password})
    assert r.status_code == 200 and r.url == sb.www_url + "/"
    return session


def kv(text: str) -> dict[str, str]:
    return dict(parse_qsl(text, keep_blank_values=True))


def post_packet(session, sb, inner: str, *, sub: bool = False) -> requests.Response:
    url = f"{sb.url}/msg/{'sub/' if sub else ''}10/api/"
    return session.post(
        url,
        data=f"<packet>{inner}</packet>".encode(),
        headers={"Content-Type": "text/plain; charset=UTF-8"},
    )


def parse(response: requests.Response) -> etree._Element:
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/xml; charset=UTF-8"
    assert response.content.startswith(b'<?xml version="1.0" encoding="UTF-8"?><packet>')
    return etree.fromstring(response.content, PARSER)


def threads_of(root):
    return [dict(e.attrib) for e in root if e.tag == "thread"]


def chats_of(root):
    return [e for e in root if e.tag == "chat"]


def thread_xml(thread_id, **attrs) -> str:
    attrs = {"thread": thread_id, "version": "20090904", **attrs}
    return "<thread " + " ".join(f'{k}="{v}"' for k, v in attrs.items() if v is not None) + "/>"


def key(session, sb, kind: str, thread_id: str) -> str:
    text = session.get(f"{sb.url}/flapi/api/get{kind}?thread={thread_id}").text
    return kv(text)[kind]


def chat_to_comment(chat, fork: str) -> Comment:
    """What a legacy client stores for one <chat> (the mapping `expected_comments` promises)."""
    a = chat.attrib
    deleted = "deleted" in a
    return Comment(
        thread_id=a["thread"],
        fork=fork,
        no=int(a["no"]),
        vpos_ms=int(a["vpos"]) * 10,
        posted_at=int(a["date"]),
        content=chat.text or "",
        commands=a.get("mail", ""),
        date_usec=int(a["date_usec"]) if "date_usec" in a else None,
        user_id=a.get("user_id"),
        is_premium=a.get("premium") == "1",
        is_anonymous=a.get("anonymity") == "1",
        is_deleted=deleted,
        deleted_reason=int(a["deleted"]) if deleted else None,
        score=int(a["score"]) if "score" in a else None,
        nicoru_count=int(a["nicoru"]) if "nicoru" in a else None,
    )


# -- world ------------------------------------------------------------------------------------


def _digest(w) -> str:
    h = hashlib.sha256()
    for key_, thread in sorted(w.threads.items()):
        h.update(repr((key_, thread.label, thread.needs_key, thread.force_184)).encode())
        for comment in thread.comments:
            h.update(repr(comment).encode())
    h.update(repr(sorted(w.videos.items())).encode())
    return h.hexdigest()


def test_world_is_deterministic(world):
    assert _digest(build_world(0)) == _digest(world)
    assert _digest(build_world(1)) != _digest(world)


def test_world_contents(world):
    counts = {key_: len(t.comments) for key_, t in world.threads.items()}
    assert counts[(BIG_THREAD_ID, "main")] == 30_000
    assert counts[(BIG_THREAD_ID, "owner")] == 20
    assert counts[(CHANNEL_THREAD_ID, "main")] == 3000
    assert counts[(CHANNEL_DEFAULT_THREAD_ID, "main")] == 800
    assert counts[(CHANNEL_DEFAULT_THREAD_ID, "owner")] == 10
    assert counts[(SHORT_THREAD_ID, "main")] == 400
    assert (SHORT_THREAD_ID, "owner") not in counts
    assert counts[(MEDIUM_THREAD_ID, "main")] == 1500
    assert counts[(REAL_NM_THREAD_ID, "main")] == 339
    assert counts[(REAL_NM_THREAD_ID, "owner")] == 802
    assert counts[("1428845905", "main")] == 6972  # 25 repeated nos dropped
    assert counts[("1512298011", "main")] == 819
    assert world.thread(CHANNEL_THREAD_ID).needs_key and world.thread(CHANNEL_THREAD_ID).force_184
    assert world.thread(CHANNEL_THREAD_ID).label == "community"
    assert world.videos["sm9"].duration_s == 319 and world.videos["sm9"].posted_at == 1173108780
    assert world.videos["sm8000001"].deleted == 1 and world.videos["sm8000008"].deleted == 8

    ids = []
    for thread in world.threads.values():
        t = thread.comments
        assert all(a < b for a, b in zip(t.nos, t.nos[1:], strict=False))
        assert all(a <= b for a, b in zip(t.posted_at, t.posted_at[1:], strict=False))
        assert all(v % 10 == 0 for v in t.vpos_ms)
        ids.extend(t.comment_id(i) for i in range(len(t)))
    assert len(ids) == len(set(ids))

    big = list(world.thread(BIG_THREAD_ID).comments)
    assert [c.no for c in big] == list(range(1, 30_001))
    assert big[0].posted_at >= 1173108780 and big[-1].posted_at <= 1704034799
    assert 0.015 < sum(c.deleted_reason is not None for c in big) / len(big) < 0.03
    assert {c.deleted_reason for c in big} == {None, 1, 2}
    assert 0.55 < sum(c.is_anonymous for c in big) / len(big) < 0.65
    assert all(c.is_anonymous == ("184" in c.commands.split()) for c in big)
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{27}", c.user_id) for c in big if c.is_anonymous)
    assert all(c.user_id.isdigit() for c in big if not c.is_anonymous)
    assert Counter(c.user_id for c in big).most_common(1)[0][1] > 100  # flooders
    assert all(re.fullmatch(r"\d{18}", c.comment_id) for c in big)
    community = world.thread(CHANNEL_THREAD_ID).comments
    assert all(c.is_anonymous and "184" in c.commands.split() for c in community)
    owner = list(world.thread(BIG_THREAD_ID, "owner").comments)
    assert all(c.user_id == "4" and c.posted_at == 1173108780 for c in owner)
    assert {"ue red big", "shita", "@5"} <= {c.commands for c in owner}


def test_bursts_straddle_every_past_log_page(world):
    dates = world.thread(BIG_THREAD_ID).comments.posted_at
    end, pages = len(dates), 0
    while end - 1000 > 0:
        start = end - 1000
        run_lo = start
        while run_lo > 0 and dates[run_lo - 1] == dates[start]:
            run_lo -= 1
        run_hi = bisect_right(dates, dates[start])
        assert run_lo < start and run_hi > start + 1, f"page start {start} is not inside a burst"
        assert run_hi - run_lo >= 8
        end, pages = run_hi, pages + 1
    assert pages >= 29
    runs = Counter(dates)
    assert sum(1 for n in runs.values() if n >= 8) >= pages + 1  # and a few elsewhere


def test_expected_comments_mapping(world):
    expected = world.expected_comments("sm9")
    assert len(expected) == 30_020
    assert all(isinstance(c, Comment) for c in expected)
    owner = [c for c in expected if c.fork == "owner"]
    assert len(owner) == 20 and all(c.user_id is None for c in owner)
    truth = {c.no: c for c in world.thread(BIG_THREAD_ID).comments}
    for c in expected:
        assert c.thread_id == BIG_THREAD_ID and c.comment_id is None and c.source is None
        if c.fork != "main":
            continue
        t = truth[c.no]
        assert c.vpos_ms == t.vpos_ms and c.posted_at == t.posted_at
        assert c.is_deleted == (t.deleted_reason is not None)
        if c.is_deleted:
            assert (c.content, c.commands, c.user_id, c.score, c.date_usec) == (
                "",
                "",
                None,
                None,
                None,
            )
            assert c.deleted_reason == t.deleted_reason
        else:
            assert (c.content, c.commands, c.user_id) == (t.content, t.commands, t.user_id)
            assert c.score == (t.score or None) and c.nicoru_count == (t.nicoru_count or None)
            assert c.date_usec == t.date_usec
    channel = world.expected_comments(CHANNEL_VIDEO_ID)
    assert Counter((c.thread_id, c.fork) for c in channel) == {
        (CHANNEL_THREAD_ID, "main"): 3000,
        (CHANNEL_DEFAULT_THREAD_ID, "main"): 800,
        (CHANNEL_DEFAULT_THREAD_ID, "owner"): 10,
    }
    with pytest.raises(ValueError):
        world.expected_comments("sm9", protocol="carrier-pigeon")


def test_describe_lists_accounts_and_videos(world):
    text = world.describe()
    for needle in (
        DEMO_EMAIL,
        MFA_EMAIL,
        MFA_CODE,
        "sm9",
        CHANNEL_VIDEO_ID,
        CHANNEL_THREAD_ID,
        REAL_NM_VIDEO_ID,
    ):
        assert needle in text


def test_sandbox_imports_no_data_side_or_cli_libraries():
    banned = {"sqlalchemy", "pandas", "typer", "rich"}
    for path in SANDBOX_DIR.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else ([node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            )
            assert not {n.split(".")[0] for n in names} & banned, path.name
        assert "shared/samples" not in path.read_text(encoding="utf-8"), (
            path.name
        )  # must load anywhere


# -- login ------------------------------------------------------------------------------------


def test_login_page_and_wrong_password(sb):
    s = requests.Session()
    page = s.get(sb.account_url + "/login")
    assert page.status_code == 200 and 'name="mail_tel"' in page.text and "nicosid" in s.cookies
    r = s.post(
        sb.account_url + REDIRECTOR + "&sec=header_pc&next_url=%2F",
        data={"mail_tel": DEMO_EMAIL, "password": "nope"},
        allow_redirects=False,
    )
    assert r.status_code == 302
    assert r.headers["Location"] == sb.account_url + "/login?message=cant_login"
    assert "user_session" not in s.cookies
    followed = s.get(r.headers["Location"])
    assert '<div class="notice error">' in followed.text
    r = s.post(
        sb.account_url + REDIRECTOR,
        data={"mail_tel": "who@example.com", "password": "x"},
        allow_redirects=False,
    )
    assert r.headers["Location"].endswith("message=cant_login")


def test_login_sets_a_host_only_session_cookie(sb):
    s = requests.Session()
    r = s.post(
        sb.account_url + REDIRECTOR,
        data={"mail_tel": DEMO_EMAIL, "password": DEMO_PASSWORD},
        allow_redirects=False,
    )
    assert r.status_code == 302 and r.headers["Location"] == sb.www_url + "/"
    cookie = next(c for c in s.cookies if c.name == "user_session")
    assert re.fullmatch(r"user_session_100001_[0-9a-f]+", cookie.value)
    assert cookie.domain == "127.0.0.1" and not cookie.domain_specified and cookie.path == "/"
    assert "user_session_secure" in s.cookies
    assert "Domain" not in r.headers["Set-Cookie"] and "HttpOnly" in r.headers["Set-Cookie"]
    home = s.get(sb.www_url + "/")
    assert (
        home.headers["x-niconico-authflag"] == "3" and home.headers["x-niconico-id"] == DEMO_USER_ID
    )
    guest = requests.get(sb.www_url + "/")
    assert guest.headers["x-niconico-authflag"] == "0" and "x-niconico-id" not in guest.headers


def _start_mfa(sb):
    s = requests.Session()
    r = s.post(sb.account_url + REDIRECTOR, data={"mail_tel": MFA_EMAIL, "password": MFA_PASSWORD})
    assert r.status_code == 200 and urlsplit(r.url).path == "/account/mfa"
    assert "oneTimePw" in r.text and '<div class="pageMainMsg"><span class="userAccount">' in r.text
    assert "user_session" not in s.cookies
    action = re.search(r'<form action="([^"]+)" method="post">', r.text).group(1)
    assert action.startswith("/account/mfa?")
    return s, urljoin(r.url, action.replace("&amp;", "&"))


def test_two_factor_login(sb):
    s, action = _start_mfa(sb)
    wrong = s.post(action, data={"otp": "000000", "device_name": "pytest", "loginBtn": "ログイン"})
    assert wrong.status_code == 200 and urlsplit(wrong.url).path == "/account/mfa"
    assert '<div class="formError">' in wrong.text
    r = s.post(action, data={"otp": MFA_CODE, "device_name": "pytest"}, allow_redirects=False)
    assert r.status_code == 302 and r.headers["Location"] == sb.www_url + "/"
    assert s.cookies["user_session"].startswith(f"user_session_{MFA_USER_ID}_")
    home = s.get(sb.www_url + "/")
    assert (
        home.headers["x-niconico-authflag"] == "1" and home.headers["x-niconico-id"] == MFA_USER_ID
    )


def test_two_factor_three_wrong_codes_expire_the_step(sb):
    s, action = _start_mfa(sb)
    for _ in range(2):
        assert '<div class="formError">' in s.post(action, data={"otp": "111111"}).text
    r = s.post(action, data={"otp": "111111"}, allow_redirects=False)
    assert r.status_code == 302 and "/account/login?error-code=" in r.headers["Location"]
    r = s.post(action, data={"otp": MFA_CODE}, allow_redirects=False)
    assert "error-code=" in r.headers["Location"] and "user_session" not in s.cookies


def test_two_factor_step_expires_after_ten_minutes(sb):
    s, action = _start_mfa(sb)
    sb.clock = lambda: time.time() + 601
    r = s.post(action, data={"otp": MFA_CODE}, allow_redirects=False)
    assert r.status_code == 302 and "error-code=" in r.headers["Location"]
    assert "user_session" not in s.cookies


def test_two_factor_step_belongs_to_its_cookie(sb):
    _, action = _start_mfa(sb)
    stranger = requests.Session()
    r = stranger.post(action, data={"otp": MFA_CODE}, allow_redirects=False)
    assert r.status_code == 302 and "error-code=" in r.headers["Location"]
    assert stranger.get(sb.account_url + "/mfa", allow_redirects=False).status_code == 302


def test_expire_sessions(sb):
    s = login(sb)
    assert "thread_id" in kv(s.get(sb.url + "/flapi/api/getflv/sm9").text)
    sb.expire_sessions()
    assert s.get(sb.url + "/flapi/api/getflv/sm9").text == "closed=1&done=true"
    assert s.get(sb.www_url + "/").headers["x-niconico-authflag"] == "0"


# -- flapi and www ----------------------------------------------------------------------------


def test_getflv_requires_login(sb):
    assert requests.get(sb.url + "/flapi/api/getflv/sm9").text == "closed=1&done=true"


def test_getflv_fields(sb):
    s = login(sb)
    r = s.get(sb.url + "/flapi/api/getflv/sm9")
    assert r.headers["Content-Type"].startswith("text/plain")
    assert "\n" not in r.text and "%3A%2F%2F" in r.text and "%7E1%7E" in r.text
    flv = kv(r.text)
    assert list(flv)[:6] == ["thread_id", "l", "url", "link", "ms", "ms_sub"]
    assert flv["thread_id"] == BIG_THREAD_ID and flv["l"] == "319" and flv["done"] == "true"
    assert flv["ms"] == sb.url + "/msg/10/api/" and flv["ms_sub"] == sb.url + "/msg/sub/10/api/"
    assert flv["user_id"] == DEMO_USER_ID and flv["is_premium"] == "1" and flv["nickname"]
    assert abs(int(flv["time"]) / 1000 - time.time()) < 60
    assert re.fullmatch(r"\d{10}\.~1~[A-Za-z0-9_-]{43}", flv["userkey"])
    assert "needs_key" not in flv and "deleted" not in flv and "closed" not in flv
    for variant in (
        "/flapi/api/getflv/sm9?as3=1",
        "/flapi/api/getflv?v=sm9",
        f"/flapi/api/getflv/{BIG_THREAD_ID}",
    ):
        assert kv(s.get(sb.url + variant).text)["thread_id"] == BIG_THREAD_ID
    assert (
        kv(s.get(sb.url + f"/flapi/api/getflv/{REAL_NM_VIDEO_ID}").text)["thread_id"]
        == REAL_NM_THREAD_ID
    )


def test_getflv_errors_and_so_ids(sb):
    s = login(sb)
    for bad in ("sm999999999", "nm1", "123", CHANNEL_VIDEO_ID):
        assert s.get(f"{sb.url}/flapi/api/getflv/{bad}").text == "error=invalid_thread&done=true"
    watch = s.get(f"{sb.www_url}/watch/{CHANNEL_VIDEO_ID}", allow_redirects=False)
    assert (
        watch.status_code == 302
        and watch.headers["Location"] == f"{sb.www_url}/watch/{CHANNEL_THREAD_ID}"
    )
    assert s.get(watch.headers["Location"]).status_code == 200
    for thread_id in (CHANNEL_THREAD_ID, CHANNEL_DEFAULT_THREAD_ID):
        flv = kv(s.get(f"{sb.url}/flapi/api/getflv/{thread_id}").text)
        assert flv["thread_id"] == CHANNEL_THREAD_ID and flv["needs_key"] == "1"
        assert flv["optional_thread_id"] == CHANNEL_DEFAULT_THREAD_ID and flv["l"] == "1420"


def test_getflv_deleted_and_private(sb):
    s = login(sb)
    for video_id, code in (("sm8000001", "1"), ("sm8000008", "8")):
        flv = kv(s.get(f"{sb.url}/flapi/api/getflv/{video_id}").text)
        assert flv["deleted"] == code and flv["l"] == "0" and flv["done"] == "true"
        for field in (
            "thread_id",
            "url",
            "link",
            "ms",
            "ms_sub",
            "user_id",
            "is_premium",
            "nickname",
            "time",
        ):
            assert flv[field]


def test_www_pages_and_404s(sb):
    assert requests.get(sb.www_url + "/watch/sm9").status_code == 200
    assert requests.get(sb.www_url + "/watch/sm123456789").status_code == 404
    assert requests.get(sb.www_url + "/watch/so1").status_code == 404
    for path in (
        "/",
        "/nothing",
        "/flapi/api/nothing",
        "/nvapi/v1/comment/keys/thread",
        "/msg/10/api.json/",
    ):
        assert requests.get(sb.url + path).status_code == 404


def test_getthreadkey(sb):
    assert requests.get(f"{sb.url}/flapi/api/getthreadkey?thread={CHANNEL_THREAD_ID}").text == ""
    s = login(sb)
    text = s.get(f"{sb.url}/flapi/api/getthreadkey?thread={CHANNEL_THREAD_ID}").text
    assert re.fullmatch(r"threadkey=\d{10}\.[A-Za-z0-9_-]{27}&force_184=1", text)
    assert s.get(f"{sb.url}/flapi/api/getthreadkey?thread={BIG_THREAD_ID}").text == ""
    assert s.get(f"{sb.url}/flapi/api/getthreadkey?thread={CHANNEL_DEFAULT_THREAD_ID}").text == ""


def test_getwaybackkey(sb):
    assert (
        requests.get(f"{sb.url}/flapi/api/getwaybackkey?thread={BIG_THREAD_ID}").text
        == "waybackkey="
    )
    demo = login(sb)
    assert re.fullmatch(
        r"waybackkey=\d{10}\.[A-Za-z0-9_-]{27}",
        demo.get(f"{sb.url}/flapi/api/getwaybackkey?thread={BIG_THREAD_ID}").text,
    )
    general, action = _start_mfa(sb)
    general.post(action, data={"otp": MFA_CODE})
    assert key(general, sb, "waybackkey", BIG_THREAD_ID)
    sb.past_logs_premium_only = True
    assert key(general, sb, "waybackkey", BIG_THREAD_ID) == ""
    assert key(demo, sb, "waybackkey", BIG_THREAD_ID)


# -- message server ---------------------------------------------------------------------------


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
    expected = world.expected_comments(REAL_NM_VIDEO_ID)
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


# -- faults, injection, stats -----------------------------------------------------------------


@pytest.mark.parametrize(("kind", "status"), [("http500", 500), ("http503", 503), ("http429", 429)])
def test_http_error_faults(sb, kind, status):
    sb.faults = FaultPlan(rate=1.0, kinds=(kind,), retry_after=7)
    r = post_packet(requests, sb, thread_xml(BIG_THREAD_ID))
    assert r.status_code == status and r.content
    if kind == "http429":
        assert r.headers["Retry-After"] == "7"
    assert sb.stats.faulted["msg"] == 1 and sb.stats.thread_requests(BIG_THREAD_ID) == 0
    assert requests.get(sb.url + "/flapi/api/getflv/sm9").status_code == 200  # not a target


def test_drop_and_truncate_faults(sb):
    sb.faults = FaultPlan(rate=1.0, kinds=("drop",))
    with pytest.raises(requests.ConnectionError):
        post_packet(requests, sb, thread_xml(BIG_THREAD_ID))
    sb.faults = FaultPlan(rate=1.0, kinds=("truncate",), targets=("msg", "flapi"))
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.ConnectionError)):
        post_packet(requests, sb, thread_xml(BIG_THREAD_ID))
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.ConnectionError)):
        requests.get(f"{sb.url}/flapi/api/getthreadkey?thread={BIG_THREAD_ID}")  # empty body
    assert sb.stats.thread_requests(BIG_THREAD_ID) == 0
    assert sb.stats.faulted == {"msg": 2, "flapi": 1}
    sb.faults = None
    assert len(chats_of(parse(post_packet(requests, sb, thread_xml(BIG_THREAD_ID))))) == 100
    assert sb.stats.thread_requests(BIG_THREAD_ID) == 1


def test_slow_fault(sb):
    sb.faults = FaultPlan(rate=1.0, kinds=("slow",), slow_seconds=0.3)
    started = time.monotonic()
    assert len(chats_of(parse(post_packet(requests, sb, thread_xml(BIG_THREAD_ID))))) == 100
    assert time.monotonic() - started >= 0.3
    with pytest.raises(requests.Timeout):
        requests.post(f"{sb.url}/msg/10/api/", data=thread_xml(BIG_THREAD_ID), timeout=0.05)


def test_faults_are_seeded_and_drawn_in_arrival_order(world):
    runs = []
    for _ in range(2):
        with Sandbox(
            world, faults=FaultPlan(rate=0.5, kinds=("http500", "http503"), seed=3)
        ) as sandbox:
            session = requests.Session()
            runs.append(
                [
                    post_packet(
                        session, sandbox, thread_xml(BIG_THREAD_ID, res_from="-1")
                    ).status_code
                    for _ in range(40)
                ]
            )
            assert sandbox.stats.faulted["msg"] == sum(code != 200 for code in runs[-1])
            assert sandbox.stats.thread_requests(BIG_THREAD_ID) == runs[-1].count(200)
    assert runs[0] == runs[1] and {200, 500, 503} == set(runs[0])


def test_inject(sb):
    sb.inject("msg", b"<packet><thread resultcode=", times=2)
    sb.inject("flapi", b"error=busy", status=503, content_type="text/plain")
    for _ in range(2):
        r = post_packet(requests, sb, thread_xml(BIG_THREAD_ID))
        assert r.content == b"<packet><thread resultcode=" and r.headers["Content-Type"].startswith(
            "text/xml"
        )
    assert len(chats_of(parse(post_packet(requests, sb, thread_xml(BIG_THREAD_ID))))) == 100
    r = requests.get(sb.url + "/flapi/api/getflv/sm9")
    assert (r.status_code, r.text) == (503, "error=busy")
    assert requests.get(sb.url + "/flapi/api/getflv/sm9").text == "closed=1&done=true"
    assert (
        sb.stats.injected == {"msg": 2, "flapi": 1} and sb.stats.thread_requests(BIG_THREAD_ID) == 1
    )
    with pytest.raises(ValueError):
        sb.inject("nowhere", b"")


def test_stats(sb):
    s = login(sb)
    wk = key(s, sb, "waybackkey", BIG_THREAD_ID)
    post_packet(
        s,
        sb,
        thread_xml(BIG_THREAD_ID)
        + thread_xml(BIG_THREAD_ID, fork="1", version="20061206")
        + f'<thread_leaves thread="{BIG_THREAD_ID}">0-5:1,1</thread_leaves>',
    )
    post_packet(s, sb, thread_xml(BIG_THREAD_ID, when=NOW, waybackkey=wk))
    post_packet(s, sb, thread_xml(BIG_THREAD_ID, when=NOW))  # resultcode 4, still answered
    stats = sb.stats
    assert stats.thread_requests(BIG_THREAD_ID) == 3
    assert stats.thread_requests(BIG_THREAD_ID, "main", with_when=True) == 2
    assert stats.thread_requests(BIG_THREAD_ID, "main", with_when=False) == 1
    assert stats.thread_requests(int(BIG_THREAD_ID), "owner") == 1
    assert stats.leaves[(BIG_THREAD_ID, "main")] == 1
    assert stats.resultcodes[(BIG_THREAD_ID, "main", 4)] == 1
    assert (
        stats.requests["msg"] == 3
        and stats.requests["account"] == 1
        and stats.requests["flapi"] == 1
    )
    snapshot = stats.snapshot()
    sb.reset_stats()
    assert snapshot["requests"]["msg"] == 3
    assert sb.stats.thread_requests(BIG_THREAD_ID) == 0 and not sb.stats.requests


def test_stop_closes_kept_alive_connections(world):
    sandbox = Sandbox(world).start()
    session = requests.Session()
    assert session.get(sandbox.www_url + "/").status_code == 200
    url = sandbox.www_url + "/"
    sandbox.stop()
    with pytest.raises(requests.ConnectionError):
        session.get(url, timeout=5)


def test_endpoints_and_env(sb):
    assert (
        sb.endpoints()
        == sb.env()
        == {
            "NICO_FLAPI_URL": f"{sb.url}/flapi",
            "NICO_ACCOUNT_URL": f"{sb.url}/account",
            "NICO_WWW_URL": f"{sb.url}/www",
            "NICO_NVAPI_URL": f"{sb.url}/nvapi",
        }
    )
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", sb.url)


# -- scale ------------------------------------------------------------------------------------


def test_million_comment_world():
    started = time.monotonic()
    big = build_world(0, big_comments=1_000_000)
    built = time.monotonic() - started
    table = big.thread(BIG_THREAD_ID).comments
    assert len(table) == 1_000_000 and table.nos[-1] == 1_000_000
    assert built < 30
    with Sandbox(big) as sandbox:
        s = login(sandbox)
        wk = key(s, sandbox, "waybackkey", BIG_THREAD_ID)
        when = table.posted_at[500_000]
        started = time.monotonic()
        for _ in range(5):
            root = parse(
                post_packet(
                    s,
                    sandbox,
                    thread_xml(BIG_THREAD_ID, res_from="-1000", when=when, waybackkey=wk),
                )
            )
        assert (time.monotonic() - started) / 5 < 1.0
        hi = bisect_right(table.posted_at, when)
        assert [int(c.get("no")) for c in chats_of(root)] == list(table.nos[hi - 1000 : hi])
