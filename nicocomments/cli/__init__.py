"""The `nico` command line. The only part of nicocomments that prints, prompts or exits."""

from __future__ import annotations

from typing import Annotated

import typer

from nicocomments import __version__
from nicocomments.cli import db, live, sandbox
from nicocomments.cli.account import login, logout, whoami
from nicocomments.cli.analyze import analyze
from nicocomments.cli.browse import browse
from nicocomments.cli.common import OneLineUsageErrors
from nicocomments.cli.crawl import crawl
from nicocomments.cli.diff import diff
from nicocomments.cli.export import export_
from nicocomments.cli.fetch import fetch
from nicocomments.cli.imports import import_
from nicocomments.cli.report import report
from nicocomments.cli.search import search
from nicocomments.cli.status import status
from nicocomments.cli.worker import worker

app = typer.Typer(
    name="nico",
    cls=OneLineUsageErrors,
    help="Collect every comment of a Niconico video, past logs included, into a database.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,  # --debug shows plain tracebacks; locals never
    pretty_exceptions_show_locals=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"nico (nicocomments) {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Collect every comment of a Niconico video, past logs included, into a database.

    Start with **nico demo** (offline, against the bundled emulator), then
    **nico login** and **nico fetch sm9 --all-history**.
    """


app.command(rich_help_panel="Collect")(fetch)
app.command(rich_help_panel="Collect")(crawl)
app.command(rich_help_panel="Collect")(worker)
app.command(rich_help_panel="Collect")(status)
app.command("import", rich_help_panel="Collect")(import_)
app.command(rich_help_panel="Analyze")(analyze)
app.command(rich_help_panel="Analyze")(search)
app.command(rich_help_panel="Analyze")(diff)
app.command(rich_help_panel="Analyze")(report)
app.command(rich_help_panel="Analyze")(browse)
app.command("export", rich_help_panel="Analyze")(export_)
app.command(rich_help_panel="Account")(login)
app.command(rich_help_panel="Account")(logout)
app.command(rich_help_panel="Account")(whoami)
app.command(rich_help_panel="Try it")(sandbox.demo)
app.add_typer(live.app, rich_help_panel="Collect")
app.add_typer(sandbox.app, rich_help_panel="Try it")
app.add_typer(db.app, rich_help_panel="Maintenance")


def main() -> None:
    app()
