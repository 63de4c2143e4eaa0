"""Self-check sign-in links already used (``used_links``): a link opens one session only,
whichever worker receives it.

Revision ID: 0008_used_links
"""

from __future__ import annotations

from alembic import op

from creditgate.store.models import used_links

revision = "0008_used_links"
down_revision = "0007_snapshot_since"
branch_labels = None
depends_on = None


def upgrade() -> None:
    used_links.create(op.get_bind(), checkfirst=True)


def downgrade() -> None:
    used_links.drop(op.get_bind(), checkfirst=True)
