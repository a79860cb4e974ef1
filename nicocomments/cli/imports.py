"""`nico import`: comments from other tools' files into the database."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nicocomments import store
from nicocomments.cli.common import ByOption, err, error_line, guarded, out
from nicocomments.convert import convert_files
from nicocomments.errors import BadInput
from nicocomments.formats import dataset
from nicocomments.ids import parse_video_id
from nicocomments.ingest import check_format, import_files


@guarded
def import_(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="Comment files, zip archives of them, or directories.", show_default=False
        ),
    ],
    *,
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="auto (recognise each file), xml (legacy packet XML), v1 (nvcomment /v1/threads), "
            "apijson (legacy api.json), ytdlp (yt-dlp .comments.json), nii (NII dataset JSONL), "
            "or jsonl, csv, parquet (nico's own exports, every column).",
            case_sensitive=False,
        ),
    ] = "auto",
    video: Annotated[
        str | None,
        typer.Option(
            "--video",
            metavar="ID",
            help="The video the files belong to (default: from the file, its name, or its thread).",
        ),
    ] = None,
    to: Annotated[
        Path | None,
        typer.Option(
            "--to",
            metavar="DIR",
            help="Write a Parquet dataset in DIR instead of storing into the database (NII "
            "releases through DuckDB, on all cores; resumable per archive).",
            show_default=False,
        ),
    ] = None,
    by: ByOption = None,
    db: str,
) -> None:
    """Import comments that other tools saved: legacy XML (Saccubus, Niconicome, NicoFox,
    message-server answers, live recordings), nvcomment v1 JSON, legacy api.json, yt-dlp's
    .comments.json, the NII research dataset (JSONL, also inside .zip archives, read member
    by member), and nico's own every-column exports (jsonl, csv, parquet).

    Comments go into the same tables as fetched ones: a comment already stored is not stored
    again, so importing a file twice adds nothing. Each file gets a fetch_runs row naming it.
    A file that turns out to be malformed leaves nothing behind (exit 2); the other files are
    still imported.

    **Examples**

        nico import comments.xml
        nico import 'Title [sm9].comments.json' --format ytdlp
        nico import nii/comments-0001.zip
        nico import ~/Saccubus/ --video sm9
        nico import sm9.parquet --db copy.db
        nico import nii/thread/*.zip --to comments/ --by month

    With --to DIR the comments go to a Hive-partitioned Parquet dataset instead (the same
    columns and rules; nico analyze --dataset DIR reads it, so do DuckDB, Polars and pyarrow),
    partitioned as DIR already is, a new DIR by month unless --by says otherwise.
    NII files are converted by DuckDB in batches, in bounded memory; each archive's files
    in DIR carry its name, so importing it again replaces them, and DIR/_nico_manifest.json
    records the archives done: an interrupted run, started again, goes on with the next.
    """
    fmt = fmt.lower()
    check_format(fmt)
    video_id = parse_video_id(video) if video else None
    if to is not None:
        _import_to_dataset(paths, to, fmt, by and by.lower(), video_id)
        return
    if by is not None:
        raise BadInput("--by partitions a dataset: add --to DIR")
    results = []
    with store.database(db) as engine:
        for result in import_files(engine, paths, fmt=fmt, video_id=video_id):
            results.append(result)
            if result.error is not None:
                continue
            out.print(
                f"{result.source}: {result.read:,} comments read ({result.format}), "
                f"{result.added:,} new, video {result.video_id or '-'}"
            )
    failed = [r for r in results if r.error is not None]
    if len(results) > 1:
        done = len(results) - len(failed)
        added = sum(r.added for r in results)
        out.print(
            f"{done} of {len(results)} files imported, {added:,} new comments "
            f"in {store.describe_target(db)}."
        )
    if failed:
        if len(results) == 1:
            raise failed[0].error
        for result in failed:
            error_line(str(result.error))
        raise typer.Exit(int(failed[0].error.exit_status))


def _import_to_dataset(
    paths: list[Path], directory: Path, fmt: str, by: str | None, video_id: str | None
) -> None:
    by = dataset.choose_by(directory, by, dataset.DEFAULT_BY["import"])
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeElapsedColumn

    results = []
    columns = ("{task.description}", BarColumn(), DownloadColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as bars:
        tasks: dict[str, int] = {}

        def progress(source: str, done: int, total: int) -> None:
            if source not in tasks:
                tasks[source] = bars.add_task(Path(source).name, total=total)
            bars.update(tasks[source], completed=done)

        for result in convert_files(
            paths, directory, fmt=fmt, by=by, video_id=video_id, progress=progress
        ):
            results.append(result)
            for failed in result.failed:
                error_line(str(failed.error))
            if result.skipped:
                out.print(f"{result.source}: already in {directory} (its manifest says so)")
            elif result.files or not result.failed:
                kinds = ", ".join(sorted(result.formats)) or "-"
                out.print(
                    f"{result.source}: {result.files:,} files, {result.read:,} comments read "
                    f"({kinds}), {result.added:,} written"
                )
    failed = [f for r in results for f in r.failed]
    added = sum(r.added for r in results if not r.skipped)
    out.print(f"{added:,} comments written to the dataset {directory} (by {by}).")
    if failed:
        raise typer.Exit(int(failed[0].error.exit_status))
