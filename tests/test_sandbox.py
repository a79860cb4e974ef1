"""The emulator, through raw HTTP (requests) on loopback: no nicocomments client code involved."""

from __future__ import annotations

import ast
import base64
import hashlib
import hmac
import html
import json
import re
import time
from bisect import bisect_right
from collections import Counter
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qsl, urljoin, urlsplit

import lxml.html
import pytest
import requests
from lxml import etree

from nicocomments.records import Comment
from nicosandbox import (
    BIG_THREAD_ID,
    BIG_VIDEO_ID,
    CHANNEL_DEFAULT_THREAD_ID,
    CHANNEL_THREAD_ID,
    CHANNEL_VIDEO_ID,
    DELETED_VIDEO_ID,
    DEMO_EMAIL,
    DEMO_PASSWORD,
    DEMO_USER_ID,
    DOMESTIC_VIDEO_ID,
    LEAF_CAP,
    LEAF_PER_MINUTE,
    MEDIUM_THREAD_ID,
    MEDIUM_VIDEO_ID,
    MEMBERS_ONLY_VIDEO_ID,
    MFA_CODE,
    MFA_EMAIL,
    MFA_PASSWORD,
    MFA_USER_ID,
    OPERATOR_DELETED_VIDEO_ID,
    PREMIUM_ONLY_VIDEO_ID,
    PRIVATE_VIDEO_ID,
    REAL_NM_THREAD_ID,
    REAL_NM_VIDEO_ID,
    RIGHTS_DELETED_VIDEO_ID,
    SHORT_THREAD_ID,
    SHORT_VIDEO_ID,
    FaultPlan,
    Sandbox,
    build_world,
)
from tests.conftest import shared_file

SANDBOX_DIR = Path(__file__).resolve().parent.parent / "nicosandbox"
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


FRONTEND = {"X-Frontend-Id": "6", "X-Frontend-Version": "0"}
TRACK = {"actionTrackId": "AAAAAAAAAA_1700000000000"}


def watch_api(session, sb, video_id, *, guest=False, headers=FRONTEND, params=TRACK):
    path = "v3_guest" if guest else "v3"
    return session.get(f"{sb.www_url}/api/watch/{path}/{video_id}", params=params, headers=headers)


def watch_data(session, sb, video_id, *, guest=False) -> dict:
    r = watch_api(session, sb, video_id, guest=guest)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
    payload = r.json()
    assert payload["meta"] == {"status": 200}
    return payload["data"]


def server_response(response: requests.Response) -> dict:
    """The ``server-response`` meta of a watch page, read two ways (lxml and a raw regex +
    html.unescape) that must agree."""
    assert response.headers["Content-Type"].startswith("text/html")
    doc = lxml.html.fromstring(response.content)
    [content] = doc.xpath('//meta[@name="server-response"]/@content')
    raw = re.search(rb'<meta name="server-response" content="([^"]*)"', response.content)
    assert html.unescape(raw.group(1).decode("utf-8")) == content
    return json.loads(content)


def b64url_json(part: str):
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def jwt(token: str) -> tuple[dict, dict]:
    head, body, _ = token.split(".")
    return b64url_json(head), b64url_json(body)


def v1(
    sb,
    key,
    targets,
    additionals=None,
    *,
    headers=None,
    content_type="text/plain;charset=UTF-8",
    session=requests,
    query="",
) -> requests.Response:
    body = {
        "params": {"targets": [{"id": t, "fork": f} for t, f in targets], "language": "ja-jp"},
        "threadKey": key,
        "additionals": {} if additionals is None else additionals,
    }
    sent = {**FRONTEND, **({} if headers is None else headers)}
    if content_type is not None:
        sent["Content-Type"] = content_type
    return session.post(
        f"{sb.nvcomment_url}/v1/threads{query}",
        data=json.dumps(body, ensure_ascii=False).encode(),
        headers={k: v for k, v in sent.items() if v is not None},
    )


def v1_ok(*args, **kwargs) -> list[dict]:
    r = v1(*args, **kwargs)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    return r.json()["data"]["threads"]


def v1_error(*args, **kwargs) -> tuple[int, str]:
    r = v1(*args, **kwargs)
    payload = r.json()
    assert payload["meta"]["status"] == r.status_code
    return r.status_code, payload["meta"]["errorCode"]


def unix(iso: str) -> int:
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+09:00", iso), iso
    return int(datetime.fromisoformat(iso).timestamp())


def v1_to_comment(raw: dict, thread_id: str, fork: str) -> Comment:
    """What an nvcomment client stores for one comment object (the mapping
    `expected_comments(..., "nvcomment")` promises; ``source`` compared separately)."""
    return Comment(
        thread_id=thread_id,
        fork=fork,
        no=raw["no"],
        vpos_ms=raw["vposMs"],
        posted_at=unix(raw["postedAt"]),
        content=raw["body"],
        commands=" ".join(raw["commands"]),
        date_usec=None,
        user_id=raw["userId"],
        is_premium=raw["isPremium"],
        is_anonymous="184" in raw["commands"],
        is_deleted=False,
        deleted_reason=None,
        score=raw["score"],
        nicoru_count=raw["nicoruCount"],
        comment_id=raw["id"],
        source=None,
    )


def guest_key(sb, video_id=BIG_VIDEO_ID) -> str:
    return watch_data(requests, sb, video_id, guest=True)["comment"]["nvComment"]["threadKey"]


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
    assert world.videos["sm8000002"].deleted == 2 and world.videos["sm8000003"].deleted == 3
    assert [world.videos[v].access for v in ("so8000100", "sm8000200", "sm8000300")] == [
        "channel_member",
        "premium",
        "domestic",
    ]
    easy = world.thread(BIG_THREAD_ID, "easy")
    assert counts[(BIG_THREAD_ID, "easy")] == 300 and easy.label == "easy"
    assert world.videos["sm9"].threads == (
        (BIG_THREAD_ID, "main"),
        (BIG_THREAD_ID, "owner"),
        (BIG_THREAD_ID, "easy"),
    )
    assert all(c.is_anonymous == ("184" in c.commands.split()) for c in easy.comments)
    assert 0.5 < sum(c.is_anonymous for c in easy.comments) / 300 < 0.9
    assert all(len(c.content) <= 8 and c.posted_at >= 1593529200 for c in easy.comments)

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
        "1173108780/easy 300",
        "sm8000002",
        "ADMINISTRATOR_DELETE_VIDEO",
        "sm8000003",
        "RIGHT_HOLDER_DELETE_VIDEO",
        "so8000100",
        "CHANNEL_MEMBER_ONLY",
        "sm8000200",
        "PREMIUM_ONLY",
        "sm8000300",
        "DOMESTIC_VIDEO",
    ):
        assert needle in text
    with Sandbox(world) as sandbox:
        full = sandbox.describe()
        assert text in full and sandbox.nvcomment_url in full and sandbox.www_url in full


def test_sandbox_imports_no_data_side_or_cli_libraries():
    banned = {"sqlalchemy", "pandas", "typer", "rich"}
    for path in SANDBOX_DIR.rglob("*.py"):
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
    # No redirect any more: the so page embeds the watch data, which names the threads.
    watch = s.get(f"{sb.www_url}/watch/{CHANNEL_VIDEO_ID}", allow_redirects=False)
    assert watch.status_code == 200
    threads = server_response(watch)["data"]["response"]["comment"]["threads"]
    keyed = [t for t in threads if t["fork"] == 0 and t["isThreadkeyRequired"]]
    assert [str(t["id"]) for t in keyed] == [CHANNEL_THREAD_ID]
    for thread_id in (CHANNEL_THREAD_ID, CHANNEL_DEFAULT_THREAD_ID):
        flv = kv(s.get(f"{sb.url}/flapi/api/getflv/{thread_id}").text)
        assert flv["thread_id"] == CHANNEL_THREAD_ID and flv["needs_key"] == "1"
        assert flv["optional_thread_id"] == CHANNEL_DEFAULT_THREAD_ID and flv["l"] == "1420"


def test_getflv_knows_nothing_of_todays_limits(sb):
    """getflv serves the premium-only and Japan-only videos (the Flash era had no such limit in
    this emulator) and, as ever, no so id, but the thread id of one."""
    s = login(sb)
    for video_id in (PREMIUM_ONLY_VIDEO_ID, DOMESTIC_VIDEO_ID, "1250000100"):
        flv = kv(s.get(f"{sb.url}/flapi/api/getflv/{video_id}").text)
        assert flv["thread_id"] and "deleted" not in flv and flv["l"] == "95"
    assert s.get(f"{sb.url}/flapi/api/getflv/{MEMBERS_ONLY_VIDEO_ID}").text == (
        "error=invalid_thread&done=true"
    )


def test_getflv_deleted_and_private(sb):
    s = login(sb)
    for video_id, code in (
        ("sm8000001", "1"),
        ("sm8000002", "2"),
        ("sm8000003", "3"),
        ("sm8000008", "8"),
    ):
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
        "/nvapi/v1/nothing",
        "/nvcomment/v1/threads",  # GET: only POST is served
        "/msg/10/api.json/",
    ):
        assert requests.get(sb.url + path).status_code == 404
    # nvapi's thread-key endpoint exists now: without its parameters it is a 400.
    assert requests.get(sb.url + "/nvapi/v1/comment/keys/thread").status_code == 400


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


def test_inject_a_huge_answer_without_holding_it(sb):
    sb.inject("flapi", b"0123456789", repeat=100_000, declare_length=False)
    with requests.get(sb.url + "/flapi/api/getflv/sm9", stream=True) as r:
        assert "Content-Length" not in r.headers and r.headers["Connection"] == "close"
        assert sum(len(chunk) for chunk in r.iter_content(65536)) == 1_000_000
    sb.inject("flapi", b"0123456789", repeat=3)
    r = requests.get(sb.url + "/flapi/api/getflv/sm9")
    assert r.headers["Content-Length"] == "30" and r.content == b"0123456789" * 3


def test_tamper_edits_the_real_answer_it_is_meant_for(sb):
    seen = []

    def edit(body):
        seen.append(body)
        return body.replace(b"closed=1", b"closed=0") if len(seen) >= 2 else None

    sb.tamper("flapi", edit)
    url = sb.url + "/flapi/api/getflv/sm9"
    assert requests.get(url).text.startswith("closed=1")  # left alone: the edit stays queued
    assert requests.get(url).text.startswith("closed=0")  # edited: the edit is used up
    assert requests.get(url).text.startswith("closed=1") and len(seen) == 2
    assert sb.stats.injected == {"flapi": 1}
    sb.tamper("flapi", lambda body: b"never", times=5)
    sb.clear_injections()
    assert requests.get(url).text.startswith("closed=1")
    with pytest.raises(ValueError):
        sb.tamper("nowhere", edit)


def test_trickle_fault_sends_a_byte_at_a_time(sb):
    sb.faults = FaultPlan(rate=1.0, kinds=("trickle",), targets=("flapi",), trickle_seconds=0.2)
    started = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(sb.url + "/flapi/api/getflv/sm9", timeout=(1, 0.1))  # no byte in 0.1 s
    sb.faults = FaultPlan(rate=1.0, kinds=("trickle",), targets=("flapi",), trickle_seconds=0.001)
    r = requests.get(sb.url + "/flapi/api/getflv/sm9", timeout=(1, 1))  # slow, but all of it
    assert r.status_code == 200 and r.text.startswith("closed=1")
    assert time.monotonic() - started < 5 and sb.stats.fault_kinds[("flapi", "trickle")] == 2


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


@pytest.mark.slow
def test_million_comment_world():
    # Correctness at full size only: how fast it is belongs to benchmarks/, as ratios.
    big = build_world(0, big_comments=1_000_000)
    table = big.thread(BIG_THREAD_ID).comments
    assert len(table) == 1_000_000 and table.nos[-1] == 1_000_000
    with Sandbox(big) as sandbox:
        s = login(sandbox)
        wk = key(s, sandbox, "waybackkey", BIG_THREAD_ID)
        when = table.posted_at[500_000]
        root = parse(
            post_packet(
                s, sandbox, thread_xml(BIG_THREAD_ID, res_from="-1000", when=when, waybackkey=wk)
            )
        )
        hi = bisect_right(table.posted_at, when)
        assert [int(c.get("no")) for c in chats_of(root)] == list(table.nos[hi - 1000 : hi])

        sandbox.rate_limit_per_minute = None
        thread_key = watch_data(s, sandbox, BIG_VIDEO_ID)["comment"]["nvComment"]["threadKey"]
        main = [(BIG_THREAD_ID, "main")]
        [window] = v1_ok(sandbox, thread_key, main)  # builds the per-minute index once
        assert Counter(c["source"] for c in window["comments"])["trunk"] == 500  # 319 s
        [page] = v1_ok(sandbox, thread_key, main, {"when": when, "res_from": -1000})
        alive = [i for i in range(hi - 2000, hi) if not table.deleted[i]][-1000:]
        assert [c["no"] for c in page["comments"]] == [table.nos[i] for i in alive]


# -- watch data (protocol.md §3.1–3.2) --------------------------------------------------------

THREAD_FIELDS = [
    "id",
    "fork",
    "forkLabel",
    "videoId",
    "isActive",
    "isDefaultPostTarget",
    "isEasyCommentPostTarget",
    "isLeafRequired",
    "isOwnerThread",
    "isThreadkeyRequired",
    "threadkey",
    "is184Forced",
    "hasNicoscript",
    "label",
    "postkeyStatus",
]
COMMENT_FIELDS_V1 = [
    "id",
    "no",
    "vposMs",
    "body",
    "commands",
    "userId",
    "isPremium",
    "score",
    "postedAt",
    "nicoruCount",
    "nicoruId",
    "source",
    "isMyPost",
]


def _targets(data: dict) -> list[tuple[str, str]]:
    return [(t["id"], t["fork"]) for t in data["comment"]["nvComment"]["params"]["targets"]]


def test_watch_data_logged_in_and_guest(sb, world):
    s = login(sb)
    data = watch_data(s, sb, BIG_VIDEO_ID)
    assert data["video"] == {
        "id": "sm9",
        "title": world.videos["sm9"].title,
        "duration": 319,
        "registeredAt": "2007-03-06T00:33:00+09:00",
    }
    assert data["viewer"] == {
        "id": int(DEMO_USER_ID),
        "nickname": "デモユーザー",
        "isPremium": True,
    }
    comment = data["comment"]
    assert comment["server"] == {"url": ""} and comment["keys"] == {"userKey": ""}
    nv = comment["nvComment"]
    assert nv["server"] == sb.nvcomment_url and nv["params"]["language"] == "ja-jp"
    assert _targets(data) == [
        (BIG_THREAD_ID, "owner"),
        (BIG_THREAD_ID, "main"),
        (BIG_THREAD_ID, "easy"),
    ]
    assert all(list(t) == THREAD_FIELDS for t in comment["threads"])
    assert [(t["id"], t["fork"], t["forkLabel"], t["label"]) for t in comment["threads"]] == [
        (int(BIG_THREAD_ID), 1, "owner", "owner"),
        (int(BIG_THREAD_ID), 0, "main", "default"),
        (int(BIG_THREAD_ID), 2, "easy", "easy"),
    ]
    main = comment["threads"][1]
    assert main["isDefaultPostTarget"] and main["isLeafRequired"] and main["threadkey"] is None
    assert comment["threads"][0]["isOwnerThread"] and comment["threads"][0]["hasNicoscript"]
    assert [[(i["id"], i["fork"]) for i in layer["threadIds"]] for layer in comment["layers"]] == [
        [(int(BIG_THREAD_ID), 1)],
        [(int(BIG_THREAD_ID), 0), (int(BIG_THREAD_ID), 2)],
    ]
    assert jwt(nv["threadKey"])[1]["uid"] == DEMO_USER_ID

    guest = watch_data(requests, sb, BIG_VIDEO_ID, guest=True)
    assert (
        guest["viewer"] is None and "uid" not in jwt(guest["comment"]["nvComment"]["threadKey"])[1]
    )
    assert _targets(guest) == _targets(data)
    # v3_guest is the guest flavour even with a session; a short video has no easy target
    assert watch_data(s, sb, BIG_VIDEO_ID, guest=True)["viewer"] is None
    assert _targets(watch_data(s, sb, SHORT_VIDEO_ID)) == [
        (SHORT_THREAD_ID, "owner"),
        (SHORT_THREAD_ID, "main"),
    ]


def test_watch_data_by_thread_id_and_the_channel_video(sb):
    s = login(sb)
    assert watch_data(s, sb, BIG_THREAD_ID)["video"]["id"] == "sm9"
    for video_id in (CHANNEL_VIDEO_ID, CHANNEL_THREAD_ID, CHANNEL_DEFAULT_THREAD_ID):
        data = watch_data(s, sb, video_id)
        assert data["video"]["id"] == CHANNEL_VIDEO_ID
        assert _targets(data) == [
            (CHANNEL_DEFAULT_THREAD_ID, "owner"),
            (CHANNEL_DEFAULT_THREAD_ID, "main"),
            (CHANNEL_THREAD_ID, "main"),
        ]
    threads = {(str(t["id"]), t["fork"]): t for t in data["comment"]["threads"]}
    community = threads[(CHANNEL_THREAD_ID, 0)]
    assert community["label"] == "community" and community["isThreadkeyRequired"]
    assert community["is184Forced"] and community["isDefaultPostTarget"]
    default = threads[(CHANNEL_DEFAULT_THREAD_ID, 0)]
    assert default["label"] == "default" and not default["isDefaultPostTarget"]
    assert not default["isThreadkeyRequired"] and default["threadkey"] is None
    _, claims = jwt(data["comment"]["nvComment"]["threadKey"])
    assert claims["tids"] == [CHANNEL_DEFAULT_THREAD_ID, CHANNEL_THREAD_ID]
    assert claims["f184s"] == [CHANNEL_THREAD_ID]
    # threads[].threadkey is a legacy threadkey the message server takes (protocol.md §2.3)
    element = thread_xml(CHANNEL_THREAD_ID, threadkey=community["threadkey"], force_184="1")
    assert threads_of(parse(post_packet(s, sb, element)))[0]["resultcode"] == "0"


def test_watch_api_needs_a_live_session_and_its_parameters(sb):
    r = watch_api(requests, sb, BIG_VIDEO_ID)
    assert r.status_code == 401
    assert r.json() == {
        "meta": {"status": 401, "errorCode": "UNAUTHORIZED"},
        "data": {"reasonCode": None, "deletedMessage": None, "publishScheduledAt": None},
    }
    s = login(sb)
    assert watch_api(s, sb, BIG_VIDEO_ID).status_code == 200
    sb.expire_sessions()
    assert watch_api(s, sb, BIG_VIDEO_ID).json()["meta"]["errorCode"] == "UNAUTHORIZED"
    assert watch_api(s, sb, BIG_VIDEO_ID, guest=True).status_code == 200
    for kwargs in (
        {"params": {}},
        {"params": {"actionTrackId": ""}},
        {"headers": {}},
        {"headers": {"X-Frontend-Id": "6"}},
        {"headers": {"X-Frontend-Version": "0"}},
        {"headers": {"X-Frontend-Id": "pc", "X-Frontend-Version": "0"}},
    ):
        r = watch_api(requests, sb, BIG_VIDEO_ID, guest=True, **kwargs)
        assert r.status_code == 400 and r.json()["meta"]["errorCode"] == "INVALID_PARAMETER"
    old_style = {**TRACK, "_frontendId": "6", "_frontendVersion": "0"}  # yt-dlp 2022
    assert watch_api(requests, sb, "sm9", guest=True, headers={}, params=old_style).ok


REFUSALS = [
    # video, who asks, HTTP status, errorCode, reasonCode
    ("sm7777777", None, 404, "NOT_FOUND", None),
    ("so99999999", None, 404, "NOT_FOUND", None),
    (DELETED_VIDEO_ID, "demo", 404, "NOT_FOUND", None),
    (OPERATOR_DELETED_VIDEO_ID, "demo", 400, "FORBIDDEN", "ADMINISTRATOR_DELETE_VIDEO"),
    (RIGHTS_DELETED_VIDEO_ID, "demo", 404, "NOT_FOUND", "RIGHT_HOLDER_DELETE_VIDEO"),
    (PRIVATE_VIDEO_ID, "demo", 400, "FORBIDDEN", "HIDDEN_VIDEO"),
    (MEMBERS_ONLY_VIDEO_ID, "demo", 400, "FORBIDDEN", "CHANNEL_MEMBER_ONLY"),
    (PREMIUM_ONLY_VIDEO_ID, None, 400, "FORBIDDEN", "PREMIUM_ONLY"),
    (PREMIUM_ONLY_VIDEO_ID, "mfa", 400, "FORBIDDEN", "PREMIUM_ONLY"),
    (PREMIUM_ONLY_VIDEO_ID, "demo", 200, None, None),
    (DOMESTIC_VIDEO_ID, "demo", 400, "FORBIDDEN", "DOMESTIC_VIDEO"),
]


def _viewer(sb, who):
    if who is None:
        return requests.Session()
    if who == "demo":
        return login(sb)
    session, action = _start_mfa(sb)
    session.post(action, data={"otp": MFA_CODE})
    return session


@pytest.mark.parametrize(("video_id", "who", "status", "error_code", "reason"), REFUSALS)
def test_watch_data_refusals(sb, video_id, who, status, error_code, reason):
    session = _viewer(sb, who)
    r = watch_api(session, sb, video_id, guest=who is None)
    assert r.status_code == status and r.headers["Content-Type"].startswith("application/json")
    payload = r.json()
    if status == 200:
        assert payload["data"]["video"]["id"] == video_id
    else:
        assert payload["meta"] == {"status": status, "errorCode": error_code}
        assert payload["data"]["reasonCode"] == reason
        assert (payload["data"]["deletedMessage"] is not None) == (
            video_id in (DELETED_VIDEO_ID, OPERATOR_DELETED_VIDEO_ID, RIGHTS_DELETED_VIDEO_ID)
        )
    # the watch page and its JSON form carry the same verdict, with the same HTTP status
    page = session.get(f"{sb.www_url}/watch/{video_id}")
    as_json = session.get(f"{sb.www_url}/watch/{video_id}", params={"responseType": "json"})
    assert page.status_code == as_json.status_code == status
    for embedded in (server_response(page), as_json.json()):
        assert embedded["meta"]["status"] == status
        response = embedded["data"]["response"]
        if status == 200:
            assert response["video"]["id"] == video_id and "isCustomError" not in response
        else:
            assert response["isCustomError"] is True
            assert (response["statusCode"], response["errorCode"], response["reasonCode"]) == (
                status,
                error_code,
                reason,
            )
    # nvapi refuses a thread key for what watch data refuses
    keys = session.get(
        f"{sb.url}/nvapi/v1/comment/keys/thread", params={"videoId": video_id}, headers=FRONTEND
    )
    assert keys.status_code == status
    assert keys.json()["meta"].get("errorCode") == error_code


def test_maintenance(sb):
    sb.maintenance = True
    s = login(sb)
    for r in (
        watch_api(s, sb, BIG_VIDEO_ID),
        watch_api(s, sb, BIG_VIDEO_ID, guest=True),
        s.get(f"{sb.www_url}/watch/sm9", params={"responseType": "json"}),
    ):
        assert r.status_code == 503 and r.headers["Content-Type"].startswith("application/json")
        meta = r.json()["meta"]
        assert meta["status"] == 503 and "MAINTENANCE" in (meta.get("errorCode"), meta.get("code"))
    page = s.get(f"{sb.www_url}/watch/sm9")
    assert page.status_code == 503
    assert server_response(page)["data"]["response"]["errorCode"] == "MAINTENANCE"
    sb.maintenance = False
    assert watch_api(s, sb, BIG_VIDEO_ID).status_code == 200


def test_watch_page_embeds_the_watch_data(sb):
    s = login(sb)
    for video_id in ("sm9", BIG_THREAD_ID, CHANNEL_VIDEO_ID, REAL_NM_VIDEO_ID, "nm14999484"):
        page = s.get(f"{sb.www_url}/watch/{video_id}")
        assert page.status_code == 200
        embedded = server_response(page)
        assert embedded["meta"] == {"status": 200}
        response = embedded["data"]["response"]
        assert response["viewer"]["id"] == int(DEMO_USER_ID)
        assert jwt(response["comment"]["nvComment"]["threadKey"])[1]["uid"] == DEMO_USER_ID
        as_json = s.get(f"{sb.www_url}/watch/{video_id}", params={"responseType": "json"})
        assert as_json.headers["Content-Type"].startswith("application/json")
        other = as_json.json()["data"]["response"]
        for doc in (response, other):  # a fresh key (and threadkey) each time
            doc["comment"]["nvComment"].pop("threadKey")
            for thread in doc["comment"]["threads"]:
                thread.pop("threadkey")
        assert other == response
    guest_page = requests.get(f"{sb.www_url}/watch/sm9")
    response = server_response(guest_page)["data"]["response"]
    assert response["viewer"] is None
    assert "uid" not in jwt(response["comment"]["nvComment"]["threadKey"])[1]
    sb.expire_sessions()  # an expired cookie reads as a guest on pages
    assert server_response(s.get(f"{sb.www_url}/watch/sm9"))["data"]["response"]["viewer"] is None


def test_fallback_knobs(sb):
    sb.watch_api_enabled = False
    for guest in (True, False):
        r = watch_api(requests, sb, BIG_VIDEO_ID, guest=guest)
        assert r.status_code == 404 and r.headers["Content-Type"].startswith("text/html")
    assert server_response(requests.get(f"{sb.www_url}/watch/sm9"))["meta"]["status"] == 200
    sb.watch_page_meta = False
    page = requests.get(f"{sb.www_url}/watch/sm9")
    assert page.status_code == 200 and b"server-response" not in page.content
    as_json = requests.get(f"{sb.www_url}/watch/sm9", params={"responseType": "json"})
    assert as_json.json()["data"]["response"]["video"]["id"] == "sm9"
    sb.watch_api_enabled = sb.watch_page_meta = True
    assert watch_api(requests, sb, BIG_VIDEO_ID, guest=True).status_code == 200


# -- thread keys (protocol.md §3.6) -----------------------------------------------------------


def test_thread_key_is_an_hs512_jwt(sb):
    moment = 1_800_000_000.25
    sb.clock = lambda: moment
    s = login(sb)
    key = watch_data(s, sb, BIG_VIDEO_ID)["comment"]["nvComment"]["threadKey"]
    head, body, signature = key.split(".")
    assert "=" not in key and re.fullmatch(r"[A-Za-z0-9_-]+", head + body + signature)
    header, claims = jwt(key)
    assert header == {"typ": "JWT", "alg": "HS512"}
    assert base64.urlsafe_b64decode(head + "==") == b'{"typ":"JWT","alg":"HS512"}'
    assert list(claims) == ["jti", "exp", "typ", "tids", "f184s", "uid"]
    assert re.fullmatch(r"[0-9a-f]{13}", claims["jti"])
    assert int(claims["jti"][:8], 16) == 1_800_000_000  # PHP uniqid of the issue time
    assert claims["exp"] == 1_800_000_000 + 204 and claims["typ"] == "Thread-Key"
    assert claims["tids"] == [BIG_THREAD_ID] and claims["f184s"] == [] and claims["uid"] == "100001"
    mac = hmac.new(sb.thread_keys.secret, f"{head}.{body}".encode(), hashlib.sha512).digest()
    assert base64.urlsafe_b64decode(signature + "==") == mac and len(mac) == 64
    sb.thread_key_ttl = 600
    assert jwt(guest_key(sb))[1]["exp"] == 1_800_000_000 + 600


def test_nvapi_thread_key(sb):
    url = f"{sb.url}/nvapi/v1/comment/keys/thread"
    r = requests.get(url, params={"videoId": "sm9"}, headers=FRONTEND)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
    assert list(r.json()) == ["meta", "data"] and r.json()["meta"] == {"status": 200}
    guest = r.json()["data"]["threadKey"]
    assert "uid" not in jwt(guest)[1] and jwt(guest)[1]["tids"] == [BIG_THREAD_ID]
    s = login(sb)
    for video_id in ("sm9", BIG_THREAD_ID):
        key = s.get(url, params={"videoId": video_id}, headers=FRONTEND).json()["data"]["threadKey"]
        assert jwt(key)[1]["uid"] == DEMO_USER_ID
    channel = s.get(url, params={"videoId": CHANNEL_VIDEO_ID}, headers=FRONTEND).json()
    assert jwt(channel["data"]["threadKey"])[1]["f184s"] == [CHANNEL_THREAD_ID]
    assert v1_ok(sb, key, [(BIG_THREAD_ID, "main")], {"when": NOW})[0]["comments"]
    r = s.get(url, params={"videoId": "sm7777777"}, headers=FRONTEND)
    assert (r.status_code, r.json()["meta"]["errorCode"]) == (404, "NOT_FOUND")
    for params, headers in (({"videoId": "sm9"}, {}), ({}, FRONTEND)):
        r = s.get(url, params=params, headers=headers)
        assert (r.status_code, r.json()["meta"]["errorCode"]) == (400, "INVALID_PARAMETER")
    sb.expire_sessions()
    r = s.get(url, params={"videoId": "sm9"}, headers=FRONTEND)
    assert (r.status_code, r.json()["meta"]["errorCode"]) == (401, "UNAUTHORIZED")


# -- /v1/threads (protocol.md §3.3–3.7) -------------------------------------------------------


def _expected_window(table, window: int) -> list[tuple[int, str]]:
    """The window rule written out plainly: newest W non-deleted as trunk, then per minute the
    newest others until the minute holds 100, at most 1000 leaf comments in all."""
    alive = [i for i in range(len(table)) if not table.deleted[i]]
    trunk = alive[-window:] if window else []
    in_trunk = set(trunk)
    per_minute = Counter(table.vpos_ms[i] // 60_000 for i in trunk)
    leaf: list[int] = []
    for minute in sorted({v // 60_000 for v in table.vpos_ms}):
        rest = [i for i in alive if table.vpos_ms[i] // 60_000 == minute and i not in in_trunk]
        take = max(0, min(LEAF_PER_MINUTE - per_minute[minute], LEAF_CAP - len(leaf)))
        if take:
            leaf += rest[-take:]
    return sorted([(table.nos[i], "trunk") for i in trunk] + [(table.nos[i], "leaf") for i in leaf])


@pytest.mark.parametrize(
    ("video_id", "thread_id", "fork", "window"),
    [
        (BIG_VIDEO_ID, BIG_THREAD_ID, "main", 500),  # 319 s
        (BIG_VIDEO_ID, BIG_THREAD_ID, "easy", 500),
        (SHORT_VIDEO_ID, SHORT_THREAD_ID, "main", 100),  # 45 s
        (MEDIUM_VIDEO_ID, MEDIUM_THREAD_ID, "main", 250),  # 240 s
        (CHANNEL_VIDEO_ID, CHANNEL_THREAD_ID, "main", 1000),  # 1420 s: the leaf cap bites
        (CHANNEL_VIDEO_ID, CHANNEL_DEFAULT_THREAD_ID, "main", 1000),  # only 800 exist
        (REAL_NM_VIDEO_ID, REAL_NM_THREAD_ID, "main", 250),  # 150 s
    ],
)
def test_v1_window_trunk_and_leaf(sb, world, video_id, thread_id, fork, window):
    table = world.thread(thread_id, fork).comments
    [thread] = v1_ok(sb, guest_key(sb, video_id), [(thread_id, fork)])
    got = [(c["no"], c["source"]) for c in thread["comments"]]
    assert got == _expected_window(table, window)
    alive = sum(1 for d in table.deleted if not d)
    assert sum(1 for _, source in got if source == "trunk") == min(window, alive)
    assert sum(1 for _, source in got if source == "leaf") <= LEAF_CAP
    assert thread["commentCount"] == table.nos[-1]
    deleted = {table.nos[i] for i in range(len(table)) if table.deleted[i]}
    assert not deleted & {no for no, _ in got}


def test_v1_owner_threads_come_whole(sb, world):
    for video_id, thread_id, count in (
        (BIG_VIDEO_ID, BIG_THREAD_ID, 20),
        (REAL_NM_VIDEO_ID, REAL_NM_THREAD_ID, 802),
    ):
        [owner] = v1_ok(sb, guest_key(sb, video_id), [(thread_id, "owner")])
        assert [c["no"] for c in owner["comments"]] == list(
            world.thread(thread_id, "owner").comments.nos
        )
        assert len(owner["comments"]) == owner["commentCount"] == count
        assert {c["source"] for c in owner["comments"]} == {"trunk"}
    assert {c["userId"] for c in owner["comments"]} == {"358504"}  # the uploader's id
    [big_owner] = v1_ok(sb, guest_key(sb), [(BIG_THREAD_ID, "owner")])
    assert {c["userId"] for c in big_owner["comments"]} == {"4"}
    [empty] = v1_ok(sb, guest_key(sb, SHORT_VIDEO_ID), [(SHORT_THREAD_ID, "owner")])
    assert empty == {"id": SHORT_THREAD_ID, "fork": "owner", "commentCount": 0, "comments": []}


def test_v1_answer_shape_and_the_real_nm14999484_answer(sb):
    real = json.loads(
        shared_file("samples/nvcomment_v1/niwango.js__nm14999484.json").read_text("utf-8")
    )
    targets = [(t["id"], t["fork"]) for t in real]
    r = v1(sb, guest_key(sb, REAL_NM_VIDEO_ID), targets, query="?pc=1")
    payload = r.json()
    assert list(payload) == ["meta", "data"] and payload["meta"] == {"status": 200}
    assert payload["data"]["globalComments"] == [{"id": REAL_NM_THREAD_ID, "count": 1378}]
    got = payload["data"]["threads"]
    assert [list(t) for t in got] == [["id", "fork", "commentCount", "comments"]] * 3
    for ours, theirs in zip(got, real, strict=True):
        assert (ours["id"], ours["fork"], ours["commentCount"]) == (
            theirs["id"],
            theirs["fork"],
            theirs["commentCount"],
        )
        assert ours["comments"] == theirs["comments"]  # byte for byte, 250 trunk + 89 leaf
        assert all(list(c) == COMMENT_FIELDS_V1 for c in ours["comments"])


def test_v1_comment_objects(sb, world):
    table = world.thread(BIG_THREAD_ID).comments
    [main] = v1_ok(sb, guest_key(sb), [(BIG_THREAD_ID, "main")])
    by_no = {table.nos[i]: i for i in range(len(table))}
    for c in main["comments"]:
        i = by_no[c["no"]]
        assert list(c) == COMMENT_FIELDS_V1 and isinstance(c["id"], str)
        assert c["id"] == table.comment_id(i) and c["vposMs"] == table.vpos_ms[i]
        assert c["body"] == table.content[i] and c["commands"] == table.commands[i].split()
        assert unix(c["postedAt"]) == table.posted_at[i] and c["userId"] == table.user_id[i]
        assert c["score"] == table.score[i] and c["nicoruCount"] == table.nicoru[i]
        assert c["isPremium"] == table.is_premium(i)
        assert c["nicoruId"] is None and c["isMyPost"] is False
    assert any(c["commands"] == [] for c in main["comments"])
    assert any(c["score"] < 0 for c in main["comments"])


def test_v1_when_is_inclusive_and_res_from_capped(sb, world):
    s = login(sb)
    key = watch_data(s, sb, BIG_VIDEO_ID)["comment"]["nvComment"]["threadKey"]
    table = world.thread(BIG_THREAD_ID).comments
    when = table.posted_at[15_000]
    hi = bisect_right(table.posted_at, when)
    alive = [i for i in range(hi) if not table.deleted[i]]
    for additionals, count in (
        ({"when": when}, 1000),
        ({"when": when, "res_from": -1000}, 1000),
        ({"when": when, "res_from": -5000}, 1000),
        ({"when": when, "res_from": -10}, 10),
        ({"when": float(when) + 0.5, "res_from": -10}, 10),
    ):
        [thread] = v1_ok(sb, key, [(BIG_THREAD_ID, "main")], additionals)
        comments = thread["comments"]
        assert [c["no"] for c in comments] == [table.nos[i] for i in alive[-count:]]
        assert {c["source"] for c in comments} == {"trunk"}
        assert max(unix(c["postedAt"]) for c in comments) == when  # inclusive
        assert thread["commentCount"] == 30_000  # the newest overall, not at `when`
    assert v1_ok(sb, key, [(BIG_THREAD_ID, "main")], {"when": 1_000_000_000})[0]["comments"] == []


def test_v1_shuffled_comments_are_seeded(world):
    orders = []
    for _ in range(2):
        with Sandbox(world, shuffle_chats=True) as sandbox:
            [thread] = v1_ok(sandbox, guest_key(sandbox), [(BIG_THREAD_ID, "main")])
            orders.append([c["no"] for c in thread["comments"]])
    assert orders[0] == orders[1] and orders[0] != sorted(orders[0])
    with Sandbox(world) as sandbox:
        [thread] = v1_ok(sandbox, guest_key(sandbox), [(BIG_THREAD_ID, "main")])
    assert sorted(orders[0]) == [c["no"] for c in thread["comments"]]


def test_v1_content_types_headers_and_cookies(sb):
    s = login(sb)
    key = watch_data(s, sb, BIG_VIDEO_ID)["comment"]["nvComment"]["threadKey"]
    target = [(BIG_THREAD_ID, "main")]
    for content_type in ("text/plain;charset=UTF-8", "application/json", None):
        assert v1_ok(sb, key, target, {"when": NOW, "res_from": -5}, content_type=content_type)
    # identity is the key: a cookie-less request with a logged-in key reads past logs
    assert (
        len(v1_ok(sb, key, target, {"when": NOW, "res_from": -5}, session=requests)[0]["comments"])
        == 5
    )
    assert v1_error(sb, key, target, headers={"X-Frontend-Id": None}) == (400, "INVALID_PARAMETER")
    assert v1_error(sb, key, target, content_type="application/x-www-form-urlencoded") == (
        400,
        "INVALID_PARAMETER",
    )


def test_v1_errors(sb, world):
    s = login(sb)
    key = watch_data(s, sb, BIG_VIDEO_ID)["comment"]["nvComment"]["threadKey"]
    guest = guest_key(sb)
    main = [(BIG_THREAD_ID, "main")]
    url = f"{sb.nvcomment_url}/v1/threads"
    bad_bodies = [
        b"",
        b"not json",
        b"[]",
        b'{"params": {}}',
        json.dumps({"threadKey": key}).encode(),
    ]
    for body in bad_bodies:
        r = requests.post(url, data=body, headers=FRONTEND)
        assert (r.status_code, r.json()) == (
            400,
            {"meta": {"status": 400, "errorCode": "INVALID_PARAMETER"}},
        )
    invalid_parameter = [
        (key, [], None),
        (key, [(BIG_THREAD_ID, "side")], None),
        (key, [("1999999999", "main")], None),
        (key, main, {"when": "yesterday"}),
        (key, main, {"when": NOW, "res_from": 0}),
        (key, main, {"when": True}),
    ]
    for token, targets, additionals in invalid_parameter:
        assert v1_error(sb, token, targets, additionals) == (400, "INVALID_PARAMETER")
    head, body, signature = key.split(".")
    claims = jwt(key)[1]
    forged_body = (
        base64.urlsafe_b64encode(json.dumps({**claims, "tids": [SHORT_THREAD_ID]}).encode())
        .rstrip(b"=")
        .decode()
    )
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    invalid_token = [
        ("", main, None),
        ("not.a.jwt", main, None),
        (f"{head}.{body}.{flipped}", main, None),
        (f"{head}.{forged_body}.{signature}", [(SHORT_THREAD_ID, "main")], None),
        (key, [(SHORT_THREAD_ID, "main")], None),  # tids do not cover that thread
        (key, [*main, (SHORT_THREAD_ID, "main")], None),
        (guest, main, {"when": NOW}),  # past logs need login (comment-zouryou)
        (guest, main, {"when": NOW, "res_from": -1000}),
    ]
    for token, targets, additionals in invalid_token:
        assert v1_error(sb, token, targets, additionals) == (400, "INVALID_TOKEN"), token[:20]
    assert v1_ok(sb, guest, main) and v1_ok(sb, key, main, {"when": NOW})
    assert sb.stats.v1_errors == {"INVALID_PARAMETER": 5 + 6, "INVALID_TOKEN": 8}


def test_v1_expired_tokens(sb):
    # A frozen clock: `exp` is whole seconds, so a running clock could pass it at +203 s.
    issued = 1_800_000_000.25
    sb.clock = lambda: issued
    s = login(sb)
    key = watch_data(s, sb, BIG_VIDEO_ID)["comment"]["nvComment"]["threadKey"]
    main = [(BIG_THREAD_ID, "main")]
    assert v1_ok(sb, key, main)
    sb.clock = lambda: issued + 203
    assert v1_ok(sb, key, main)
    sb.clock = lambda: issued + 205  # past `exp` (204 s)
    assert v1_error(sb, key, main) == (400, "EXPIRED_TOKEN")
    fresh = s.get(
        f"{sb.url}/nvapi/v1/comment/keys/thread", params={"videoId": "sm9"}, headers=FRONTEND
    ).json()["data"]["threadKey"]
    assert v1_ok(sb, fresh, main, {"when": NOW})
    sb.clock = time.time
    sb.key_max_uses = 2
    key = guest_key(sb)
    assert v1_ok(sb, key, [*main, (BIG_THREAD_ID, "owner")])  # one use, however many targets
    assert v1_ok(sb, key, main)
    assert v1_error(sb, key, main) == (400, "EXPIRED_TOKEN")
    assert v1_ok(sb, guest_key(sb), main)
    assert sb.stats.v1_errors == {"EXPIRED_TOKEN": 2}


def test_v1_rate_limit(world):
    now = [1_800_000_000.0]
    with Sandbox(world, rate_limit_per_minute=3, clock=lambda: now[0]) as sandbox:
        key, main = guest_key(sandbox), [(BIG_THREAD_ID, "main")]
        for _ in range(3):
            assert v1_ok(sandbox, key, main)
            now[0] += 10
        r = v1(sandbox, key, main)
        assert (r.status_code, r.json()) == (
            429,
            {"meta": {"status": 429, "errorCode": "TOO_MANY_REQUESTS"}},
        )
        now[0] += 31  # 61 s after the first: one slot is free again
        assert v1_ok(sandbox, key, main)
        assert v1_error(sandbox, key, main) == (429, "TOO_MANY_REQUESTS")
        assert v1_error(sandbox, "junk", main) == (429, "TOO_MANY_REQUESTS")  # counted first
        assert sandbox.stats.v1_errors["TOO_MANY_REQUESTS"] == 3
        sandbox.reset_stats()  # also forgets the window
        assert v1_ok(sandbox, key, main)
        sandbox.rate_limit_per_minute = None
        for _ in range(10):
            assert v1_ok(sandbox, key, main)
    assert Sandbox(world).rate_limit_per_minute == 60


def test_v1_stats(sb):
    s = login(sb)
    key = watch_data(s, sb, BIG_VIDEO_ID)["comment"]["nvComment"]["threadKey"]
    all_three = [(BIG_THREAD_ID, "owner"), (BIG_THREAD_ID, "main"), (BIG_THREAD_ID, "easy")]
    v1_ok(sb, key, all_three)
    v1_ok(sb, key, [(BIG_THREAD_ID, "main")], {"when": NOW})
    v1_ok(sb, key, [(int(BIG_THREAD_ID), "main")], {"when": NOW})  # ids may be numbers too
    v1_error(sb, key, [(BIG_THREAD_ID, "side")])
    stats = sb.stats
    assert stats.v1_requests(BIG_THREAD_ID) == 3
    assert stats.v1_requests(int(BIG_THREAD_ID), "main", with_when=True) == 2
    assert stats.v1_requests(BIG_THREAD_ID, "main", with_when=False) == 1
    assert (
        stats.v1_requests(BIG_THREAD_ID, "owner") == stats.v1_requests(BIG_THREAD_ID, "easy") == 1
    )
    assert stats.v1_errors == {"INVALID_PARAMETER": 1}
    assert stats.requests["nvcomment"] == 4 and not stats.threads  # legacy counters untouched
    snapshot = stats.snapshot()
    assert snapshot["v1_threads"][(BIG_THREAD_ID, "main")] == 3
    assert snapshot["v1_threads_with_when"][(BIG_THREAD_ID, "main")] == 2
    sb.reset_stats()
    assert sb.stats.v1_requests(BIG_THREAD_ID) == 0 and not sb.stats.v1_errors


def test_nvcomment_faults_and_injection(sb):
    key, main = guest_key(sb), [(BIG_THREAD_ID, "main")]
    sb.faults = FaultPlan(rate=1.0, kinds=("http503",), targets=("nvcomment",))
    assert v1(sb, key, main).status_code == 503
    assert watch_api(requests, sb, "sm9", guest=True).status_code == 200  # www not targeted
    sb.faults = None
    sb.inject(
        "nvcomment",
        b'{"meta":{"status":400,"errorCode":"EXPIRED_TOKEN"}}',
        status=400,
        content_type="application/json",
    )
    assert v1_error(sb, key, main) == (400, "EXPIRED_TOKEN")
    assert v1_ok(sb, key, main)
    assert sb.stats.faulted == {"nvcomment": 1} and sb.stats.injected == {"nvcomment": 1}
    assert sb.stats.v1_requests(BIG_THREAD_ID) == 1 and not sb.stats.v1_errors


def _walk_v1(sb, key: str, thread_id: str, fork: str) -> list[Comment]:
    """Page back by hand: `when` = the oldest postedAt of the last page + 1, de-duplicated on
    no, until a page brings nothing new."""
    seen: dict[int, Comment] = {}
    when = NOW
    while True:
        [thread] = v1_ok(sb, key, [(thread_id, fork)], {"res_from": -1000, "when": when})
        fresh = {c["no"]: v1_to_comment(c, thread_id, fork) for c in thread["comments"]}
        if not set(fresh) - set(seen):
            return list(seen.values())
        seen.update((no, c) for no, c in fresh.items() if no not in seen)
        when = min(unix(c["postedAt"]) for c in thread["comments"]) + 1


def test_walking_back_collects_expected_comments(world):
    with Sandbox(world, rate_limit_per_minute=None) as sandbox:
        s = login(sandbox)
        data = watch_data(s, sandbox, BIG_VIDEO_ID)
        key = data["comment"]["nvComment"]["threadKey"]
        for thread_id, fork in _targets(data):
            got = _walk_v1(sandbox, key, thread_id, fork)
            expected = world.expected_comments(BIG_VIDEO_ID, "nvcomment", forks=(fork,))
            assert sorted(got) == sorted(expected), fork
        assert sandbox.stats.v1_requests(BIG_THREAD_ID, "main", with_when=True) > 30


def test_expected_comments_nvcomment(world):
    nv = world.expected_comments(BIG_VIDEO_ID, "nvcomment")
    main = world.thread(BIG_THREAD_ID).comments
    easy = world.thread(BIG_THREAD_ID, "easy").comments
    assert Counter(c.fork for c in nv) == {
        "owner": 20,
        "main": sum(1 for d in main.deleted if not d),
        "easy": sum(1 for d in easy.deleted if not d),
    }
    assert all(not c.is_deleted and c.deleted_reason is None and c.source is None for c in nv)
    assert all(c.date_usec is None and isinstance(c.score, int) for c in nv)
    assert all(isinstance(c.nicoru_count, int) and c.comment_id for c in nv)
    assert all(c.user_id == "4" for c in nv if c.fork == "owner")
    assert all(c.is_anonymous == ("184" in c.commands.split()) for c in nv)
    assert world.expected_comments(BIG_VIDEO_ID, "nvcomment", forks=("main",)) == [
        c for c in nv if c.fork == "main"
    ]
    # the shared fields agree with the legacy view on non-deleted main comments
    legacy = {c.no: c for c in world.expected_comments(BIG_VIDEO_ID) if c.fork == "main"}
    shared = (
        "thread_id",
        "no",
        "vpos_ms",
        "posted_at",
        "content",
        "commands",
        "user_id",
        "is_premium",
        "is_anonymous",
    )
    for c in (c for c in nv if c.fork == "main"):
        old = legacy[c.no]
        assert not old.is_deleted
        assert all(getattr(c, name) == getattr(old, name) for name in shared)
        assert c.score == (old.score or 0) and c.nicoru_count == (old.nicoru_count or 0)
    assert len(legacy) == 30_000  # deleted ones too, on the legacy side
    # the legacy view keeps to main + owner unless asked for fork 2
    assert len(world.expected_comments(BIG_VIDEO_ID)) == 30_020
    assert len(world.expected_comments(BIG_VIDEO_ID, forks=("easy",))) == 300
    channel = world.expected_comments(CHANNEL_VIDEO_ID, "nvcomment")
    assert [k for k in dict.fromkeys((c.thread_id, c.fork) for c in channel)] == [
        (CHANNEL_DEFAULT_THREAD_ID, "owner"),
        (CHANNEL_DEFAULT_THREAD_ID, "main"),
        (CHANNEL_THREAD_ID, "main"),
    ]


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
