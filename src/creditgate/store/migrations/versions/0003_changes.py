"""Four-eyes activation: the ``changes`` table (proposals and their approvals).

Revision ID: 0003_changes
"""

from __future__ import annotations

from alembic import op

from creditgate.store.models import changes

revision = "0003_changes"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    changes.create(op.get_bind(), checkfirst=True)


def downgrade() -> None:
    changes.drop(op.get_bind(), checkfirst=True)
