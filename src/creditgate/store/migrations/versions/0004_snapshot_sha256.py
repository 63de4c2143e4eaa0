"""Snapshots: the SHA-256 of the registered file's content, verified when a snapshot is
activated or loaded by a worker (a file swapped after registration is refused).

Rows registered before this revision keep NULL and are verified against their id (the first
32 hex digits of the same hash). ``0001`` creates the tables from the current models, so on a
fresh database the column exists already and is not added twice.

Revision ID: 0004_snapshot_sha256
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_snapshot_sha256"
down_revision = "0003_changes"
branch_labels = None
depends_on = None


def _columns() -> set[str]:
    return {c["name"] for c in sa.inspect(op.get_bind()).get_columns("snapshots")}


def upgrade() -> None:
    if "sha256" not in _columns():
        op.add_column("snapshots", sa.Column("sha256", sa.String(64), nullable=True))


def downgrade() -> None:
    if "sha256" in _columns():
        with op.batch_alter_table("snapshots") as batch:
            batch.drop_column("sha256")
