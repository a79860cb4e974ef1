"""`nico browse`: the database in Datasette."""

from __future__ import annotations

import webbrowser
from typing import Annotated

import typer

from nicocomments import store
from nicocomments.browse import datasette_metadata
from nicocomments.cli.common import err, guarded
from nicocomments.errors import BadInput, NicoError


@guarded
def browse(
    *,
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="Port to serve on (0: any free one).")
    ] = 8001,
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on (keep 127.0.0.1: no login).")
    ] = "127.0.0.1",
    no_open: Annotated[bool, typer.Option("--no-open", help="Do not open a web browser.")] = False,
    db: str,
) -> None:
    """Browse the database in Datasette (the browse extra: pip install
    'nicocomments[browse]'): every table and column described, facets on video, fork and
    user, full-text search over comments (the same index as nico search), and canned queries
    for the README's SQL recipes (density, busiest moments, completeness, runs, changes).
    Read-only; stop it with Ctrl-C.

    **Examples**

        nico browse
        nico browse --db nico-demo.db --port 8002 --no-open
    """
    path = store.sqlite_path(db)
    if path is None:
        raise BadInput("nico browse serves SQLite databases (Datasette reads SQLite only)")
    if not path.is_file():
        raise BadInput(f"{path}: no such database file")
    try:
        import uvicorn
        from datasette.app import Datasette
    except ImportError:
        raise BadInput("nico browse needs Datasette: pip install 'nicocomments[browse]'") from None
    with store.database(db) as engine:  # upgraded if older, like every command does
        try:
            store.sync_search_index(engine)  # comments fetched since the last sync
        except NicoError as exc:
            err.print(f"Comments stored since the last search are not searchable yet: {exc}")
        with engine.connect() as connection:
            searchable = store.has_search_index(connection)
    meta = datasette_metadata(path, searchable=searchable)
    datasette = Datasette([str(path)], metadata=meta, settings={"facet_time_limit_ms": 1000})
    config = uvicorn.Config(datasette.app(), host=host, port=port, log_level="warning")
    server = uvicorn.Server(config)

    def announce() -> None:
        bound = server.servers[0].sockets[0].getsockname()[1] if server.servers else port
        url = f"http://{host}:{bound}/{path.stem}"
        err.print(f"Datasette serves {path} at {url} (Ctrl-C stops it).", highlight=False)
        if not no_open:
            webbrowser.open(url)

    _on_startup(server, announce)
    server.run()


def _on_startup(server, callback) -> None:
    """Run ``callback`` once the server listens (uvicorn has no hook: wrap its startup)."""
    startup = server.startup

    async def started(*args, **kwargs):
        await startup(*args, **kwargs)
        callback()

    server.startup = started
