"""How long a request to a server trickling a byte a second takes, against its deadlines.

A server may send an answer's status line, then one byte a second, for ever: socket timeouts
(each wait for a byte) never fire, so only the deadline of the whole answer ends the request.
The baseline is what the settings promise: every attempt given up at ``answer_timeout``, so
``attempts × answer_timeout``; the ratio says how much later than that the request gave up.
(The tests check that the deadline ends such a request with its message; they assert no time.)

    python benchmarks/bench_deadline.py [--size ATTEMPTS]
"""

from __future__ import annotations

import socket
import sys
import threading
import time

from common import Measurement, arguments, default_json, report

ANSWER_TIMEOUT = 1.0
CASES = {
    "status line, then a byte a second": b"HTTP/1.1 200 OK\r\n",
    "headers, then the body a byte a second": b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n",
}


def _trickling_server(head: bytes) -> tuple[str, threading.Event]:
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    stop = threading.Event()

    def answer(connection: socket.socket) -> None:
        try:
            connection.sendall(head)
            while not stop.is_set():
                connection.sendall(b"x")
                stop.wait(1.0)
        except OSError:
            pass
        finally:
            connection.close()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=answer, args=(connection,), daemon=True).start()
        listener.close()

    threading.Thread(target=serve, daemon=True).start()
    return f"http://127.0.0.1:{listener.getsockname()[1]}/", stop


def run(attempts: int) -> list[Measurement]:
    from nicocomments.errors import NetworkError
    from nicocomments.http import HttpSettings, make_session

    measurements = []
    for case, head in CASES.items():
        url, stop = _trickling_server(head)
        settings = HttpSettings(
            interval=0,
            retries=attempts - 1,
            backoff_base=0,
            read_timeout=5,
            answer_timeout=ANSWER_TIMEOUT,
        )
        session = make_session(settings)
        started = time.perf_counter()
        try:
            session.get(url)
            gave_up = False
        except NetworkError:
            gave_up = True
        seconds = time.perf_counter() - started
        stop.set()
        promised = attempts * ANSWER_TIMEOUT
        ratio = seconds / promised
        measurements.append(
            Measurement(
                benchmark="deadline",
                case=f"{case}, {attempts} attempts",
                measure="seconds until the request gives up vs attempts × answer_timeout",
                value=round(seconds, 2),
                baseline=promised,
                ratio=ratio,
                target="≤ 1.5×",
                ok=gave_up and ratio <= 1.5,
                unit="s",
                details={"gave_up": gave_up, "requests": session.request_count},
            )
        )
    return measurements


def main() -> int:
    args = arguments(__doc__.splitlines()[0], default_size=3, tiny_size=1)
    return report(run(args.size), args.json or default_json("deadline"))


if __name__ == "__main__":
    sys.exit(main())
