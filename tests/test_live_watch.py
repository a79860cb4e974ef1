"""A live watch page's embedded data → ProgramInfo, and clear errors on pages that are wrong."""

from __future__ import annotations

import copy
import html
import json

import pytest

from nicocomments.errors import BadAnswer, ExitStatus
from nicocomments.live.watch import ProgramInfo, parse_program_info
from tests.conftest import fixture_path

ON_AIR = fixture_path("live/watch_on_air.html")
ENDED = fixture_path("live/watch_ended_no_timeshift.html")


def _props(path=ON_AIR) -> dict:
    page = path.read_text(encoding="utf-8")
    start = page.index('data-props="') + len('data-props="')
    return json.loads(html.unescape(page[start : page.index('"', start)]))


def _page(props) -> str:
    data = html.escape(props if isinstance(props, str) else json.dumps(props), quote=True)
    return f'<html><head><script id="embedded-data" data-props="{data}"></script></head></html>'


def test_an_on_air_program():
    info = parse_program_info(ON_AIR.read_bytes())
    assert info == ProgramInfo(
        program_id="lv345678",
        title='テスト番組 "引用" & <タグ>',
        status="ON_AIR",
        begin_time=1722837600,
        vpos_base_time=1722837300,
        open_time=1722837300,
        end_time=1722848400,
        scheduled_end_time=1722848400,
        web_socket_url=(
            "wss://a.live2.nicovideo.jp/unama/wsapi/v2/watch/345678"
            "?audience_token=345678_guest_0123456789abcdef&frontend_id=9"
        ),
    )
    assert info.on_air and not info.ended


def test_text_and_bytes_give_the_same_program():
    assert parse_program_info(ON_AIR.read_text(encoding="utf-8")) == parse_program_info(
        ON_AIR.read_bytes()
    )


def test_an_ended_program_without_a_timeshift_has_no_websocket():
    info = parse_program_info(ENDED.read_bytes())
    assert (info.program_id, info.status, info.ended) == ("lv345679", "ENDED", True)
    assert info.web_socket_url is None


def test_optional_times_may_be_absent_or_null():
    props = _props()
    del props["program"]["openTime"]
    props["program"]["endTime"] = None
    del props["program"]["scheduledEndTime"]
    info = parse_program_info(_page(props))
    assert (info.open_time, info.end_time, info.scheduled_end_time) == (None, None, None)


def test_whole_numbers_written_as_floats_are_seconds():
    props = _props()
    props["program"]["beginTime"] = 1722837600.0
    assert parse_program_info(_page(props)).begin_time == 1722837600


@pytest.mark.parametrize(
    "page",
    [
        b"",
        b"   \n",
        b"<html><body><p>not live</p></body></html>",
        b'<html><body><div id="js-initial-watch-data" data-api-data="{}"></div></body></html>',
        b'<html><script id="embedded-data"></script></html>',
        b'<html><script id="embedded-data" data-props=""></script></html>',
    ],
)
def test_a_page_that_is_not_a_live_watch_page(page):
    with pytest.raises(BadAnswer, match="not a Niconico Live watch page") as info:
        parse_program_info(page)
    assert info.value.exit_status == ExitStatus.SERVER


def _without(path):
    def mutate(props):
        *parents, last = path
        target = props
        for key in parents:
            target = target[key]
        del target[last]

    return mutate


def _set(path, value):
    def mutate(props):
        *parents, last = path
        target = props
        for key in parents:
            target = target[key]
        target[last] = value

    return mutate


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (_without(["program"]), "has no program$"),
        (_set(["program"], []), "has a program that is not an object"),
        (_without(["program", "nicoliveProgramId"]), "has no program.nicoliveProgramId"),
        (_set(["program", "nicoliveProgramId"], 345678), "nicoliveProgramId that is not a string"),
        (_set(["program", "nicoliveProgramId"], "sm9"), "names the program 'sm9'"),
        (_set(["program", "nicoliveProgramId"], "lv0123"), "which is not an lv… id"),
        (_without(["program", "title"]), "has no program.title"),
        (_set(["program", "status"], None), "has no program.status"),
        (_without(["program", "beginTime"]), "has no program.beginTime"),
        (_set(["program", "beginTime"], "1722837600"), "beginTime that is not a number of sec"),
        (_set(["program", "vposBaseTime"], True), "vposBaseTime that is not a number of sec"),
        (_set(["program", "vposBaseTime"], 1.5), "vposBaseTime that is not a number of sec"),
        (_set(["program", "endTime"], "soon"), "endTime that is not a number of seconds"),
        (_without(["site"]), "has no site$"),
        (_without(["site", "relive"]), "has no site.relive$"),
        (_set(["site", "relive"], "x"), "site.relive that is not an object"),
        (_without(["site", "relive", "webSocketUrl"]), "has no site.relive.webSocketUrl"),
        (_set(["site", "relive", "webSocketUrl"], 5), "webSocketUrl that is not a string"),
        (_set(["site", "relive", "webSocketUrl"], "https://x/y"), "not a WebSocket address"),
    ],
)
def test_malformed_embedded_data_is_one_clear_line(mutate, message):
    props = copy.deepcopy(_props())
    mutate(props)
    with pytest.raises(BadAnswer, match=message) as info:
        parse_program_info(_page(props))
    assert str(info.value).startswith("the live watch page's embedded data")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("props", "message"), [("{not json", "is not JSON"), ("[1]", "not a JSON object")]
)
def test_embedded_data_that_is_not_a_json_object(props, message):
    with pytest.raises(BadAnswer, match=message):
        parse_program_info(_page(props))
