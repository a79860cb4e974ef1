"""Drop what nothing read: collections.listed_total and collection_videos.attempts.

The listing's size is what collection_videos holds; how often a video was started said nothing
its state and reason do not (a video left partial is resumed, whatever it took).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 04:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("collections") as batch:
        batch.drop_column("listed_total")
    with op.batch_alter_table("collection_videos") as batch:
        batch.drop_column("attempts")


def downgrade() -> None:
    # nicocomments migrates forward only; downgrades are not supported.
    raise NotImplementedError("nicocomments databases are never downgraded")
