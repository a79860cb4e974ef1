"""`nico live record`: follow a Niconico Live program on air, then fill its past."""

from __future__ import annotations

import signal
import threading
from typing import Annotated

import typer

from nicocomments.cli.common import (
    BackoffCapOption,
    BackoffOption,
    IntervalOption,
    LiveIntervalOption,
    RetriesOption,
    TimeoutOption,
    err,
    guarded,
    live_client,
    network,
    out,
)
from nicocomments.cli.progress import RichProgress
from nicocomments.cli.tables import live_summary
from nicocomments.collect_live import record_program
from nicocomments.errors import BadInput
from nicocomments.ids import is_program_id, parse_video_id
from nicocomments.live import ProgramInfo, SeatKeeper
from nicocomments.store import database

app = typer.Typer(
    name="live",
    help="Niconico Live programs: record one while it is on air.",
    no_args_is_help=True,
)


@app.command()
@guarded
def record(
    program: Annotated[
        str, typer.Argument(help="The program (lv…) or its watch URL.", show_default=False)
    ],
    *,
    db: str,
    interval: IntervalOption = 1.0,
    live_interval: LiveIntervalOption = 0.012,
    retries: RetriesOption = 6,
    backoff: BackoffOption = 1.0,
    backoff_cap: BackoffCapOption = 60.0,
    timeout: TimeoutOption = 30.0,
    verbose: int,
) -> None:
    """Record a program while it is on air: every segment of comments as the message server
    announces it, committed as it arrives, until the program ends (or Ctrl-C); then walk back
    through its past to fill anything missed (a second Ctrl-C stops that too). Run it again,
    or `nico fetch lv… --all-history`, to resume.

    **Examples**

        nico live record lv345678901
        nico live record https://live.nicovideo.jp/watch/lv345678901
    """
    program_id = parse_video_id(program)
    if not is_program_id(program_id):
        raise BadInput(f"{program} is not a live program (lv…)")
    stop = threading.Event()

    def first_interrupt(number: int, frame: object) -> None:
        err.print("Stopping the recording; filling the past (Ctrl-C again to stop that too)…")
        stop.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    def keep_seat(info: ProgramInfo, ended: threading.Event):
        if info.web_socket_url is None:
            return lambda: None
        keeper = SeatKeeper(info.web_socket_url, ended, timeout=timeout).start()
        return keeper.stop

    previous = signal.signal(signal.SIGINT, first_interrupt)
    try:
        with database(db) as engine:
            net = network(
                interval=interval,
                retries=retries,
                backoff=backoff,
                backoff_cap=backoff_cap,
                timeout=timeout,
            )
            client = live_client(net, interval=live_interval, timeout=timeout)
            with RichProgress(err) as progress:
                net.session.on_retry = client.message_session.on_retry = progress.notice
                result = record_program(
                    engine, client, program_id, progress, stop=stop, keep_seat=keep_seat
                )
    finally:
        signal.signal(signal.SIGINT, previous)
    out.print(live_summary(result))
