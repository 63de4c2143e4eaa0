"""PostgreSQL: ``creditgate_append``, the decision append as one statement.

Takes the head lock, then (a new snapshot, so it sees every append committed before the lock
was granted) drops the entries whose idempotency key is stored or repeated earlier in the
batch and those of users who withdrew consent (unless decided as withdrawn: ``erase``),
numbers and links the rest, inserts them and moves the head. The record hash is
``sha256(prev_hash || before_seq || seq || after_seq)`` where the caller split each record's
canonical JSON around its number (``canonical.split_at_seq``), so it equals ``record_hash``.
Called in autocommit: lock, append and commit cost the client one round trip, and the lock is
held for the server's work only. SQLite appends in Python (``DecisionLog._append``).

Revision ID: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

APPEND = """
CREATE OR REPLACE FUNCTION creditgate_append(
    p_decision_id text[], p_user_id text[], p_policy_version text[], p_as_of text[],
    p_idempotency_key text[], p_inputs text[], p_inputs_hash text[], p_decision text[],
    p_decision_hash text[], p_created_at text[], p_erase boolean[], p_before_seq bytea[],
    p_after_seq bytea[]
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
            p_after_seq
        ) WITH ORDINALITY AS b(
            decision_id, user_id, policy_version, as_of, idempotency_key, inputs, inputs_hash,
            decision, decision_hash, created_at, erase, before_seq, after_seq, ord
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
            inputs_hash, decision, decision_hash, created_at, prev_hash, record_hash)
        SELECT l.seq, k.decision_id, k.user_id, k.policy_version, k.as_of, k.idempotency_key,
            k.inputs, k.inputs_hash, k.decision, k.decision_hash, k.created_at, l.prev, l.hash
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
    if op.get_bind().dialect.name == "postgresql":
        op.execute(APPEND)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS creditgate_append")
