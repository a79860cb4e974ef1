"""`nico sandbox serve` and `nico demo`: the bundled Niconico emulator."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nicocomments import auth, store
from nicocomments.cli.common import (
    ProtocolOption,
    comment_client,
    err,
    guarded,
    live_client,
    network,
    out,
    protocol_choice,
)
from nicocomments.cli.progress import RichProgress
from nicocomments.cli.tables import live_summary, print_status
from nicocomments.collect import FetchOptions, collect_video
from nicocomments.collect_live import LiveOptions, collect_program
from nicocomments.config import Endpoints
from nicocomments.errors import BadInput

app = typer.Typer(
    name="sandbox",
    help="The bundled Niconico emulator: a real HTTP server on 127.0.0.1.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)

DEMO_VIDEO = "sm9"
DEMO_PROGRAMS = ("lv1001", "lv1002")  # on air; ended, read through its timeshift


@app.command("serve")
@guarded
def serve(
    *,
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="0 picks a free port.")] = 0,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the synthetic world.")] = 0,
    big_comments: Annotated[
        int, typer.Option("--big-comments", min=1000, help="Comments of the big video sm9.")
    ] = 30_000,
    rate_limit: Annotated[
        int,
        typer.Option(
            "--rate-limit",
            min=0,
            help="/v1/threads requests allowed a minute, as the real server (0: no limit).",
        ),
    ] = 60,
) -> None:
    """Run the emulator until Ctrl-C (or SIGTERM), and print the environment that points nico at it.

    **Example**

        nico sandbox serve --port 8765
        # in another shell, paste the printed export lines, then:
        nico login --email demo@example.com
        nico fetch sm9 --all-history --interval 0
    """
    from nicosandbox import Sandbox, build_world

    def announce(sandbox: Sandbox) -> None:
        out.print(f"Niconico emulator listening on {sandbox.url}")
        for name, value in sandbox.env().items():
            out.print(f"export {name}={value}")
        out.print(sandbox.describe())
        out.print("Press Ctrl-C to stop.")

    sandbox = Sandbox(
        world=build_world(seed=seed, big_comments=big_comments),
        port=port,
        rate_limit_per_minute=rate_limit or None,
    )
    sandbox.serve_forever(ready=announce)  # a Ctrl-C at any moment after it began stops it here
    err.print("Emulator stopped.")


@guarded
def demo(
    *,
    db: Annotated[Path, typer.Option("--db", help="Where the demo's database goes.")] = Path(
        "nico-demo.db"
    ),
    fresh: Annotated[
        bool, typer.Option("--fresh", help="Delete the demo database first and walk it all again.")
    ] = False,
    interval: Annotated[
        float, typer.Option("--interval", min=0.0, help="Seconds between requests.")
    ] = 0.0,
    big_comments: Annotated[
        int, typer.Option("--big-comments", min=1000, help="Comments of the big video.")
    ] = 30_000,
    protocol: ProtocolOption = "auto",
    live: Annotated[
        bool,
        typer.Option(
            "--live",
            help="Collect two live programs instead (one on air, one ended, through its "
            "timeshift).",
        ),
    ] = False,
) -> None:
    """Watch the main job run offline: start the bundled emulator, log in, collect the big
    video's whole comment history into a database, and show `nico status`. With --live, the
    whole past of a live program on air and of an ended one (its timeshift reserved first).

    Nothing leaves this machine, and your own stored session is not touched.
    """
    from nicosandbox import DEMO_EMAIL, DEMO_PASSWORD, Sandbox, build_world

    protocol = protocol_choice(protocol)
    if fresh:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
    elif db.exists():
        err.print(
            f"{db} exists already: this run only picks up what is new (use --fresh to start over)."
        )
    if db.is_dir():
        raise BadInput(f"{db} is a directory")
    err.print("Starting the Niconico emulator on 127.0.0.1 …")
    with Sandbox(world=build_world(big_comments=big_comments)) as sandbox:
        endpoints = Endpoints.from_env(sandbox.env())
        net = network(interval=interval, endpoints=endpoints, user_session="")
        auth.login_with_password(
            net.session, endpoints, DEMO_EMAIL, DEMO_PASSWORD, lambda attempt: None
        )
        viewer = auth.check_session(net.session, endpoints)
        what = " and ".join(DEMO_PROGRAMS) if live else DEMO_VIDEO
        err.print(
            f"Logged in to the emulator as {DEMO_EMAIL} "
            f"({'premium' if viewer.premium else 'general'}); "
            f"fetching {what}'s whole history into {db} …"
        )
        if live:
            _demo_live(net, db)
            return
        with store.database(str(db)) as engine:
            client = comment_client(protocol, net)
            with RichProgress(err) as progress:
                result = collect_video(
                    engine, client, DEMO_VIDEO, FetchOptions(all_history=True), progress
                )
            with engine.connect() as connection:
                report = store.status_report(connection, DEMO_VIDEO)
    out.print(f"{result.comments_added:,} new comments in {result.pages} pages.")
    print_status(report, details=False)
    out.print(f"Next: nico status --db {db}   or   sqlite3 {db} 'select count(*) from comments'")


def _demo_live(net, db: Path) -> None:
    client = live_client(net, interval=0.0)
    results = []
    with store.database(str(db)) as engine:
        for program_id in DEMO_PROGRAMS:
            with RichProgress(err) as progress:
                results.append(
                    collect_program(
                        engine, client, program_id, LiveOptions(all_history=True), progress
                    )
                )
        with engine.connect() as connection:
            reports = [store.status_report(connection, p) for p in DEMO_PROGRAMS]
    for result in results:
        out.print(live_summary(result))
    for report in reports:
        print_status(report, details=True)
    out.print(f"Next: nico export {DEMO_PROGRAMS[1]} --db {db} -o -   or   nico status --db {db}")
