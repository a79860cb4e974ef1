"""`nico export`: a video's comments in a format other tools read."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from nicocomments import formats, store
from nicocomments.cli.common import ByOption, err, guarded, require_video
from nicocomments.errors import BadInput
from nicocomments.formats import dataset
from nicocomments.ids import parse_video_id
from nicocomments.limits import shown
from nicocomments.records import ALL_FORKS, is_fork_name


@guarded
def export_(
    video: Annotated[
        str | None,
        typer.Argument(
            help="Video id or watch URL (with --partitioned: default every video).",
            show_default=False,
        ),
    ] = None,
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
        typer.Option(
            "--forks",
            help="Comma-separated forks to include: owner, main, easy, or others the server "
            "named (ai, …); 'all' (the default) is every stored fork.",
        ),
    ] = "all",
    partitioned: Annotated[
        Path | None,
        typer.Option(
            "--partitioned",
            metavar="DIR",
            help="With --format parquet: write (or update) a Hive-partitioned dataset in DIR "
            "that DuckDB, Polars and pyarrow read directly.",
            show_default=False,
        ),
    ] = None,
    by: ByOption = None,
    db: str,
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
        nico export --format parquet --partitioned comments/             # every video
        nico export sm9 --format parquet --partitioned comments/ --by month

    With --partitioned DIR, each video's comments are written to a Hive-partitioned Parquet
    dataset (DIR/video=sm9/… or DIR/month=2007-03/…): exporting a video again replaces its
    files, never duplicates them. nico analyze --dataset DIR reads it.
    """
    fmt = fmt.lower()
    if fmt not in formats.EXPORT_FORMATS:
        choices = ", ".join(formats.EXPORT_FORMATS)
        raise BadInput(f"unknown format {shown(fmt)}: choose {choices}")
    chosen = tuple(f.strip().lower() for f in forks.split(",") if f.strip())
    if not chosen or not all(f == "all" or is_fork_name(f) for f in chosen):
        raise BadInput(f"--forks takes a comma-separated list of {', '.join(ALL_FORKS)} (or all)")
    if hash_user_ids is not None and not hash_user_ids:
        raise BadInput("--hash-user-ids needs a non-empty salt")
    if partitioned is not None:
        if fmt != "parquet":
            raise BadInput("--partitioned writes Parquet: add --format parquet")
        if output is not None:
            raise BadInput("--partitioned DIR and --output are alternatives: give one")
        _export_dataset(video, partitioned, by and by.lower(), chosen, hash_user_ids, db)
        return
    if by is not None:
        raise BadInput("--by partitions a dataset: add --format parquet --partitioned DIR")
    if video is None:
        raise BadInput("which video? give its id (or --partitioned DIR for every video)")
    video_id = parse_video_id(video)
    to_stdout = output == "-"
    if to_stdout and fmt in formats.BINARY_FORMATS and sys.stdout.isatty():
        raise BadInput(f"{fmt} is binary: give -o FILE, or redirect stdout")
    target = None if to_stdout else Path(output or f"{video_id}.{fmt}")
    with store.database(db, read_only=True) as engine, engine.connect() as connection:
        require_video(connection, video_id, db)
        counts = store.thread_counts(connection, video_id)
        rows = store.iter_comments(connection, video_id, None if "all" in chosen else chosen)
        if hash_user_ids:
            rows = formats.hash_user_ids(rows, hash_user_ids)
        if target is None:
            write = formats.writer(fmt)
            written = write(rows, sys.stdout.buffer, video_id=video_id, thread_counts=counts)
            sys.stdout.buffer.flush()
        else:
            written = formats.write_file(target, fmt, rows, video_id=video_id, thread_counts=counts)
    where = "stdout" if target is None else str(target)
    err.print(f"Wrote {written:,} comments of {video_id} to {where} ({fmt}).")


def _export_dataset(
    video: str | None, directory: Path, by: str | None, forks: tuple, salt: str | None, db: str
) -> None:
    by = dataset.choose_by(directory, by, dataset.DEFAULT_BY["export"])
    connection = dataset.connect()
    total = 0
    with store.database(db, read_only=True) as engine, engine.connect() as db_connection:
        if video is not None:
            videos = [parse_video_id(video)]
            require_video(db_connection, videos[0], db)
        else:
            videos = [row["video_id"] for row in store.video_rows(db_connection)]
        for video_id in videos:
            rows = store.iter_comments(db_connection, video_id, None if "all" in forks else forks)
            if salt:
                rows = formats.hash_user_ids(rows, salt)
            unit = dataset.unit_name("video", video_id)
            written = dataset.write_comments(
                connection, dataset.arrow_batches(video_id, rows), directory, by=by, unit=unit
            )
            dataset.record_unit(
                directory, by, unit, {"source": f"video {video_id}", "comments": written["rows"]}
            )
            total += written["rows"]
    err.print(
        f"Wrote {total:,} comments of {len(videos):,} video(s) to the dataset {directory} "
        f"(parquet, by {by})."
    )
