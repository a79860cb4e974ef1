"""The database: opening and migrating it (`db`), writing (`write`), reading (`read`) and
what imports need (`imports`).

Everything is reachable as ``store.<name>``; the submodules only keep each part short.
"""

from nicocomments.store.db import (  # noqa: F401
    SQLITE_PRAGMAS,
    Upgrade,
    _alembic_config,
    backup_sqlite,
    create_db_engine,
    current_revision,
    database_failure,
    database_url,
    describe_target,
    head_revision,
    is_contention,
    migrations_dir,
    open_db,
    sqlite_path,
    upgrade_db,
)
from nicocomments.store.imports import (  # noqa: F401
    discard_run,
    ensure_threads,
)
from nicocomments.store.read import (  # noqa: F401
    FORK_ORDER,
    ThreadState,
    ThreadSummary,
    comment_columns,
    fork_order,
    iter_comments,
    missing_ranges,
    posted_at_of,
    posted_unix,
    reported_count,
    run_rows,
    server_count,
    thread_counts,
    thread_runs,
    thread_state,
    thread_summaries,
    video_exists,
    video_of_threads,
    video_rows,
)
from nicocomments.store.write import (  # noqa: F401
    _INSERT_COLUMNS,
    SEARCH_INDEX,
    SEARCH_PENDING,
    add_to_run,
    ensure_video,
    finish_run,
    has_search_index,
    now_utc,
    rename_run_video,
    save_comments,
    save_skipped,
    save_thread_status,
    set_history,
    start_run,
    sync_search_index,
    transaction,
    upsert_threads,
    upsert_video,
    write_retrying,
)
