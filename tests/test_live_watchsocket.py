"""The watch WebSocket: the conversation alone, then the transport against tiny loopback servers
(a real WebSocket server from the ``websockets`` library, run inside the test)."""

from __future__ import annotations

import contextlib
import http.server
import itertools
import json
import socket
import socketserver
import threading

import pytest
from websockets.sync.server import serve

from nicocomments.errors import (
    BadAnswer,
    ExitStatus,
    NetworkError,
    RateLimited,
    Refused,
    ServerUnavailable,
)
from nicocomments.live.watchsocket import (
    DISCONNECT_REASONS,
    MessageServer,
    ProgramEnded,
    WatchConversation,
    ask_message_server,
)

VIEW_URI = "https://mpn.live.nicovideo.jp/api/view/v4/BBzJJgRIsDCeD3aiMwvVzh4SZ74yuKz5RRtRX9u"
MESSAGE_SERVER = {
    "type": "messageServer",
    "data": {
        "viewUri": VIEW_URI,
        "vposBaseTime": "2024-08-05T15:00:00+09:00",
        "hashedUserId": "a:x",
    },
}
SECRET = "audience_token=345678_secret_token"


# --- the conversation ------------------------------------------------------------------------


def test_it_opens_with_start_watching():
    assert [json.loads(t) for t in WatchConversation().opening()] == [
        {"type": "startWatching", "data": {"reconnect": False}}
    ]
    assert json.loads(WatchConversation(reconnect=True).opening()[0])["data"]["reconnect"] is True


def test_ping_is_answered_with_pong_and_other_messages_with_nothing():
    conversation = WatchConversation()
    assert [json.loads(t) for t in conversation.receive('{"type":"ping"}')] == [{"type": "pong"}]
    for kind in ("serverTime", "seat", "stream", "schedule", "statistics", "akashicMessageServer"):
        assert conversation.receive(json.dumps({"type": kind, "data": {"x": 1}})) == []
    assert conversation.message_server is None


def test_message_server_is_collected():
    conversation = WatchConversation()
    assert conversation.receive(json.dumps(MESSAGE_SERVER).encode()) == []
    assert conversation.message_server == MessageServer(VIEW_URI, 1722837600, "a:x")


@pytest.mark.parametrize(
    ("vpos_base_time", "expected"),
    [
        ("2024-08-05T15:00:00+09:00", 1722837600),
        ("2024-08-05T06:00:00Z", 1722837600),
        ("2024-08-05T15:00:00", 1722837600),  # no zone: Japan's
        (1722837600, 1722837600),
        (None, None),
    ],
)
def test_vpos_base_time_forms(vpos_base_time, expected):
    conversation = WatchConversation()
    data = {"viewUri": VIEW_URI, "vposBaseTime": vpos_base_time}
    conversation.receive(json.dumps({"type": "messageServer", "data": data}))
    assert conversation.message_server == MessageServer(VIEW_URI, expected, None)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (None, "has no data"),
        ({}, "has no viewUri"),
        ({"viewUri": 5}, "has no viewUri"),
        ({"viewUri": "wss://not/http"}, "has no viewUri"),
        ({"viewUri": VIEW_URI, "vposBaseTime": "yesterday"}, "unreadable vposBaseTime"),
        ({"viewUri": VIEW_URI, "vposBaseTime": True}, "unreadable vposBaseTime"),
    ],
)
def test_a_broken_message_server_message(data, message):
    with pytest.raises(BadAnswer, match=message):
        WatchConversation().receive(json.dumps({"type": "messageServer", "data": data}))


@pytest.mark.parametrize("text", ["not json", "[]", '{"data": {}}', '{"type": 5}'])
def test_garbage_from_the_socket(text):
    with pytest.raises(BadAnswer):
        WatchConversation().receive(text)


@pytest.mark.parametrize("reason", sorted(DISCONNECT_REASONS))
def test_every_disconnect_reason_is_a_typed_error_naming_it(reason):
    kind, meaning = DISCONNECT_REASONS[reason]
    message = json.dumps({"type": "disconnect", "data": {"reason": reason}})
    with pytest.raises(kind) as info:
        WatchConversation().receive(message)
    assert str(info.value) == f"the watch WebSocket disconnected: {reason} ({meaning})"


def test_disconnect_reasons_map_to_the_right_exit_codes():
    assert issubclass(DISCONNECT_REASONS["END_PROGRAM"][0], ProgramEnded)
    assert ProgramEnded("x").exit_status == ExitStatus.REFUSED
    assert DISCONNECT_REASONS["CROWDED"][0] is ServerUnavailable
    assert DISCONNECT_REASONS["TOO_MANY_WATCHINGS"][0] is RateLimited


def test_an_unknown_or_missing_disconnect_reason_is_still_named():
    with pytest.raises(ServerUnavailable) as info:
        WatchConversation().receive('{"type":"disconnect","data":{"reason":"NEW_REASON"}}')
    assert (
        str(info.value)
        == "the watch WebSocket disconnected: NEW_REASON (a reason nico does not know)"
    )
    with pytest.raises(ServerUnavailable, match="disconnected: no reason"):
        WatchConversation().receive('{"type":"disconnect"}')


def test_an_error_message_names_its_code():
    with pytest.raises(ServerUnavailable, match="reported an error: CONNECT_ERROR"):
        WatchConversation().receive('{"type":"error","data":{"code":"CONNECT_ERROR"}}')


# --- the transport ---------------------------------------------------------------------------


@contextlib.contextmanager
def _running(server, url: str):
    """Serve in a thread while the test runs; yields ``url``."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield url
    finally:
        server.shutdown()
        thread.join(5)


def websocket_server(handler, **options):
    """A real WebSocket server on loopback; yields the watch URL (with a secret in its query)."""
    server = serve(handler, "127.0.0.1", 0, **options)
    port = server.socket.getsockname()[1]
    return _running(server, f"ws://127.0.0.1:{port}/unama/wsapi/v2/watch/345678?{SECRET}")


def _start(connection) -> dict:
    return json.loads(connection.recv(timeout=5))


def test_the_whole_conversation_over_a_real_socket():
    seen = {}

    def handler(connection):
        seen["user_agent"] = connection.request.headers["User-Agent"]
        seen["path"] = connection.request.path
        seen["start"] = _start(connection)
        connection.send(json.dumps({"type": "seat", "data": {"keepIntervalSec": 30}}))
        connection.send(json.dumps({"type": "ping"}))
        seen["reply"] = json.loads(connection.recv(timeout=5))  # no messageServer before pong
        connection.send(json.dumps({"type": "serverTime", "data": {"currentMs": "x"}}))
        connection.send(json.dumps(MESSAGE_SERVER))
        with contextlib.suppress(Exception):
            connection.recv(timeout=5)  # until the client closes

    with websocket_server(handler) as url:
        assert ask_message_server(url, timeout=10) == MessageServer(VIEW_URI, 1722837600, "a:x")
    assert seen["start"] == {"type": "startWatching", "data": {"reconnect": False}}
    assert seen["reply"] == {"type": "pong"}
    assert seen["user_agent"].startswith("nicocomments/")
    assert seen["path"].endswith(SECRET)  # the token reaches the server, and only the server


def _error(url, kind, **kwargs):
    with pytest.raises(kind) as info:
        ask_message_server(url, **kwargs)
    text = str(info.value)
    assert "secret" not in text and "audience_token" not in text, text
    assert "\n" not in text
    return text


def test_a_server_that_never_names_the_message_server_times_out():
    def handler(connection):
        _start(connection)
        for _ in connection:  # silent until the client goes
            pass

    with websocket_server(handler) as url:
        text = _error(url, NetworkError, timeout=0.5)
    assert text == (
        "the watch WebSocket 127.0.0.1:"
        f"{url.split(':')[2].split('/')[0]}/unama/wsapi/v2/watch/345678"
        " named no message server within 0.5 s"
    )


def test_the_deadline_covers_the_whole_conversation_not_each_message():
    """A server that keeps pinging never lets one receive time out; the deadline still ends it."""

    def handler(connection):
        _start(connection)
        with contextlib.suppress(Exception):
            for _ in range(100):  # then silence, so a per-message timeout would end it too late
                connection.send(json.dumps({"type": "ping"}))
                connection.recv(timeout=5)
            for _ in connection:
                pass

    ticks = itertools.count()
    with websocket_server(handler) as url:
        text = _error(url, NetworkError, timeout=30, clock=lambda: next(ticks) * 2.0)
    assert "named no message server within 30 s" in text
    assert next(ticks) < 40  # it gave up once 30 "seconds" had passed


def test_a_server_that_closes_first_is_a_network_error_naming_the_close():
    def handler(connection):
        _start(connection)
        connection.close(1001, "going away")

    with websocket_server(handler) as url:
        text = _error(url, NetworkError, timeout=5)
    assert text.endswith("closed before naming the message server (code 1001: going away)")


def test_disconnect_over_the_socket():
    def handler(connection):
        _start(connection)
        connection.send(json.dumps({"type": "disconnect", "data": {"reason": "CROWDED"}}))
        with contextlib.suppress(Exception):
            connection.recv(timeout=5)

    with websocket_server(handler) as url:
        text = _error(url, ServerUnavailable, timeout=5)
    assert text == "the watch WebSocket disconnected: CROWDED (the program is full)"


@pytest.mark.parametrize(
    ("status", "kind"),
    [(403, Refused), (404, Refused), (429, RateLimited), (503, ServerUnavailable)],
)
def test_a_refused_handshake(status, kind):
    def refuse(connection, request):
        return connection.respond(status, "no\n")

    with websocket_server(lambda connection: None, process_request=refuse) as url:
        text = _error(url, kind, timeout=5)
    assert text.endswith(f"refused the connection (HTTP {status})")


@contextlib.contextmanager
def _tcp_server(handler_class):
    with socketserver.TCPServer(("127.0.0.1", 0), handler_class) as server:
        port = server.server_address[1]
        with _running(server, f"ws://127.0.0.1:{port}/watch?{SECRET}") as url:
            yield url


class _PlainPage(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        body = b"<html>a web page</html>"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class _Garbage(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.recv(4096)
        self.request.sendall(b"\x00\x01garbage that is no HTTP\r\n\r\n")


def test_a_plain_web_server_is_not_a_websocket():
    with _tcp_server(_PlainPage) as url:
        text = _error(url, BadAnswer, timeout=5)
    assert text.endswith("answered HTTP 200 instead of opening a WebSocket")


def test_a_server_speaking_garbage():
    with _tcp_server(_Garbage) as url:
        text = _error(url, BadAnswer, timeout=5)
    assert text.endswith("did not answer as a WebSocket server")


def test_nobody_listening_is_a_network_error():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    text = _error(f"ws://127.0.0.1:{port}/watch?{SECRET}", NetworkError, timeout=5)
    assert text.startswith(f"could not connect to the watch WebSocket 127.0.0.1:{port}/watch")


def test_an_address_that_is_not_a_websocket_url():
    text = _error(f"https://127.0.0.1/watch?{SECRET}", BadAnswer, timeout=5)
    assert text == "the watch WebSocket 127.0.0.1/watch is not a WebSocket address"
