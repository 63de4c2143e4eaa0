"""Tables (SQLAlchemy Core: the hot path inserts rows, it has no use for an identity map).

``decisions`` is append-only: a row is never updated except to erase its ``inputs`` after a
consent withdrawal, which the hash chain survives because each ``record_hash`` commits to
``inputs_hash`` and ``decision_hash``, not to the raw JSON. ``chain_head`` is one row whose
update is the lock that serialises appends across threads, processes and databases.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

policies = Table(
    "policies",
    metadata,
    Column("version", String(64), primary_key=True),
    Column("name", String(128), nullable=False),
    Column("text", Text, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("created_at", String(32), nullable=False),
)

decisions = Table(
    "decisions",
    metadata,
    Column(
        "seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    ),
    Column("decision_id", String(40), nullable=False, unique=True),
    Column("user_id", String(64), nullable=False, index=True),
    Column("policy_version", String(64), nullable=False),
    Column("as_of", String(10), nullable=False),
    Column("idempotency_key", String(128), nullable=True, unique=True),
    Column("inputs", Text, nullable=False),
    Column("inputs_hash", String(64), nullable=False),
    Column("decision", Text, nullable=False),
    Column("decision_hash", String(64), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("record_hash", String(64), nullable=False),
    Column("created_at", String(32), nullable=False),
    # sha256 of the request an idempotency key was first used for (not chained: a replay
    # check, not a fact of the decision). The key itself is stored as sha256(caller, key).
    Column("request_hash", String(64), nullable=True),
)

chain_head = Table(
    "chain_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)

reviews = Table(
    "reviews",
    metadata,
    Column("review_id", String(40), primary_key=True),
    Column("decision_id", String(40), nullable=False, index=True),
    Column("user_id", String(64), nullable=False),
    Column("reason", Text, nullable=False),
    Column("status", String(16), nullable=False, index=True),
    Column("resolution", String(32), nullable=True),
    Column("note", Text, nullable=True),
    Column("created_at", String(32), nullable=False),
    Column("resolved_at", String(32), nullable=True),
    # review as work (0009): "appeal" (a user asked) or "manual_review" (the engine referred)
    Column("kind", String(16), nullable=False, server_default="appeal"),
    Column("reason_codes", Text, nullable=True),  # JSON list: the reviewed decision's codes
    Column("fraud_rules", Text, nullable=True),  # JSON list, operators only (``_internal``)
    Column("claimed_by", String(64), nullable=True),  # a principal's name
    Column("claimed_at", String(32), nullable=True),
    Column("claim_expires_at", String(32), nullable=True),  # ISO UTC: comparable as text
    Column("resolved_by", String(64), nullable=True),
    Column("human_decision_id", String(40), nullable=True),  # the decision it recorded
)

snapshots = Table(
    "snapshots",
    metadata,
    Column("snapshot_id", String(64), primary_key=True),
    Column("path", Text, nullable=False),
    Column("meta", Text, nullable=False),
    Column("invited", BigInteger, nullable=False),
    Column("loaded_at", String(32), nullable=False),
    Column("sha256", String(64), nullable=True),  # of the file's content; NULL before 0003
    # the decision log's head seq at registration: decisions with its cutoffs come after it
    Column("since_seq", BigInteger, nullable=True),
)

active = Table(  # what is live: "policy" -> version, "snapshot" -> snapshot_id
    "active",
    metadata,
    Column("key", String(32), primary_key=True),
    Column("value", String(64), nullable=False),
)

changes = Table(  # four-eyes: a proposed activation and who approved or rejected it
    "changes",
    metadata,
    Column("change_id", String(40), primary_key=True),
    # "policy", "snapshot", "experiment_start" or "experiment_stop"
    Column("kind", String(16), nullable=False),
    Column("target", String(64), nullable=False),  # policy version, snapshot or experiment id
    Column("status", String(16), nullable=False, index=True),
    Column("proposed_by", String(64), nullable=False),
    Column("proposed_at", String(32), nullable=False),
    Column("effect", Text, nullable=False),  # JSON: what activation would change
    Column("decided_by", String(64), nullable=True),  # a person, or "rule:<name>"
    Column("decided_at", String(32), nullable=True),
    Column("note", Text, nullable=True),
)

consent_withdrawals = Table(
    "consent_withdrawals",
    metadata,
    Column("user_id", String(64), primary_key=True),
    Column("withdrawn_at", String(32), nullable=False),
)

audit_events = Table(  # the operator-action chain (store/events.py), linked like decisions
    "audit_events",
    metadata,
    Column(
        "seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    ),
    Column("kind", String(32), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("subject", String(128), nullable=True),
    Column("body", Text, nullable=False),
    Column("body_hash", String(64), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("record_hash", String(64), nullable=False),
    Column("created_at", String(32), nullable=False),
)

event_head = Table(  # one row, like chain_head: its update is the lock of the event chain
    "event_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)

revoked_tokens = Table(  # user-token ids refused from now on
    "revoked_tokens",
    metadata,
    Column("token_id", String(32), primary_key=True),
    Column("revoked_by", String(64), nullable=False),
    Column("revoked_at", String(32), nullable=False),
)

used_links = Table(  # self-check sign-in links already exchanged (single use across workers)
    "used_links",
    metadata,
    Column("token_id", String(32), primary_key=True),
    Column("expires", BigInteger, nullable=False, index=True),  # unix seconds: then forgettable
    Column("used_at", String(32), nullable=False),
)

experiments = Table(  # champion/challenger: started and stopped by approved changes
    "experiments",
    metadata,
    Column("experiment_id", String(40), primary_key=True),
    Column("champion_policy", String(64), nullable=False),
    Column("champion_snapshot", String(64), nullable=False),
    Column("challenger_policy", String(64), nullable=False),
    Column("challenger_snapshot", String(64), nullable=False),
    Column("share", Float(precision=53), nullable=False),  # the challenger's, in (0, 0.5]
    Column("salt", String(64), nullable=False),  # of the assignment (creditgate.experiment)
    Column("proposed_by", String(64), nullable=False),
    Column("started_by", String(64), nullable=False),  # who approved the start
    Column("started_at", String(32), nullable=False),
    Column("start_seq", BigInteger, nullable=False),  # decision log head at the start
    Column("stopped_by", String(64), nullable=True),
    Column("stopped_at", String(32), nullable=True),
    Column("stop_seq", BigInteger, nullable=True),  # decision log head at the stop
)

# A user's separate consent (PIPL Art. 23) to send NAMED profile fields to a NAMED lender,
# and each referral made under one (field names and a keyed hash of the values, never the
# values): docs/lenders.md. Times are Asia/Shanghai ISO 8601 with their offset.
referral_consents = Table(
    "referral_consents",
    metadata,
    Column("consent_id", String(40), primary_key=True),
    Column("user_id", String(64), nullable=False, index=True),
    Column("lender_id", String(40), nullable=False),
    Column("fields", Text, nullable=False),  # JSON list of profile field names, sorted
    Column("granted_at", String(32), nullable=False),
    Column("granted_by", String(128), nullable=False),  # actor (a pseudonym for a user)
    Column("withdrawn_at", String(32), nullable=True),
    Column("withdrawn_by", String(128), nullable=True),
)

referrals = Table(
    "referrals",
    metadata,
    Column("referral_id", String(40), primary_key=True),
    Column("user_id", String(64), nullable=False, index=True),
    Column("lender_id", String(40), nullable=False),
    Column("consent_ids", Text, nullable=False),  # JSON list: the consents it relied on
    Column("fields", Text, nullable=False),  # JSON list of the field names shared
    Column("shared_hmac", String(64), nullable=False),  # HMAC-SHA256 of the values sent
    Column("created_at", String(32), nullable=False),
    Column("created_by", String(128), nullable=False),
)

GENESIS = "0" * 64

# The tables of revision 0001, created by name there: later revisions create their own.
INITIAL_TABLES = (
    "policies",
    "decisions",
    "chain_head",
    "reviews",
    "snapshots",
    "active",
    "consent_withdrawals",
)
