"""Champion/challenger experiments (``experiments``): which challenger policy and snapshot
decide which share of users, and who started and stopped it.

Revision ID: 0009_experiments
"""

from __future__ import annotations

from alembic import op

from creditgate.store.models import experiments

revision = "0009_experiments"
down_revision = "0008_used_links"
branch_labels = None
depends_on = None


def upgrade() -> None:
    experiments.create(op.get_bind(), checkfirst=True)


def downgrade() -> None:
    experiments.drop(op.get_bind(), checkfirst=True)
