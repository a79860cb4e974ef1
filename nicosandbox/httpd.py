"""The HTTP plumbing under `Sandbox`: a threading server that can cut kept-alive connections,
and a handler that reads bodies (chunked too) and writes answers, whole or truncated.

It knows nothing of the emulator: each request goes to the `Dispatch` it was built with."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from nicosandbox import web

logger = logging.getLogger(__name__)


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], handler: type[Handler], dispatch: Dispatch
    ) -> None:
        self.dispatch = dispatch
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, handler)

    def process_request(self, request, client_address) -> None:  # type: ignore[override]
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request) -> None:  # type: ignore[override]
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Cut kept-alive connections too, so a stopped sandbox really is gone."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request, client_address) -> None:  # type: ignore[override]
        logger.debug("connection from %s failed", client_address, exc_info=True)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # the answer goes out in two writes (see send)
    server_version = "nginx"
    sys_version = ""
    server: Server

    def log_message(self, format: str, *args: object) -> None:  # quiet: no request lines
        pass

    def _handle(self) -> None:
        body = self._read_body()
        if body is None:
            self.close_connection = True
            self.send(web.text("bad request body", status=400))
            return
        self.server.dispatch(self, body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = _handle

    def _read_body(self) -> bytes | None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                line = self.rfile.readline(65537)
                try:
                    size = int(line.split(b";")[0].strip(), 16)
                except ValueError:
                    return None
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            return None
        return self.rfile.read(length) if length > 0 else b""

    def send(
        self, response: web.Response, *, truncate: bool = False, trickle: float | None = None
    ) -> None:
        body = response.body
        try:
            reason = HTTPStatus(response.status).phrase
        except ValueError:
            reason = ""
        lines = [
            f"HTTP/1.1 {response.status} {reason}",
            f"Server: {self.server_version}",
            f"Date: {formatdate(usegmt=True)}",
        ]
        if response.content_type:
            lines.append(f"Content-Type: {response.content_type}")
        if response.declare_length:
            lines.append(f"Content-Length: {len(body) * response.repeat}")
        else:
            self.close_connection = True  # the end of the answer is the end of the connection
        lines.extend(f"{name}: {value}" for name, value in response.headers)
        if self.close_connection and not truncate:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", errors="replace")
        if self.command == "HEAD":
            body = b""
        if truncate:
            # Half the body; with no body to cut, half the status line (a cut header block
            # would read as a complete empty answer).
            data = head + body[: len(body) // 2] if body else head[: head.index(b"\r\n") // 2]
        else:
            data = head + body
        if truncate:
            self._write(data)
            self.close_connection = True
            return
        if response.repeat > 1:
            if self._write(head):
                for _ in range(response.repeat):
                    if not self._write(body):
                        return
            return
        if trickle is not None:
            # One byte at a time, until the client hangs up (then the write fails).
            self.close_connection = True
            for i in range(len(data)):
                if not self._write(data[i : i + 1]):
                    return
                time.sleep(trickle)
            for callback in response.on_sent:
                callback()
            return
        # Count the answer between its last two bytes: once the client has it all, the stats
        # already say so (a test may read them right away), and a failed write counts nothing.
        if self._write(data[:-1]):
            for callback in response.on_sent:
                callback()
            self._write(data[-1:])

    def _write(self, data: bytes) -> bool:
        try:
            self.wfile.write(data)
            self.wfile.flush()
            return True
        except OSError:
            self.close_connection = True
            return False


# Answers one request: the handler (to `send` through) and the request's body.
Dispatch = Callable[[Handler, bytes], None]
