"""Idempotency keys scoped to the caller and bound to the request; the token revocation list.

``decisions.idempotency_key`` now holds ``sha256(caller name, key)`` (keys of different callers
never meet) and the new ``decisions.request_hash`` the hash of the request the key was first
used for: a repeat with another body is refused (409), not replayed. ``creditgate_append`` is
recreated with the extra array. ``revoked_tokens`` lists user-token ids refused from now on.
Tables and columns are created only when missing (0001 builds the schema from the current
models, so a fresh database already has them).

Revision ID: 0006_idempotency_scope
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "0006_idempotency_scope"
down_revision = "0005_audit_events"
branch_labels = None
depends_on = None

OLD_SIGNATURE = (
    "text[], text[], text[], text[], text[], text[], text[], text[], text[], text[], boolean[], "
    "bytea[], bytea[]"
)

APPEND = """
CREATE OR REPLACE FUNCTION creditgate_append(
    p_decision_id text[], p_user_id text[], p_policy_version text[], p_as_of text[],
    p_idempotency_key text[], p_inputs text[], p_inputs_hash text[], p_decision text[],
    p_decision_hash text[], p_created_at text[], p_erase boolean[], p_before_seq bytea[],
    p_after_seq bytea[], p_request_hash text[]
) RETURNS TABLE (appended_seq bigint, appended_id text)
LANGUAGE plpgsql VOLATILE AS $fn$
BEGIN
    PERFORM 1 FROM chain_head WHERE id = 1 FOR UPDATE;
    RETURN QUERY
    WITH RECURSIVE
    batch AS (
        SELECT * FROM unnest(
            p_decision_id, p_user_id, p_policy_version, p_as_of, p_idempotency_key, p_inputs,
            p_inputs_hash, p_decision, p_decision_hash, p_created_at, p_erase, p_before_seq,
            p_after_seq, p_request_hash
        ) WITH ORDINALITY AS b(
            decision_id, user_id, policy_version, as_of, idempotency_key, inputs, inputs_hash,
            decision, decision_hash, created_at, erase, before_seq, after_seq, request_hash, ord
        )
    ),
    kept AS (
        SELECT b.*, row_number() OVER (ORDER BY b.ord) AS n FROM batch b
        WHERE (b.idempotency_key IS NULL OR (
                NOT EXISTS (
                    SELECT 1 FROM decisions d WHERE d.idempotency_key = b.idempotency_key)
                AND NOT EXISTS (
                    SELECT 1 FROM batch e
                    WHERE e.idempotency_key = b.idempotency_key AND e.ord < b.ord)))
            AND (b.erase OR NOT EXISTS (
                SELECT 1 FROM consent_withdrawals w WHERE w.user_id = b.user_id))
    ),
    link AS (
        SELECT 0::bigint AS n, h.seq, h.hash::text AS prev, h.hash::text AS hash
            FROM chain_head h WHERE h.id = 1
        UNION ALL
        SELECT l.n + 1, l.seq + 1, l.hash, encode(sha256(
                convert_to(l.hash, 'UTF8') || k.before_seq
                || convert_to((l.seq + 1)::text, 'UTF8') || k.after_seq), 'hex')
            FROM link l JOIN kept k ON k.n = l.n + 1
    ),
    appended AS (
        INSERT INTO decisions (
            seq, decision_id, user_id, policy_version, as_of, idempotency_key, inputs,
            inputs_hash, decision, decision_hash, created_at, prev_hash, record_hash,
            request_hash)
        SELECT l.seq, k.decision_id, k.user_id, k.policy_version, k.as_of, k.idempotency_key,
            k.inputs, k.inputs_hash, k.decision, k.decision_hash, k.created_at, l.prev, l.hash,
            k.request_hash
            FROM kept k JOIN link l ON l.n = k.n
        RETURNING decisions.seq, decisions.decision_id
    ),
    moved AS (
        UPDATE chain_head SET seq = last.seq, hash = last.hash
        FROM (SELECT link.seq, link.hash FROM link ORDER BY link.n DESC LIMIT 1) AS last
        WHERE chain_head.id = 1
    )
    SELECT a.seq, a.decision_id::text FROM appended a;
END
$fn$
"""


def upgrade() -> None:
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    if "request_hash" not in {c["name"] for c in inspector.get_columns("decisions")}:
        op.add_column("decisions", sa.Column("request_hash", sa.String(64), nullable=True))
    if not inspector.has_table("revoked_tokens"):
        op.create_table(
            "revoked_tokens",
            sa.Column("token_id", sa.String(32), primary_key=True),
            sa.Column("revoked_by", sa.String(64), nullable=False),
            sa.Column("revoked_at", sa.String(32), nullable=False),
        )
    if bind.dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION IF EXISTS creditgate_append({OLD_SIGNATURE})")
        op.execute(APPEND)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION IF EXISTS creditgate_append({OLD_SIGNATURE}, text[])")
        op.execute(_previous_append())
    op.drop_table("revoked_tokens")
    op.drop_column("decisions", "request_hash")


def _previous_append() -> str:
    """Migration 0002's function text (its module name is not importable by name)."""
    path = Path(__file__).with_name("0002_pg_append.py")
    spec = importlib.util.spec_from_file_location("_m0002", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return str(module.APPEND)
