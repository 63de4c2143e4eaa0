"""Real-time decisions taken under what is live: the part of a user's answer newer than the batch.

A user decided in real time (``POST /v1/decisions``) after the active snapshot was registered,
with the active policy and that snapshot's cutoffs, has the answer that decision gave; every
other user has the snapshot's. Each worker keeps the latest such decision per user (entry
visible or not, and its id) and reads the decisions appended since its last look on every
state refresh (``CREDITGATE_STATE_REFRESH_S``, 1 s by default), so a decision taken by any
worker is seen by the lookups of all of them within that period; the worker that took it
knows at once (``note``). The map starts empty when what is live changes and is filled from
the snapshot's registration point (``snapshots.since_seq``), never from the log's start.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import orjson

from creditgate.store.repo import DecisionLog

log = logging.getLogger("creditgate.service")
_PAGE = 10_000


class Latest(NamedTuple):
    entry_visible: bool
    decision_id: str


@dataclass
class RealTimeAnswers:
    """The latest decision per user under ``key`` (policy version, snapshot id or None)."""

    key: tuple[str | None, str | None]
    seq: int = 0  # the last log position read
    by_user: dict[str, Latest] = field(default_factory=dict)

    def counts(self, policy_version: str, inputs: dict[str, Any]) -> bool:
        """Was a decision with these inputs taken under ``key``? (The snapshot it was cut at
        is in its inputs, which ``replay`` also reads.)"""
        snapshot = inputs.get("snapshot")
        snapshot_id = snapshot.get("snapshot_id") if isinstance(snapshot, dict) else None
        return (policy_version, snapshot_id) == self.key

    def note(self, user_id: str, entry_visible: bool, decision_id: str) -> None:
        """A decision this worker just stored under ``key``."""
        self.by_user[user_id] = Latest(entry_visible, decision_id)

    def catch_up(self, decisions: DecisionLog) -> None:
        """Read the decisions appended since the last look (a page at a time)."""
        if self.key[0] is None:
            return
        while True:
            rows = decisions.since(self.seq, _PAGE)
            for row in rows:
                self._read(row)
            if rows:
                self.seq = int(rows[-1].seq)
            if len(rows) < _PAGE:
                return

    def _read(self, row: Any) -> None:
        if row.policy_version != self.key[0]:
            return
        decision = orjson.loads(row.decision)
        if decision.get("erased"):  # consent withdrawn: the entry is hidden anyway
            return
        inputs = decision.get("cutoffs")
        if inputs is None:  # stored before decisions said their cutoffs: ask the inputs
            inputs = _inputs_snapshot(row)
        elif inputs.get("source") == "snapshot":
            inputs = {"snapshot": {"snapshot_id": inputs.get("snapshot_id")}}
        else:
            inputs = {}
        if self.counts(row.policy_version, inputs):
            self.by_user[row.user_id] = Latest(bool(decision["entry_visible"]), row.decision_id)


def _inputs_snapshot(row: Any) -> dict[str, Any]:
    raw = getattr(row, "inputs", None)
    if raw is None:
        return {}
    try:
        found = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {}
    return found if isinstance(found, dict) else {}
