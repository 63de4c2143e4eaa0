"""Proposed activations and their decisions (four eyes): who proposed a policy or snapshot
going live, who approved or rejected it, and when.

A change is decided once: the status moves from ``proposed`` to ``approved`` or ``rejected``
in one conditional UPDATE, so two approvers racing each other cannot both act on it. Each step
is also an event of the audit chain (``store/events.py``), appended in the same transaction as
the row it describes: ``proposed``, then ``approved`` with one ``activated`` per row of
``active`` it sets (what ``audit verify`` compares the ``active`` table with; a policy and the
snapshot paired with it are two) or ``rejected``.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import orjson
from sqlalchemy import Connection, delete, insert, select, update

from creditgate.store.canonical import sha256
from creditgate.store.events import EventLog, append_event
from creditgate.store.models import active, changes
from creditgate.store.repo import now_iso

Kind = Literal["policy", "snapshot", "experiment_start", "experiment_stop"]
Status = Literal["proposed", "approved", "rejected"]
Guard = Callable[[dict[str, str]], str | None]  # the active rows -> why not, or None
Write = Callable[[Connection], None]  # more rows the approval writes in its transaction


class ActivationRefusedError(Exception):
    """The approval's guard refused what would be active then; nothing was changed."""


def _row(row: Any) -> dict[str, Any]:
    out = dict(row._mapping)
    out["effect"] = orjson.loads(out["effect"])
    return out


class ChangeLog:
    def __init__(self, events: EventLog) -> None:
        self.engine, self.events = events.engine, events

    def propose(
        self, kind: Kind, target: str, actor: str, effect: dict[str, Any]
    ) -> dict[str, Any]:
        """Record a proposal by ``actor``; returns the stored change."""
        effect_json = orjson.dumps(effect).decode()
        row: dict[str, Any] = {
            "change_id": "c_" + secrets.token_hex(10),
            "kind": kind,
            "target": target,
            "status": "proposed",
            "proposed_by": actor,
            "proposed_at": now_iso(),
            "effect": effect_json,
            "decided_by": None,
            "decided_at": None,
            "note": None,
        }
        body = {
            "change_id": row["change_id"],
            "kind": kind,
            "target": target,
            "effect_sha256": sha256(effect_json.encode()),
        }
        with self.events.write_lock, self.engine.begin() as conn:
            conn.execute(insert(changes).values(**row))
            append_event(conn, "proposed", actor, None, body)
        return row | {"effect": effect}

    def get(self, change_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(changes).where(changes.c.change_id == change_id)).first()
        return _row(row) if row is not None else None

    def list(self, status: Status | None, limit: int) -> list[dict[str, Any]]:
        query = select(changes).order_by(changes.c.proposed_at.desc()).limit(limit)
        if status is not None:
            query = query.where(changes.c.status == status)
        with self.engine.connect() as conn:
            return [_row(r) for r in conn.execute(query).all()]

    def decide(
        self,
        change: dict[str, Any],
        status: Literal["approved", "rejected"],
        by: str,
        note: str | None,
        activate: Mapping[str, str] | None = None,
        guard: Guard | None = None,
        deactivate: Sequence[str] = (),
        write: Write | None = None,
    ) -> bool:
        """Move a proposed change to ``status`` and, when approved, make ``activate`` (default:
        its target) active, in one transaction: an approval never stands without its
        activation or the reverse. ``guard`` sees the ``active`` rows read in that transaction
        after the event head is locked (so no other approval can change them before it
        commits) and may refuse: ``ActivationRefusedError``, nothing changed. An approval
        also removes the ``active`` rows ``deactivate`` (a ``deactivated`` event each) and
        runs ``write`` in the same transaction (an experiment's row). False when the change
        was not (or no longer) open."""
        kind, target, change_id = change["kind"], change["target"], change["change_id"]
        body = {"change_id": change_id, "kind": kind, "target": target}
        going = dict(activate) if activate is not None else {kind: target}
        with self.events.write_lock, self.engine.begin() as conn:
            result = conn.execute(
                update(changes)
                .where(changes.c.change_id == change_id, changes.c.status == "proposed")
                .values(status=status, decided_by=by, decided_at=now_iso(), note=note)
            )
            if not result.rowcount:
                return False
            append_event(conn, status, by, None, body | {"proposed_by": change["proposed_by"]})
            if status == "approved":
                if guard is not None:
                    now = {r.key: r.value for r in conn.execute(select(active)).all()}
                    problem = guard(now)
                    if problem is not None:
                        raise ActivationRefusedError(problem)  # rolls the transaction back
                for key, value in going.items():
                    conn.execute(delete(active).where(active.c.key == key))
                    conn.execute(insert(active).values(key=key, value=value))
                    append_event(conn, "activated", by, None, {"key": key, "value": value} | body)
                for key in deactivate:
                    conn.execute(delete(active).where(active.c.key == key))
                    append_event(conn, "deactivated", by, None, {"key": key} | body)
                if write is not None:
                    write(conn)
        return True
