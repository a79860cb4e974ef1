"""`nico db …`: database maintenance."""

from __future__ import annotations

import typer

from nicocomments import store
from nicocomments.cli.common import guarded, out

app = typer.Typer(
    name="db",
    help="Database maintenance.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.command("upgrade")
@guarded
def upgrade(*, db: str) -> None:
    """Create the database, or bring its schema up to this version of nicocomments.

    Every command does this on its own when it opens a database; this command does only that.
    An SQLite file is copied to <file>.bak-<revision>-<time> before its schema changes.
    A database written by a newer nicocomments is refused (exit 7).
    """
    engine = store.create_db_engine(db)
    try:
        result = store.upgrade_db(engine, db)
    finally:
        engine.dispose()
    target = store.describe_target(db)
    if result.from_revision == result.to_revision:
        out.print(f"{target} is up to date (schema revision {result.to_revision}).")
        return
    start = result.from_revision or "empty"
    out.print(f"Upgraded {target} from {start} to schema revision {result.to_revision}.")
    if result.backup:
        out.print(f"The previous file was copied to {result.backup}.")
