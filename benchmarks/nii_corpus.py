"""A synthetic NII-shaped corpus (never stored in git): comments of many videos in the shapes
of the NII releases, for the benchmarks (and anyone who wants to try `nico import --to`).

    python benchmarks/nii_corpus.py files DIR --comments 1000000 --videos 1000
        one file per video: sm<N>.jsonl (2018 shape: ISO dates in Japan time, content,
        command, vpos, easy/owner flags) and, for one video in ten, sm<N>.dat (2012 shape:
        Unix dates, no, comment)
    python benchmarks/nii_corpus.py dataset DIR --comments 100000000 --videos 100000
        the same shape of comments written straight into a dataset by DuckDB (what
        `nico import --to DIR --by month` would make of the files): for the corpus analyses
        at a size whose JSON would take longer to write than to analyse

Deterministic: the same arguments give the same corpus.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

TEXTS = ("うぽつ", "ｗｗｗ", "8888888", "キター", "草", "かわいい", "ここすき", "gj", "初見", "神")
COMMANDS = ("", "184", "184 big red", "ue", "shita small", "184 #ff0000")
FIRST_DAY = 1_199_113_200  # 2008-01-01 (JST)
YEARS_S = 11 * 365 * 86_400  # through 2018, as the 2018 release


def write_files(directory: Path, comments: int, videos: int, seed: int = 0) -> int:
    """One file per video; returns the lines written."""
    import orjson

    directory.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    per_video = max(comments // max(videos, 1), 1)
    written = 0
    for number in range(1, videos + 1):
        count = min(per_video, comments - written) if number < videos else comments - written
        if count <= 0:
            break
        old = number % 10 == 0
        upload = FIRST_DAY + rng.randrange(YEARS_S)
        lines = []
        for index in range(count):
            posted = upload + int(rng.expovariate(1 / 86_400))
            text = rng.choice(TEXTS) * rng.randint(1, 3)
            if old:
                line = {
                    "date": posted,
                    "no": index + 1,
                    "vpos": rng.randrange(30_000),
                    "comment": text,
                    "command": rng.choice(COMMANDS),
                }
            else:
                line = {
                    "date": _jst(posted),
                    "content": text,
                    "command": rng.choice(COMMANDS),
                    "vpos": rng.randrange(30_000),
                }
                if index % 20 == 0:
                    line["easy"] = True
                elif index % 97 == 0:
                    line["owner"] = True
            lines.append(orjson.dumps(line))
        suffix = ".dat" if old else ".jsonl"
        (directory / f"sm{number}{suffix}").write_bytes(b"\n".join(lines) + b"\n")
        written += count
    return written


def _jst(unix: int) -> str:
    import time

    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(unix + 9 * 3600))


def write_dataset(directory: Path, comments: int, videos: int, seed: int = 0) -> int:
    """The corpus as a dataset by month, generated and written by DuckDB."""
    from nicocomments.formats import dataset

    connection = dataset.connect(memory_limit="2GB", temp=directory.parent / ".corpus-tmp")
    texts = ", ".join(f"'{t}'" for t in TEXTS)
    commands = ", ".join(f"'{c}'" for c in COMMANDS)
    source = f"""
        SELECT 'sm' || video AS video_id, 'nii:sm' || video AS thread_id,
               CASE WHEN i % 20 = 0 THEN 'easy' WHEN i % 97 = 0 THEN 'owner' ELSE 'main' END
               AS fork, -i AS no, CAST(hash(i, {seed}) % 300000 AS BIGINT) AS vpos_ms,
               to_timestamp({FIRST_DAY} + CAST(hash(video, {seed}) % {YEARS_S} AS BIGINT)
                            + CAST(hash(i, {seed} + 1) % 2592000 AS BIGINT)) AS posted_at,
               [{texts}][CAST(1 + hash(i, {seed} + 2) % {len(TEXTS)} AS BIGINT)] AS content,
               [{commands}][CAST(1 + hash(i, {seed} + 3) % {len(COMMANDS)} AS BIGINT)] AS commands,
               NULL AS date_usec, NULL AS user_id, false AS is_premium,
               false AS is_anonymous, false AS is_deleted, NULL AS deleted_reason,
               NULL AS score, NULL AS nicoru_count, NULL AS comment_id, NULL AS source,
               NULL AS message_id, NULL AS is_overflowed, NULL AS name
        FROM (SELECT i, 1 + i % {videos} AS video FROM range({comments}) AS t(i))
    """
    written = dataset.write_unit(connection, source, directory, by="month", unit="corpus")
    dataset.record_unit(directory, "month", "corpus", {"source": "nii_corpus.py"})
    connection.close()
    return written["rows"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["files", "dataset"])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--comments", type=int, default=1_000_000)
    parser.add_argument("--videos", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    write = write_files if args.kind == "files" else write_dataset
    print(f"{write(args.directory, args.comments, args.videos, args.seed):,} comments")


if __name__ == "__main__":
    main()
