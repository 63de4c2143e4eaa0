"""Champion/challenger experiments (``experiments``): which challenger policy and snapshot
decide which share of users, and who started and stopped it.

Revision ID: 0010_experiments
"""

from __future__ import annotations

from alembic import op

from creditgate.store.models import experiments

revision = "0010_experiments"
down_revision = "0009_review_work"
branch_labels = None
depends_on = None


def upgrade() -> None:
    experiments.create(op.get_bind(), checkfirst=True)


def downgrade() -> None:
    experiments.drop(op.get_bind(), checkfirst=True)
