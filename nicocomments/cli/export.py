"""`nico export`: a video's comments in a format other tools read."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path
from typing import Annotated

import typer

from nicocomments import export, store
from nicocomments.cli.common import (
    DEFAULT_DB,
    DbOption,
    DebugOption,
    VerboseOption,
    err,
    guarded,
    require_video,
)
from nicocomments.errors import BadInput
from nicocomments.ids import parse_video_id
from nicocomments.records import FORKS


@guarded
def export_(
    video: Annotated[str, typer.Argument(help="Video id or watch URL.", show_default=False)],
    *,
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="xml (legacy, for danmaku2ass and other players), json (nvcomment v1, for "
            "niconicomments), jsonl, csv, parquet, or ass (subtitles).",
            case_sensitive=False,
        ),
    ] = "xml",
    output: Annotated[
        str | None,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE|-",
            help="Where to write; - is stdout. (default: <video>.<format>)",
            show_default=False,
        ),
    ] = None,
    hash_user_ids: Annotated[
        str | None,
        typer.Option(
            "--hash-user-ids",
            metavar="SALT",
            help="Replace user ids with HMAC-SHA256(SALT, id), for sharing a dataset.",
        ),
    ] = None,
    forks: Annotated[
        str,
        typer.Option("--forks", help="Comma-separated forks to include: owner, main, easy."),
    ] = "owner,main,easy",
    db: DbOption = DEFAULT_DB,
    verbose: VerboseOption = 0,
    debug: DebugOption = False,
) -> None:
    """Write a video's stored comments as a file other tools read: legacy XML for danmaku2ass
    and comment players, nvcomment v1 JSON for niconicomments, JSON Lines / CSV / Parquet with
    every column for analysis tools (nico import reads them back), or ASS subtitles for any
    video player.

    With --hash-user-ids SALT every user id is replaced by a salted hash: the same user keeps
    the same pseudonym (for the same salt), but nobody without the salt can tell who it is.

    **Examples**

        nico export sm9                                   # sm9.xml
        nico export sm9 --format json -o sm9.v1.json
        nico export sm9 --format parquet --hash-user-ids "$(openssl rand -hex 16)"
        nico export sm9 --format csv -o - | head
        nico export sm9 --format ass --forks main
    """
    fmt = fmt.lower()
    if fmt not in export.FORMATS:
        raise BadInput(f"unknown format {fmt!r}: choose {', '.join(export.FORMATS)}")
    chosen = tuple(f.strip().lower() for f in forks.split(",") if f.strip())
    if not chosen or set(chosen) - set(FORKS):
        raise BadInput(f"--forks takes a comma-separated list of {', '.join(FORKS)}")
    if hash_user_ids is not None and not hash_user_ids:
        raise BadInput("--hash-user-ids needs a non-empty salt")
    video_id = parse_video_id(video)
    to_stdout = output == "-"
    if to_stdout and fmt in export.BINARY_FORMATS and sys.stdout.isatty():
        raise BadInput(f"{fmt} is binary: give -o FILE, or redirect stdout")
    target = None if to_stdout else Path(output or f"{video_id}.{fmt}")
    writer = export.writer(fmt)  # fails early when the format's library is missing
    engine = store.open_db(db, read_only=True)
    try:
        with engine.connect() as connection:
            require_video(connection, video_id, db)
            counts = store.thread_counts(connection, video_id)
            rows = store.iter_comments(connection, video_id, chosen)
            if hash_user_ids:
                rows = export.hash_user_ids(rows, hash_user_ids)
            if target is None:
                written = writer(rows, sys.stdout.buffer, video_id=video_id, thread_counts=counts)
                sys.stdout.buffer.flush()
            else:
                written = _write_file(target, writer, rows, video_id, counts)
    finally:
        engine.dispose()
    where = "stdout" if target is None else str(target)
    err.print(f"Wrote {written:,} comments of {video_id} to {where} ({fmt}).")


def _write_file(target: Path, writer, rows, video_id: str, counts: dict) -> int:
    """A regular file (or a new one) is written beside itself and renamed over at the end, so a
    failure never leaves half a file; through a symbolic link, the file it points to is the one
    replaced and the link stays. Anything else (a device such as /dev/null, a FIFO, the pipe
    behind /dev/fd/63 in ``-o >(gzip > f.gz)``) is written directly: a rename would put a
    regular file in its place."""
    try:
        mode = os.stat(target).st_mode  # of what a link points to
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise BadInput(f"cannot write {target}: {exc.strerror or exc}") from None
    if mode is not None and stat.S_ISDIR(mode):
        raise BadInput(f"{target} is a directory")
    if mode is not None and not stat.S_ISREG(mode):
        try:
            with open(target, "wb") as stream:
                return writer(rows, stream, video_id=video_id, thread_counts=counts)
        except OSError as exc:
            raise BadInput(f"cannot write {target}: {exc.strerror or exc}") from None
    final = Path(os.path.realpath(target))
    partial = final.with_name(final.name + ".part")
    try:
        with open(partial, "wb") as stream:
            written = writer(rows, stream, video_id=video_id, thread_counts=counts)
        os.replace(partial, final)
    except OSError as exc:
        raise BadInput(f"cannot write {target}: {exc.strerror or exc}") from None
    finally:
        partial.unlink(missing_ok=True)
    return written
