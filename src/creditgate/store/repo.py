"""The decision log: append-only, hash-chained, idempotent, erasable without breaking the chain.

Appends are serialised by updating the single ``chain_head`` row first in the transaction: on
SQLite that takes the database write lock, on PostgreSQL a row lock, so concurrent writers (threads,
uvicorn workers, several hosts) each see the previous record's hash and never fork the chain.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from types import SimpleNamespace
from typing import Any

import orjson
import psycopg
from sqlalchemy import Connection, Engine, Row, bindparam, select, update
from sqlalchemy.exc import IntegrityError

from creditgate.store.canonical import canonical, record_hash, sha256, tombstone
from creditgate.store.models import GENESIS, chain_head, consent_withdrawals, decisions
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


_COLUMNS = tuple(c.name for c in decisions.c)
_PG_LOCK = "UPDATE chain_head SET seq = seq WHERE id = 1 RETURNING seq, hash"
_PG_WITHDRAWN = "SELECT user_id FROM consent_withdrawals WHERE user_id = ANY(%s)"
_PG_BY_KEYS = "SELECT * FROM decisions WHERE idempotency_key = ANY(%s)"


@cache
def _append_sql(rows: int) -> str:
    """PostgreSQL: insert ``rows`` records and move the head in one statement (psycopg
    placeholders; plain text, as SQLAlchemy would compile a multi-row VALUES per batch)."""
    one = "(" + ", ".join(["%s"] * len(_COLUMNS)) + ")"
    return (
        f"WITH appended AS (INSERT INTO decisions ({', '.join(_COLUMNS)}) "
        f"VALUES {', '.join([one] * rows)}) "
        "UPDATE chain_head SET seq = %s, hash = %s WHERE id = 1"
    )


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


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

    @classmethod
    def of(
        cls, decision: dict[str, Any], inputs: dict[str, Any], key: str | None, erase: bool
    ) -> Pending:
        return cls(
            decision,
            canonical(inputs).decode(),
            key,
            erase,
            canonical(decision).decode(),
            now_iso(),
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
        return tombstone(self.created_at) if self.erase else self.inputs_json

    @property
    def inputs(self) -> dict[str, Any] | None:
        return None if self.erase else orjson.loads(self.inputs_json)


Appended = tuple[Stored, bool] | None


Prepared = tuple[Pending, dict[str, Any], dict[str, Any] | None]  # (pending, fields, inputs)


def _prepare(batch: list[Pending]) -> list[Prepared]:
    """What does not depend on the chain head (content hashes, parsed inputs), computed
    before the chain lock is taken: the lock is then held for the linking only."""
    return [(p, p.fields(), p.inputs) for p in batch]


def _chain(
    batch: list[Prepared], seq: int, prev: str, seen: dict[str, Stored], withdrawn: set[str]
) -> tuple[list[Appended], list[dict[str, Any]], int, str]:
    """Number and link the batch after head (``seq``, ``prev``): the results, the rows to
    insert and the new head."""
    out: list[Appended] = []
    rows = []
    for p, content, inputs in batch:
        if p.key is not None and p.key in seen:
            out.append((seen[p.key], False))
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
            seen[p.key] = stored
        out.append((stored, True))
    return out, rows, seq, prev


class DecisionLog:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.write_lock = WriteLock(engine)
        # PostgreSQL: two pipelined round trips on the raw psycopg connection (_append_pg).
        self.pipelined = engine.dialect.name == "postgresql"

    def append(
        self, decision: dict[str, Any], inputs: dict[str, Any], key: str | None, erase: bool
    ) -> Appended:
        """Store a decision; returns (stored, created). With an idempotency ``key`` already
        used, the earlier decision comes back and nothing is written. None: the user withdrew
        consent meanwhile (decide again without consent, with ``erase``)."""
        return self.append_many([Pending.of(decision, inputs, key, erase)])[0]

    def append_many(self, batch: list[Pending], conn: Connection | None = None) -> list[Appended]:
        """Append a batch in one transaction (group commit): one lock, one head update. On
        ``conn`` when given (the group writer keeps one open: no pool check-out per batch)."""
        if conn is None:
            with self.engine.connect() as own:
                return self.append_many(batch, own)
        try:
            if self.pipelined:
                return self._append_pg(batch, conn.connection.dbapi_connection)
            return self._append(batch, conn)
        except (IntegrityError, psycopg.IntegrityError):
            if len(batch) > 1:  # retry one by one so one bad record fails alone
                return [self.append_many([p], conn)[0] for p in batch]
            found = self.by_key(batch[0].key) if batch[0].key is not None else None
            if found is None:
                raise
            return [(found, False)]

    def _append(self, batch: list[Pending], conn: Connection) -> list[Appended]:
        keys = [p.key for p in batch if p.key is not None]
        users = [p.decision["user_id"] for p in batch if not p.erase]
        prepared = _prepare(batch)
        with self.write_lock, conn.begin():
            seq, prev = conn.execute(_LOCK_HEAD).one()
            # idempotency checked under the lock: a racing twin has committed by now
            seen = (
                {
                    r.idempotency_key: Stored.from_row(r)
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
        """PostgreSQL in two round trips: BEGIN, the head lock and the checks go out together
        (psycopg pipeline mode; each statement still sees what committed before the lock was
        granted), then the rows, the head update and COMMIT. Through SQLAlchemy these are
        six round trips, and the writer's time is mostly waiting for them."""
        keys = [p.key for p in batch if p.key is not None]
        users = [p.decision["user_id"] for p in batch if not p.erase]
        prepared = _prepare(batch)
        with self.write_lock:
            raw.autocommit = True  # BEGIN and COMMIT are sent explicitly, pipelined
            try:
                with raw.pipeline() as pipe:
                    raw.execute("BEGIN")
                    lock = raw.execute(_PG_LOCK)
                    gone = raw.execute(_PG_WITHDRAWN, (users,))
                    known = raw.execute(_PG_BY_KEYS, (keys,)) if keys else None
                    pipe.sync()
                    seq, prev = lock.fetchone()
                    withdrawn = {r[0] for r in gone.fetchall()}
                    seen = {}
                    if known is not None:
                        names = [c.name for c in known.description]
                        for r in known.fetchall():
                            row = SimpleNamespace(**dict(zip(names, r, strict=True)))
                            seen[row.idempotency_key] = Stored.from_row(row)
                    out, rows, seq, prev = _chain(prepared, seq, prev, seen, withdrawn)
                    if rows:
                        params = [r[c] for r in rows for c in _COLUMNS]
                        raw.execute(_append_sql(len(rows)), (*params, seq, prev))
                    raw.execute("COMMIT")
            except BaseException:
                with suppress(Exception):
                    raw.execute("ROLLBACK")
                raise
            finally:
                with suppress(Exception):  # the pool hands this connection out again
                    raw.autocommit = False
        return out

    def get(self, decision_id: str) -> Stored | None:
        with self.engine.connect() as conn:
            row = conn.execute(_BY_ID, {"id": decision_id}).first()
        return Stored.from_row(row) if row is not None else None

    def by_key(self, key: str) -> Stored | None:
        with self.engine.connect() as conn:
            row = conn.execute(_BY_KEY, {"key": key}).first()
        return Stored.from_row(row) if row is not None else None

    def erase_user(self, user_id: str) -> int:
        """Replace the stored inputs of ``user_id`` by a tombstone; hashes stay untouched.

        Call after the withdrawal is committed. The chain lock orders this after any append
        in flight: an append that checked withdrawals before they were committed has then
        committed too, and this UPDATE (a new statement, a new snapshot) erases its row."""
        with self.write_lock, self.engine.begin() as conn:
            conn.execute(_LOCK_HEAD)
            result = conn.execute(
                update(decisions)
                .where(decisions.c.user_id == user_id)
                .values(inputs=tombstone(now_iso()))
            )
        return int(result.rowcount or 0)

    def rows(self, batch: int = 2000) -> Iterator[Row[Any]]:
        with self.engine.connect() as conn:
            last = 0
            while True:
                chunk = conn.execute(
                    select(decisions)
                    .where(decisions.c.seq > last)
                    .order_by(decisions.c.seq)
                    .limit(batch)
                ).all()
                if not chunk:
                    return
                yield from chunk
                last = chunk[-1].seq


def verify(log: DecisionLog) -> tuple[int, str | None]:
    """Walk the chain; returns (records checked, first problem or None)."""
    prev, n = GENESIS, 0
    for row in log.rows():
        n += 1
        where = f"record seq={row.seq} decision_id={row.decision_id}"
        if row.seq != n:
            return n, f"{where}: sequence gap (expected seq {n})"
        if row.prev_hash != prev:
            return n, f"{where}: prev_hash does not match the previous record"
        fields = {name: getattr(row, name) for name in CHAINED}
        if record_hash(prev, fields) != row.record_hash:
            return n, f"{where}: record_hash does not match its fields"
        if sha256(row.decision.encode()) != row.decision_hash:
            return n, f"{where}: the stored decision was altered"
        inputs = orjson.loads(row.inputs)
        if not inputs.get("erased") and sha256(row.inputs.encode()) != row.inputs_hash:
            return n, f"{where}: the stored inputs were altered"
        prev = row.record_hash
    with log.engine.connect() as conn:
        head = conn.execute(select(chain_head.c.seq, chain_head.c.hash)).one()
    if head.seq != n or head.hash != prev:
        return n, f"chain head (seq {head.seq}) does not match the last record (seq {n})"
    return n, None
