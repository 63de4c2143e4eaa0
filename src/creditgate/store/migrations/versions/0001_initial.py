"""Initial schema: policies, append-only decisions with a hash chain, reviews, snapshots.

Revision ID: 0001
"""

from __future__ import annotations

from alembic import op

from creditgate.store.models import GENESIS, INITIAL_TABLES, chain_head, metadata

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    metadata.create_all(bind, tables=[metadata.tables[name] for name in INITIAL_TABLES])
    op.bulk_insert(chain_head, [{"id": 1, "seq": 0, "hash": GENESIS}])


def downgrade() -> None:
    bind = op.get_bind()
    metadata.drop_all(bind, tables=[metadata.tables[name] for name in INITIAL_TABLES])
