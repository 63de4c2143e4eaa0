"""Referrals to licensed lenders (``referral_consents``, ``referrals``): a user's separate
consent to send named fields to a named lender, its withdrawal, and what each referral sent
(field names and a keyed hash, never values).

Revision ID: 0011_referral_consents
"""

from __future__ import annotations

from alembic import op

from creditgate.store.models import referral_consents, referrals

revision = "0011_referral_consents"
down_revision = "0010_experiments"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    referral_consents.create(bind, checkfirst=True)
    referrals.create(bind, checkfirst=True)


def downgrade() -> None:
    bind = op.get_bind()
    referrals.drop(bind, checkfirst=True)
    referral_consents.drop(bind, checkfirst=True)
