"""Reviews as work: each review's kind, the reviewed decision's reason codes (and fraud rules,
for operators), the claim an operator holds on it, who resolved it and the human decision it
recorded (``service/reviewing.py``). Old rows are appeals. ``0001`` creates the tables from
the current models, so on a fresh database the columns exist already.

Revision ID: 0009_review_work
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_review_work"
down_revision = "0008_used_links"
branch_labels = None
depends_on = None


def _new() -> tuple[sa.Column[object], ...]:  # fresh objects: a Column belongs to one table
    return (
        sa.Column("kind", sa.String(16), nullable=False, server_default="appeal"),
        sa.Column("reason_codes", sa.Text, nullable=True),
        sa.Column("fraud_rules", sa.Text, nullable=True),
        sa.Column("claimed_by", sa.String(64), nullable=True),
        sa.Column("claimed_at", sa.String(32), nullable=True),
        sa.Column("claim_expires_at", sa.String(32), nullable=True),
        sa.Column("resolved_by", sa.String(64), nullable=True),
        sa.Column("human_decision_id", sa.String(40), nullable=True),
    )


def _columns() -> set[str]:
    return {c["name"] for c in sa.inspect(op.get_bind()).get_columns("reviews")}


def upgrade() -> None:
    present = _columns()
    for column in _new():
        if column.name not in present:
            op.add_column("reviews", column)


def downgrade() -> None:
    present = _columns()
    with op.batch_alter_table("reviews") as batch:
        for column in reversed(_new()):
            if column.name in present:
                batch.drop_column(column.name)
