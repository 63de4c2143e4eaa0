"""The event chain: every change of state by an operator (or the host, or a user's erasure)
as a hash-chained record naming its actor.

A second chain beside the decision log, linked the same way (``record_hash`` over the
previous hash and the canonical fields) and serialised the same way: the update of its one
``event_head`` row is the lock, and on SQLite the shared ``.writelock`` file hands the database
over without the busy handler's sleeps. Events are rare (uploads, activations, erasures), so
they never touch the decision hot path. ``audit verify`` uses the chain to check the catalog
(policy texts, snapshot rows, what is active) and to accept erased decisions, whose hashes can
no longer be recomputed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, insert, select, update

from creditgate.store.canonical import canonical, record_hash, sha256, walk_chain
from creditgate.store.db import rows_by_seq
from creditgate.store.models import GENESIS, audit_events, event_head
from creditgate.store.writelock import WriteLock

KINDS = frozenset(
    {
        "policy_registered",
        "snapshot_registered",
        "activated",
        "deactivated",
        "proposed",
        "approved",
        "rejected",
        "review_claimed",
        "review_released",
        "review_resolved",
        "snapshot_reviews_queued",
        "erasure",
        "host_activation",
        "referral_consent_granted",  # store/referrals.py: docs/lenders.md
        "referral_consent_withdrawn",
        "referral_made",
    }
)
CHAINED = ("seq", "kind", "actor", "subject", "body_hash", "created_at")

_LOCK_HEAD = (
    update(event_head)
    .where(event_head.c.id == 1)
    .values(seq=event_head.c.seq)
    .returning(event_head.c.seq, event_head.c.hash)
)


@dataclass(frozen=True, slots=True)
class Event:
    seq: int
    kind: str
    actor: str
    subject: str | None
    body: dict[str, Any]
    created_at: str


def append_event(
    conn: Connection, kind: str, actor: str, subject: str | None, body: dict[str, Any]
) -> int:
    """Append in the caller's transaction (which then holds the event head's lock until it
    commits); returns the new seq. The caller holds the SQLite write lock when it has one."""
    if kind not in KINDS:
        raise ValueError(f"unknown event kind {kind!r}")
    seq, prev = conn.execute(_LOCK_HEAD).one()
    body_text = canonical(body).decode()
    fields = {
        "seq": seq + 1,
        "kind": kind,
        "actor": actor,
        "subject": subject,
        "body_hash": sha256(body_text.encode()),
        "created_at": datetime.now(UTC).isoformat(timespec="microseconds"),
    }
    digest = record_hash(prev, fields)
    conn.execute(
        insert(audit_events).values(**fields, body=body_text, prev_hash=prev, record_hash=digest)
    )
    conn.execute(update(event_head).where(event_head.c.id == 1).values(seq=seq + 1, hash=digest))
    return int(seq + 1)


class EventLog:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.write_lock = WriteLock(engine)

    def record(self, kind: str, actor: str, subject: str | None, body: dict[str, Any]) -> int:
        """Append one event in its own transaction; returns its seq. ``actor`` is a principal
        name (or ``host``, or a user's pseudonym), never a raw user id."""
        with self.write_lock, self.engine.begin() as conn:
            return append_event(conn, kind, actor, subject, body)

    def rows(self, batch: int = 2000) -> Iterator[Any]:
        return rows_by_seq(self.engine, audit_events, batch)

    def events(self, *kinds: str) -> list[Event]:
        """The parsed events of ``kinds`` (all when none), oldest first."""
        return [
            Event(r.seq, r.kind, r.actor, r.subject, orjson.loads(r.body), r.created_at)
            for r in self.rows()
            if not kinds or r.kind in kinds
        ]

    def head(self) -> tuple[int, str]:
        with self.engine.connect() as conn:
            row = conn.execute(select(event_head.c.seq, event_head.c.hash)).first()
        return (0, GENESIS) if row is None else (int(row.seq), str(row.hash))


def verify_events(events: EventLog) -> tuple[int, str | None]:
    """Walk the event chain; returns (events checked, first problem or None). The head is read
    first, so events appended while this runs are checked but never reported as a mismatch."""
    return walk_chain(
        events.rows(),
        events.head(),
        CHAINED,
        "event",
        lambda row: f"event seq={row.seq} kind={row.kind}",
        lambda row: (
            "the event body was altered" if sha256(row.body.encode()) != row.body_hash else None
        ),
    )
