"""Snapshots: the decision log's length when the snapshot was registered (``since_seq``).

Real-time decisions taken with a snapshot's cutoffs are what a user's answer is while that
snapshot is active (``service/answers.py``); they can only come after its registration, so a
worker that loads the snapshot reads the log from this point, not from its beginning. NULL for
snapshots registered before this revision: read from the start. ``0001`` creates the tables
from the current models, so on a fresh database the column exists already.

Revision ID: 0007_snapshot_since
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_snapshot_since"
down_revision = "0006_idempotency_scope"
branch_labels = None
depends_on = None


def _columns() -> set[str]:
    return {c["name"] for c in sa.inspect(op.get_bind()).get_columns("snapshots")}


def upgrade() -> None:
    if "since_seq" not in _columns():
        op.add_column("snapshots", sa.Column("since_seq", sa.BigInteger, nullable=True))


def downgrade() -> None:
    if "since_seq" in _columns():
        with op.batch_alter_table("snapshots") as batch:
            batch.drop_column("since_seq")
