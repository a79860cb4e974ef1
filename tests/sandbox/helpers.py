"""What the emulator's tests share: raw HTTP (requests) and XML/JSON readers, no nicocomments
client code."""

from __future__ import annotations

import base64
import html
import json
import re
from datetime import datetime
from urllib.parse import parse_qsl, urljoin, urlsplit

import lxml.html
import requests
from lxml import etree

from nicocomments.records import Comment
from nicosandbox import (
    BIG_VIDEO_ID,
    DEMO_EMAIL,
    DEMO_PASSWORD,
    MFA_EMAIL,
    MFA_PASSWORD,
)

PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
REDIRECTOR = "/login/redirector?show_button_twitter=1&site=niconico&show_button_facebook=1"
NOW = 2_000_000_000  # a `when` after every comment
FRONTEND = {"X-Frontend-Id": "6", "X-Frontend-Version": "0"}
TRACK = {"actionTrackId": "AAAAAAAAAA_1700000000000"}


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


def start_mfa(sb):
    s = requests.Session()
    r = s.post(sb.account_url + REDIRECTOR, data={"mail_tel": MFA_EMAIL, "password": MFA_PASSWORD})
    assert r.status_code == 200 and urlsplit(r.url).path == "/account/mfa"
    assert "oneTimePw" in r.text and '<div class="pageMainMsg"><span class="userAccount">' in r.text
    assert "user_session" not in s.cookies
    action = re.search(r'<form action="([^"]+)" method="post">', r.text).group(1)
    assert action.startswith("/account/mfa?")
    return s, urljoin(r.url, action.replace("&amp;", "&"))


def targets_of(data: dict) -> list[tuple[str, str]]:
    return [(t["id"], t["fork"]) for t in data["comment"]["nvComment"]["params"]["targets"]]
