"""What every command shares: the error boundary, logging, options, and the network context."""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.logging import RichHandler
from typer.core import TyperGroup

from nicocomments import auth, store
from nicocomments.collect import CommentClient
from nicocomments.config import Endpoints, config_dir, default_db
from nicocomments.crawl import SharedBudget, account_key
from nicocomments.errors import BadInput, ExitStatus, LoginRequired, NicoError, VideoNotFound
from nicocomments.http import (
    PACER,
    SESSION_COOKIE,
    HostPacer,
    HttpSettings,
    NicoSession,
    make_session,
)
from nicocomments.legacy import LegacyClient
from nicocomments.limits import shown
from nicocomments.live.client import DEFAULT_BACKWARD_INTERVAL, LiveClient
from nicocomments.nvcomment import NvcommentClient
from nicocomments.records import JST


class _DataConsole(Console):
    """stdout's console. rich ends the program with exit 1 when the pipe closes (| head); here
    the BrokenPipeError goes on to `guarded`, which ends every command the same way."""

    def on_broken_pipe(self) -> None:
        raise BrokenPipeError


# stdout carries data (tables, exports); everything for humans goes to stderr.
# Piped or redirected, tables get room instead of being folded to 80 columns.
out = _DataConsole(highlight=False, soft_wrap=True, markup=False)
if not out.is_terminal and not os.environ.get("COLUMNS"):
    out = _DataConsole(highlight=False, soft_wrap=True, markup=False, width=200)
err = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)

F = TypeVar("F", bound=Callable)

# --- options shared by commands -------------------------------------------------------------

DbOption = Annotated[
    str,
    typer.Option(
        "--db",
        envvar="NICO_DB",
        metavar="PATH|URL",
        help="SQLite file or database URL (postgresql://user@host/db).",
        show_default=True,
    ),
]
VerboseOption = Annotated[
    int, typer.Option("--verbose", "-v", count=True, help="Log more to stderr (-vv for debug).")
]
DebugOption = Annotated[
    bool,
    typer.Option("--debug", envvar="NICO_DEBUG", help="Show full tracebacks instead of one line."),
]
IntervalOption = Annotated[
    float,
    typer.Option(
        "--interval",
        min=0.0,
        help="Seconds to wait at least between two requests to the same host.",
        rich_help_panel="Network",
    ),
]
RetriesOption = Annotated[
    int,
    typer.Option(
        "--retries", min=0, help="Retries after a failed request.", rich_help_panel="Network"
    ),
]
BackoffOption = Annotated[
    float,
    typer.Option(
        "--backoff",
        min=0.0,
        help="First wait before a retry, in seconds; doubled on every retry.",
        rich_help_panel="Network",
    ),
]
BackoffCapOption = Annotated[
    float,
    typer.Option(
        "--backoff-cap", min=0.0, help="Longest wait before a retry.", rich_help_panel="Network"
    ),
]
LiveIntervalOption = Annotated[
    float,
    typer.Option(
        "--live-interval",
        min=0.0,
        help="Seconds between two requests to the live message server (walking a program's past).",
        rich_help_panel="Network",
    ),
]
TimeoutOption = Annotated[
    float,
    typer.Option(
        "--timeout",
        min=0.1,
        help="Seconds an answer may take, from connecting to its last byte; then it is retried.",
        rich_help_panel="Network",
    ),
]
RateLimitWaitOption = Annotated[
    float,
    typer.Option(
        "--rate-limit-wait",
        min=0.0,
        help="Seconds to wait when the comment server says TOO_MANY_REQUESTS (in a crawl, "
        "every worker of the account waits).",
        rich_help_panel="Network",
    ),
]

OUTPUT_FORMATS = ("table", "csv", "json")
FormatOption = Annotated[str, typer.Option("--format", help="table, csv or json.")]
# What `nico analyze` and `nico report` both compute.
BinOption = Annotated[
    str, typer.Option("--bin", help="Bin of video time for density and highlights.")
]
TimeZoneOption = Annotated[
    str, typer.Option("--tz", help="Time zone of dates and of the days of activity.")
]
TokenizerOption = Annotated[
    str,
    typer.Option(
        "--tokenizer",
        help="auto (MeCab when the 'ja' extra is installed), mecab or ngram.",
        case_sensitive=False,
    ),
]

ByOption = Annotated[
    str | None,
    typer.Option(
        "--by",
        help="How a Parquet dataset is partitioned: video (DIR/video=sm9/) or month "
        "(DIR/month=2007-03/, of posting, UTC). Default: as DIR already is; a new DIR by "
        "video for export, by month for import.",
        case_sensitive=False,
        show_default=False,
    ),
]

PROTOCOLS = ("auto", "nvcomment", "legacy")
ProtocolOption = Annotated[
    str,
    typer.Option(
        "--protocol",
        help="nvcomment: today's watch data + /v1/threads (what auto means); "
        "legacy: flapi getflv + the XML message server (the site until 2023).",
        case_sensitive=False,
    ),
]

DEFAULT_DB = default_db({})  # shown in --help; NICO_DB is applied by typer's envvar


def format_ranges(ranges: list[tuple[int, int]], limit: int = 8) -> str:
    """``1-3, 17, 40-45, … (+12 more)``."""
    shown = [f"{a}-{b}" if a != b else f"{a}" for a, b in ranges[:limit]]
    if len(ranges) > limit:
        shown.append(f"… (+{len(ranges) - limit} more ranges)")
    return ", ".join(shown)


def output_format(value: str) -> str:
    """The ``--format`` asked for, in any case, as one of `OUTPUT_FORMATS`."""
    chosen = value.lower()
    if chosen not in OUTPUT_FORMATS:
        raise BadInput(f"unknown format {shown(value)}: choose {', '.join(OUTPUT_FORMATS)}")
    return chosen


def protocol_choice(value: str) -> str:
    """The ``--protocol`` asked for, in any case, as one of `PROTOCOLS`."""
    chosen = value.lower()
    if chosen not in PROTOCOLS:
        raise BadInput(f"unknown protocol {shown(value)}: choose from {', '.join(PROTOCOLS)}")
    return chosen


def parse_date(text: str) -> int:
    """Unix seconds from a date, a date and time (Japan time unless a zone is given), or a
    number of Unix seconds."""
    value = text.strip()
    if value.isdigit():
        return int(value)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadInput(
            f"cannot read the date {shown(text)}: use 2015-06-01, 2015-06-01T12:00 or Unix seconds"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=JST)
    seconds = int(moment.timestamp())
    if seconds > time.time() + 86400:
        raise BadInput(f"the date {shown(text)} is in the future")
    return seconds


def require_video(connection, video_id: str, db: str) -> None:
    """Stop with `VideoNotFound` unless the database ``db`` stores ``video_id``."""
    if not store.video_exists(connection, video_id):
        raise VideoNotFound(f"{video_id} is not in {store.describe_target(db)}")


# --- the error boundary ------------------------------------------------------------------------


def error_line(message: str) -> None:
    # typer.echo, not rich: one line, never wrapped or marked up (a message from a library
    # may still hold a line break: it becomes a space).
    typer.echo(f"Error: {' '.join(message.splitlines())}", err=True)


class OneLineUsageErrors(TyperGroup):
    """The root command: a usage error (an unknown option, a missing argument, a value that is
    not a number) is bad input like any other, one line on stderr (`error_line`) and exit 2,
    not click's framed usage message. A group named without its command still shows its help.
    """

    def make_context(self, info_name, args, parent=None, **extra):
        with _usage_errors_in_one_line():
            return super().make_context(info_name, args, parent=parent, **extra)

    def invoke(self, ctx):
        with _usage_errors_in_one_line():  # a subcommand's own options are parsed here
            return super().invoke(ctx)


# The usage errors of the click typer runs on (its own copy in recent versions, the click
# package before): BadParameter's base, and the error that shows a group's help.
_USAGE_ERROR = next(k for k in typer.BadParameter.__mro__ if k.__name__ == "UsageError")
_NO_ARGS_IS_HELP = getattr(sys.modules[_USAGE_ERROR.__module__], "NoArgsIsHelpError", ())


@contextlib.contextmanager
def _usage_errors_in_one_line() -> Iterator[None]:
    try:
        yield
    except _NO_ARGS_IS_HELP:
        raise
    except _USAGE_ERROR as exc:
        command = exc.ctx.command_path if exc.ctx is not None else "nico"
        error_line(f"{exc.format_message()} (see {command} --help)")
        raise typer.Exit(int(ExitStatus.BAD_INPUT)) from None


# The options every command shares, declared once: `guarded` gives each command --verbose and
# --debug, and --db to each command that takes a ``db`` parameter (typed ``str``, without a
# default), so `nico fetch sm9 --db x.db` and `nico status --db x.db -v` work as they always did.
SHARED_OPTIONS = {
    "db": inspect.Parameter(
        "db", inspect.Parameter.KEYWORD_ONLY, default=DEFAULT_DB, annotation=DbOption
    ),
    "verbose": inspect.Parameter(
        "verbose", inspect.Parameter.KEYWORD_ONLY, default=0, annotation=VerboseOption
    ),
    "debug": inspect.Parameter(
        "debug", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=DebugOption
    ),
}
ALWAYS_SHARED = ("verbose", "debug")


def guarded(function: F) -> F:
    """A command: the options every command shares (`SHARED_OPTIONS`) added to its own, and the
    error boundary around it, which turns expected failures into ``Error: …`` and their exit
    code (anything else is a bug).

    The command names the shared options it uses as plain parameters (``db: str``,
    ``verbose: int``); the others are taken here and not passed on."""
    signature = inspect.signature(function, eval_str=True)
    takes = set(signature.parameters)
    parameters = []
    for parameter in signature.parameters.values():
        shared = SHARED_OPTIONS.get(parameter.name)
        plain = shared is not None and parameter.default is inspect.Parameter.empty
        parameters.append(shared if plain else parameter)
    parameters += [SHARED_OPTIONS[name] for name in ALWAYS_SHARED if name not in takes]

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        debug = bool(kwargs.get("debug")) or bool(os.environ.get("NICO_DEBUG"))
        setup_logging(kwargs.get("verbose") or 0)
        target = kwargs.get("db")
        try:
            return function(*args, **{k: v for k, v in kwargs.items() if k in takes})
        except (typer.Exit, typer.Abort):
            raise
        except BrokenPipeError:
            # Whoever read stdout has gone (| head): stop quietly, as other tools do. Nothing
            # library code raises reaches here as a bare BrokenPipeError (network and database
            # errors arrive wrapped), so this is stdout.
            _stdout_to_devnull()
            raise typer.Exit(int(ExitStatus.CLOSED_PIPE)) from None
        except NicoError as exc:
            if debug:
                raise
            error_line(str(exc))
            raise typer.Exit(int(exc.exit_status)) from None
        except KeyboardInterrupt:
            if debug:
                raise
            error_line("interrupted; everything fetched so far is stored (run again to resume)")
            raise typer.Exit(int(ExitStatus.INTERRUPTED)) from None
        except Exception as exc:
            if debug:
                raise
            failure = store.database_failure(None if target is None else str(target), exc)
            if failure is not None:  # locked, read-only, damaged, gone: not a bug of ours
                error_line(str(failure))
                raise typer.Exit(int(failure.exit_status)) from None
            summary = str(exc).splitlines()[0][:200] if str(exc) else ""
            error_line(
                f"unexpected {type(exc).__name__}{': ' + summary if summary else ''} "
                "(a bug in nicocomments; re-run with --debug for the traceback)"
            )
            raise typer.Exit(int(ExitStatus.BUG)) from None

    wrapper.__signature__ = signature.replace(parameters=parameters)  # what typer reads
    return wrapper  # type: ignore[return-value]


def _stdout_to_devnull() -> None:
    """Point stdout at /dev/null, so that flushing what is left of its buffer at exit does not
    raise the same error again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # not a real file (tests' captured stdout)
        pass


def setup_logging(verbose: int) -> None:
    level = logging.WARNING if verbose <= 0 else logging.INFO if verbose == 1 else logging.DEBUG
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_nico", False):
            root.removeHandler(handler)
    handler = RichHandler(
        console=err, show_time=False, show_path=False, rich_tracebacks=False, markup=False
    )
    handler._nico = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    # Third-party chatter only with -vv.
    for noisy in ("urllib3", "alembic", "sqlalchemy"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose >= 2 else logging.WARNING)


# --- network context -----------------------------------------------------------------------------


@dataclass
class Network:
    endpoints: Endpoints
    session: NicoSession
    session_origin: str | None  # where the user_session came from (never its value)


def network(
    *,
    interval: float = 1.0,
    retries: int = 6,
    backoff: float = 1.0,
    backoff_cap: float = 60.0,
    timeout: float = 30.0,
    endpoints: Endpoints | None = None,
    user_session: str | None = None,
    pacer: HostPacer | None = None,
) -> Network:
    endpoints = endpoints or Endpoints.from_env()
    origin = None
    if user_session is None:
        source = auth.resolve_session(config_dir())
        if source is not None:
            user_session, origin = source.value, source.origin
    else:
        origin = "this run"
    settings = HttpSettings(
        interval=interval,
        retries=retries,
        backoff_base=backoff,
        backoff_cap=backoff_cap,
        read_timeout=timeout,
        answer_timeout=timeout,
        connect_timeout=min(timeout, 10.0),
    )
    session = make_session(
        settings,
        user_session=user_session,
        cookie_hosts=auth.cookie_hosts(endpoints),
        pacer=pacer or PACER,
    )
    return Network(endpoints, session, origin)


def explain_login(exc: LoginRequired, net: Network) -> LoginRequired:
    """The same error, with what the user can do about it (depending on whether a session was
    in use) as its hint."""
    if net.session_origin is None:
        hint = "not logged in: run `nico login` (or set NICO_USER_SESSION)"
    else:
        hint = (
            f"the session from {net.session_origin} is not (or no longer) logged in: "
            "run `nico login` again"
        )
    return exc.but(hint=hint)


def comment_client(
    protocol: str, net: Network, rate_limit_wait: float = 60.0, *, shared_waits: bool = False
) -> CommentClient:
    """The client of ``protocol`` (`PROTOCOLS`; auto is nvcomment) on the network context.
    ``shared_waits``: a TOO_MANY_REQUESTS holds every client on the session's pacer."""
    if protocol == "legacy":
        return LegacyClient(net.session, net.endpoints)
    return NvcommentClient(
        net.session,
        net.endpoints,
        logged_in=net.session_origin is not None,
        rate_limit_wait=rate_limit_wait,
        pacer=net.session.pacer if shared_waits else None,
    )


@dataclass
class CrawlNetwork:
    """The network side of a crawl: a context for listings, and comment clients for workers,
    every one on the account's budget (in the database on PostgreSQL, where other processes
    may crawl with the same account; the process's pacer elsewhere)."""

    net: Network
    make_client: Callable[[], CommentClient]
    sessions: list[NicoSession]


def crawl_network(engine, settings: dict, rate_limit_wait: float) -> CrawlNetwork:
    """``settings``: the keyword arguments of `network`."""
    net = network(**settings)
    user_session = next((c.value for c in net.session.cookies if c.name == SESSION_COOKIE), None)
    pacer = None
    if engine.dialect.name == "postgresql":
        pacer = SharedBudget(engine, account_key(user_session))
        net = network(**settings, pacer=pacer)
    sessions = [net.session]
    lock = threading.Lock()

    def make_client() -> CommentClient:
        worker = network(**settings, pacer=pacer)
        with lock:
            sessions.append(worker.session)
        # TOO_MANY_REQUESTS holds every worker of the budget, not one
        return comment_client("nvcomment", worker, rate_limit_wait, shared_waits=True)

    return CrawlNetwork(net, make_client, sessions)


@contextlib.contextmanager
def walk_notes_hidden(verbose: int) -> Iterator[None]:
    """Across hundreds of videos the per-thread notes of the history walk (seconds stepped
    over, also kept in skipped_seconds) would bury the progress: without -v they are hidden."""
    walk_log = logging.getLogger("nicocomments.collect")
    level = walk_log.level
    if verbose == 0:
        walk_log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        walk_log.setLevel(level)


def network_settings(
    interval: float, retries: int, backoff: float, backoff_cap: float, timeout: float
) -> dict:
    """The network options of a command, as `network` takes them."""
    return {
        "interval": interval,
        "retries": retries,
        "backoff": backoff,
        "backoff_cap": backoff_cap,
        "timeout": timeout,
    }


def live_client(
    net: Network, *, interval: float = DEFAULT_BACKWARD_INTERVAL, timeout: float = 30.0
) -> LiveClient:
    """The live client on the network context: the site's session for watch pages and the
    timeshift API, and a cookie-less one paced at ``interval`` for the message server."""
    settings = net.session.settings
    message_session = make_session(
        HttpSettings(
            interval=interval,
            retries=settings.retries,
            backoff_base=settings.backoff_base,
            backoff_cap=settings.backoff_cap,
            read_timeout=settings.read_timeout,
            answer_timeout=settings.answer_timeout,
            connect_timeout=settings.connect_timeout,
        ),
        on_retry=net.session.on_retry,
    )
    return LiveClient(net.session, message_session, net.endpoints, socket_timeout=timeout)
