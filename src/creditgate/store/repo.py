"""The decision log: append-only, hash-chained, idempotent, erasable without breaking the chain.

Appends are serialised by updating the single ``chain_head`` row first in the transaction: on
SQLite that takes the database write lock, on PostgreSQL a row lock, so concurrent writers (threads,
uvicorn workers, several hosts) each see the previous record's hash and never fork the chain.
On PostgreSQL the linking itself runs in the database, in the same round trip as the lock and
the commit, so the lock is never held while a client waits for the network or the GIL.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
import psycopg
from sqlalchemy import Connection, Engine, Row, bindparam, select, update
from sqlalchemy.exc import IntegrityError

from creditgate.store.canonical import (
    canonical,
    record_hash,
    sha256,
    split_at_seq,
    tombstone,
    walk_chain,
)
from creditgate.store.db import rows_by_seq
from creditgate.store.events import EventLog, append_event
from creditgate.store.models import chain_head, consent_withdrawals, decisions, reviews
from creditgate.store.writelock import WriteLock

CHAINED = (
    "seq",
    "decision_id",
    "user_id",
    "policy_version",
    "as_of",
    "idempotency_key",
    "inputs_hash",
    "decision_hash",
    "created_at",
)


# Built once: constructing SQLAlchemy statements per call costs more than executing them.
# An UPDATE, not a SELECT, so that it takes the write lock (SQLite) / row lock (PostgreSQL).
_LOCK_HEAD = (
    update(chain_head)
    .where(chain_head.c.id == 1)
    .values(seq=chain_head.c.seq)
    .returning(chain_head.c.seq, chain_head.c.hash)
)
_SET_HEAD = (
    update(chain_head)
    .where(chain_head.c.id == 1)
    .values(seq=bindparam("seq"), hash=bindparam("head"))
)
_WITHDRAWN = select(consent_withdrawals.c.user_id).where(
    consent_withdrawals.c.user_id.in_(bindparam("users", expanding=True))
)
_BY_KEYS = select(decisions).where(
    decisions.c.idempotency_key.in_(bindparam("keys", expanding=True))
)
_INSERT = decisions.insert()
_BY_KEY = select(decisions).where(decisions.c.idempotency_key == bindparam("key"))
_BY_ID = select(decisions).where(decisions.c.decision_id == bindparam("id"))
_ERASE = (
    update(decisions)
    .where(decisions.c.decision_id == bindparam("b_id"))
    .values(inputs=bindparam("b_inputs"), decision=bindparam("b_doc"))
)
# what a worker reads of a record to learn the real-time answers (``since``, ``by_ids``)
_LOG_COLUMNS = (
    decisions.c.seq,
    decisions.c.user_id,
    decisions.c.decision_id,
    decisions.c.policy_version,
    decisions.c.decision,
    decisions.c.inputs,
)


# PostgreSQL appends: the database function creditgate_append (migration 0002) locks the
# head, filters, numbers, links and inserts the batch; called in autocommit, lock, append and
# commit are one round trip and the lock is held for server-side work only, never for a client
# round trip or for this process getting the GIL back. The batch goes as typed arrays in binary
# (text format would have psycopg escape every quote of every JSON document in Python).
_PG_BATCH = (
    ("decision_id", "text"),
    ("user_id", "text"),
    ("policy_version", "text"),
    ("as_of", "text"),
    ("idempotency_key", "text"),
    ("inputs", "text"),
    ("inputs_hash", "text"),
    ("decision", "text"),
    ("decision_hash", "text"),
    ("created_at", "text"),
    ("erase", "boolean"),
    ("before_seq", "bytea"),
    ("after_seq", "bytea"),
    ("request_hash", "text"),
)
_PG_APPEND = (
    "SELECT appended_seq, appended_id FROM creditgate_append("
    + ", ".join(f"%b::{kind}[]" for _, kind in _PG_BATCH)
    + ")"
)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


# What a decision keeps after its user withdrew consent: what retention requires (which
# decision, for whom, under which policy and date, with which outcome and reason codes).
# Everything derived from the person's data (scores, observed values, recourse, terms) goes.
RETAINED = (  # "experiment": an erased decision still counts in its arm
    "experiment",
    "decision_id",
    "user_id",
    "policy",
    "as_of",
    "outcome",
    "entry_visible",
    "review",
    "cutoffs",  # which cutoffs it was cut at: no personal data
    "kind",  # "human" for a person's decision (service/reviewing.py)
    "human",  # which review, resolution and operator: no personal data of the user
)
ERASED_REVIEW_TEXT = "[erased]"


def redact(decision: dict[str, Any], erased_at: str) -> dict[str, Any]:
    """The retained part of a decision document, with the personal fields emptied."""
    kept = {k: decision[k] for k in RETAINED if k in decision}
    return kept | {
        "score": None,
        "pd": None,
        "limit_cny": None,
        "daily_rate": None,
        "apr": None,
        "terms": [],
        "reasons": [
            {"code": r["code"], "layer": r.get("layer")} for r in decision.get("reasons", [])
        ],
        "recourse": [],
        "alternatives": [],
        "erased": True,
        "erased_at": erased_at,
    }


@dataclass(frozen=True, slots=True)
class Stored:
    """A stored decision; ``inputs`` is None once erased."""

    seq: int
    decision_id: str
    user_id: str
    policy_version: str
    decision: dict[str, Any]
    inputs: dict[str, Any] | None

    @classmethod
    def from_row(cls, row: Any) -> Stored:
        """From a SQLAlchemy row (or anything with the columns as attributes)."""
        inputs = orjson.loads(row.inputs)
        return cls(
            row.seq,
            row.decision_id,
            row.user_id,
            row.policy_version,
            orjson.loads(row.decision),
            None if inputs.get("erased") else inputs,
        )


@dataclass(frozen=True, slots=True)
class Pending:
    """A decision ready to append, serialised by the caller; hashed by the writer thread
    (hashlib releases the GIL on large inputs, and taking it back on the event loop while
    the writer runs costs milliseconds)."""

    decision: dict[str, Any]
    inputs_json: str
    key: str | None
    erase: bool
    decision_json: str
    created_at: str
    request_hash: str | None = None  # what ``key`` is bound to: a repeat must match it

    @classmethod
    def of(
        cls,
        decision: dict[str, Any],
        inputs: dict[str, Any],
        key: str | None,
        erase: bool,
        request_hash: str | None = None,
    ) -> Pending:
        """With ``erase`` (the user withdrew consent) the inputs are never stored and the stored
        decision is the redacted one; the hashes then commit to what is stored, so the record
        verifies like any other (the caller still gets the whole decision back)."""
        created_at = now_iso()
        if erase:
            return cls(
                decision,
                tombstone(created_at),
                key,
                erase,
                canonical(redact(decision, created_at)).decode(),
                created_at,
                request_hash,
            )
        return cls(
            decision,
            canonical(inputs).decode(),
            key,
            erase,
            canonical(decision).decode(),
            created_at,
            request_hash,
        )

    def fields(self) -> dict[str, Any]:
        d = self.decision
        return {
            "decision_id": d["decision_id"],
            "user_id": d["user_id"],
            "policy_version": d["policy"]["version"],
            "as_of": d["as_of"],
            "idempotency_key": self.key,
            "inputs_hash": sha256(self.inputs_json.encode()),
            "decision_hash": sha256(self.decision_json.encode()),
            "created_at": self.created_at,
        }

    @property
    def stored_inputs(self) -> str:
        return self.inputs_json  # the tombstone when erased (``of``)

    @property
    def inputs(self) -> dict[str, Any] | None:
        return None if self.erase else orjson.loads(self.inputs_json)


KEY_CONFLICT: Literal["key-conflict"] = "key-conflict"
# (stored, created); None: consent withdrawn meanwhile; KEY_CONFLICT: the idempotency key was
# used for another request.
Appended = tuple[Stored, bool] | Literal["key-conflict"] | None


def _replay(pending: Pending, stored: Stored, request_hash: str | None) -> Appended:
    """A repeated key: the stored decision when the request is the same, else a conflict."""
    return (stored, False) if request_hash == pending.request_hash else KEY_CONFLICT


Prepared = tuple[Pending, dict[str, Any], dict[str, Any] | None]  # (pending, fields, inputs)


def _prepare(batch: list[Pending]) -> list[Prepared]:
    """What does not depend on the chain head (content hashes, parsed inputs), computed
    before the chain lock is taken: the lock is then held for the linking only."""
    return [(p, p.fields(), p.inputs) for p in batch]


def _chain(
    batch: list[Prepared],
    seq: int,
    prev: str,
    seen: dict[str, tuple[Stored, str | None]],
    withdrawn: set[str],
) -> tuple[list[Appended], list[dict[str, Any]], int, str]:
    """Number and link the batch after head (``seq``, ``prev``): the results, the rows to
    insert and the new head."""
    out: list[Appended] = []
    rows = []
    for p, content, inputs in batch:
        if p.key is not None and p.key in seen:
            out.append(_replay(p, *seen[p.key]))
            continue
        if not p.erase and p.decision["user_id"] in withdrawn:
            out.append(None)  # consent withdrawn: the caller decides again
            continue
        seq += 1
        fields = content | {"seq": seq}
        digest = record_hash(prev, fields)
        rows.append(
            fields
            | {
                "prev_hash": prev,
                "record_hash": digest,
                "decision": p.decision_json,
                "inputs": p.stored_inputs,
                "request_hash": p.request_hash,
            }
        )
        prev = digest
        stored = Stored(
            seq,
            p.decision["decision_id"],
            p.decision["user_id"],
            fields["policy_version"],
            p.decision,
            inputs,
        )
        if p.key is not None:
            seen[p.key] = (stored, p.request_hash)
        out.append((stored, True))
    return out, rows, seq, prev


class DecisionLog:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.write_lock = WriteLock(engine)
        self.events = EventLog(engine)
        # PostgreSQL: creditgate_append on the raw psycopg connection, one round trip.
        self.linked_in_database = engine.dialect.name == "postgresql"

    def append(
        self,
        decision: dict[str, Any],
        inputs: dict[str, Any],
        key: str | None,
        erase: bool,
        request_hash: str | None = None,
    ) -> Appended:
        """Store a decision; returns (stored, created). With an idempotency ``key`` already
        used for the same ``request_hash``, the earlier decision comes back and nothing is
        written; used for another request: ``KEY_CONFLICT``. None: the user withdrew consent
        meanwhile (decide again without consent, with ``erase``)."""
        return self.append_many([Pending.of(decision, inputs, key, erase, request_hash)])[0]

    def append_many(self, batch: list[Pending], conn: Connection | None = None) -> list[Appended]:
        """Append a batch in one transaction (group commit): one lock, one head update. On
        ``conn`` when given (the group writer keeps one open: no pool check-out per batch)."""
        if conn is None:
            with self.engine.connect() as own:
                return self.append_many(batch, own)
        try:
            if self.linked_in_database:
                return self._append_pg(batch, conn.connection.dbapi_connection)
            return self._append(batch, conn)
        except (IntegrityError, psycopg.IntegrityError):
            if len(batch) > 1:  # retry one by one so one bad record fails alone
                return [self.append_many([p], conn)[0] for p in batch]
            found = self._by_key(batch[0].key) if batch[0].key is not None else None
            if found is None:
                raise
            return [_replay(batch[0], *found)]

    def _append(self, batch: list[Pending], conn: Connection) -> list[Appended]:
        keys = [p.key for p in batch if p.key is not None]
        users = [p.decision["user_id"] for p in batch if not p.erase]
        prepared = _prepare(batch)
        with self.write_lock, conn.begin():
            seq, prev = conn.execute(_LOCK_HEAD).one()
            # idempotency checked under the lock: a racing twin has committed by now
            seen = (
                {
                    r.idempotency_key: (Stored.from_row(r), r.request_hash)
                    for r in conn.execute(_BY_KEYS, {"keys": keys})
                }
                if keys
                else {}
            )
            withdrawn = (
                set(conn.execute(_WITHDRAWN, {"users": users}).scalars()) if users else set()
            )
            out, rows, seq, prev = _chain(prepared, seq, prev, seen, withdrawn)
            if rows:
                conn.execute(_INSERT, rows)
                conn.execute(_SET_HEAD, {"seq": seq, "head": prev})
        return out

    def _append_pg(self, batch: list[Pending], raw: Any) -> list[Appended]:
        """PostgreSQL in one round trip (``creditgate_append`` in autocommit). A repeated
        idempotency key is looked up after the commit (a stored record never changes but for
        erasure)."""
        prepared = _prepare(batch)
        columns: list[list[Any]] = [[] for _ in _PG_BATCH]
        for p, fields, _ in prepared:
            before, after = split_at_seq(fields)
            record = fields | {
                "inputs": p.stored_inputs,
                "decision": p.decision_json,
                "erase": p.erase,
                "before_seq": before,
                "after_seq": after,
                "request_hash": p.request_hash,
            }
            for column, (name, _) in zip(columns, _PG_BATCH, strict=True):
                column.append(record[name])
        with self.write_lock:
            raw.autocommit = True  # one statement, its own transaction
            try:
                numbered = {
                    d: seq for seq, d in raw.execute(_PG_APPEND, columns, prepare=True).fetchall()
                }
            finally:
                with suppress(Exception):  # the pool hands this connection out again
                    raw.autocommit = False
        out: list[Appended] = []
        for p, fields, inputs in prepared:
            seq = numbered.get(fields["decision_id"])
            if seq is not None:
                d = p.decision
                version = fields["policy_version"]
                out.append((Stored(seq, d["decision_id"], d["user_id"], version, d, inputs), True))
            elif p.key is not None and (found := self._by_key(p.key)) is not None:
                out.append(_replay(p, *found))
            else:
                out.append(None)  # consent withdrawn: the caller decides again
        return out

    def get(self, decision_id: str) -> Stored | None:
        with self.engine.connect() as conn:
            row = conn.execute(_BY_ID, {"id": decision_id}).first()
        return Stored.from_row(row) if row is not None else None

    def since(self, seq: int, limit: int = 10_000) -> list[Any]:
        """Up to ``limit`` decisions after ``seq``, in order: (seq, user_id, decision_id,
        policy_version, decision, inputs). What a worker reads to learn the real-time answers."""
        query = (
            select(*_LOG_COLUMNS)
            .where(decisions.c.seq > seq)
            .order_by(decisions.c.seq)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return list(conn.execute(query).all())

    def by_ids(self, ids: list[str]) -> list[Any]:
        """The decisions of ``ids`` in log order, with the columns ``since`` reads."""
        if not ids:
            return []
        query = (
            select(*_LOG_COLUMNS).where(decisions.c.decision_id.in_(ids)).order_by(decisions.c.seq)
        )
        with self.engine.connect() as conn:
            return list(conn.execute(query).all())

    def by_key(self, key: str) -> Stored | None:
        """The decision stored under an idempotency key (as stored: see ``scoped_key``)."""
        found = self._by_key(key)
        return found[0] if found is not None else None

    def _by_key(self, key: str) -> tuple[Stored, str | None] | None:
        with self.engine.connect() as conn:
            row = conn.execute(_BY_KEY, {"key": key}).first()
        return (Stored.from_row(row), row.request_hash) if row is not None else None

    def erase_user(self, user_id: str, actor: str = "host", subject: str | None = None) -> int:
        """Erase what ``user_id``'s decisions and reviews hold about them: the inputs become a
        tombstone, the decision document its ``redact``-ed part, review texts are dropped; the
        hash chain stays untouched. An ``erasure`` event (``subject``: the user's pseudonym)
        lists the erased decision ids in the same transaction, which is what lets ``verify``
        accept records whose hashes can no longer be recomputed. Returns how many decisions
        were erased now (those erased before are skipped).

        Call after the withdrawal is committed. The chain lock orders this after any append
        in flight: an append that checked withdrawals before they were committed has then
        committed too, and this UPDATE (a new statement, a new snapshot) erases its row."""
        erased_at = now_iso()
        with self.write_lock, self.engine.begin() as conn:
            conn.execute(_LOCK_HEAD)
            found = conn.execute(
                select(decisions.c.decision_id, decisions.c.decision).where(
                    decisions.c.user_id == user_id
                )
            ).all()
            docs = {r.decision_id: orjson.loads(r.decision) for r in found}
            targets = [
                {"b_id": d, "b_doc": canonical(redact(doc, erased_at)).decode()}
                for d, doc in docs.items()
                if not doc.get("erased")
            ]
            if targets:
                conn.execute(_ERASE, [t | {"b_inputs": tombstone(erased_at)} for t in targets])
            texts = conn.execute(
                update(reviews)
                .where(reviews.c.user_id == user_id)
                .values(reason=ERASED_REVIEW_TEXT, note=None)
            )
            body = {
                "user": subject,
                "decisions": sorted(t["b_id"] for t in targets),
                "reviews": int(texts.rowcount or 0),
            }
            append_event(conn, "erasure", actor, subject, body)
        return len(targets)

    def rows(self, batch: int = 2000) -> Iterator[Row[Any]]:
        return rows_by_seq(self.engine, decisions, batch)


def erased_by_events(events: EventLog) -> set[str]:
    """The decision ids that ``erasure`` events declare erased."""
    return {d for e in events.events("erasure") for d in e.body.get("decisions", [])}


def verify(log: DecisionLog, erased: set[str] | None = None) -> tuple[int, str | None]:
    """Walk the chain; returns (records checked, first problem or None).

    The content hashes of a decision listed in an erasure event (``erased``, read from the
    event chain when not given) are not recomputed, only its link; any other record must hash
    to what it stores, so replacing inputs by a tombstone without an erasure event is named.
    The head is read first: appends made while this runs are checked too, never reported."""
    if erased is None:
        erased = erased_by_events(log.events)
    with log.engine.connect() as conn:
        head = conn.execute(
            select(chain_head.c.seq, chain_head.c.hash).where(chain_head.c.id == 1)
        ).one()
    return walk_chain(
        log.rows(),
        (int(head.seq), str(head.hash)),
        CHAINED,
        "record",
        lambda row: f"record seq={row.seq} decision_id={row.decision_id}",
        lambda row: None if row.decision_id in erased else _content_problem(row),
    )


def _content_problem(row: Any) -> str | None:
    if sha256(row.decision.encode()) != row.decision_hash:
        if orjson.loads(row.decision).get("erased"):
            return "the decision was redacted without an erasure event"
        return "the stored decision was altered"
    if sha256(row.inputs.encode()) != row.inputs_hash:
        if orjson.loads(row.inputs).get("erased"):
            return "the inputs were replaced by a tombstone without an erasure event (fake erasure)"
        return "the stored inputs were altered"
    return None
