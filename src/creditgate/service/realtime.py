"""Real-time decisions taken under what is live: the part of a user's answer newer than the batch.

A user decided in real time (``POST /v1/decisions``) after the active snapshot was registered,
with the active policy and that snapshot's cutoffs, has the answer that decision gave; every
other user has the snapshot's. Each worker keeps the latest such decision per user (entry
visible or not, and its id) and reads the decisions appended since its last look on every
state refresh (``CREDITGATE_STATE_REFRESH_S``, 1 s by default), so a decision taken by any
worker is seen by the lookups of all of them within that period; the worker that took it
knows at once (``note``). The map starts empty when what is live changes and is filled from
the snapshot's registration point (``snapshots.since_seq``), never from the log's start.

A person's decision (``kind: human``, ``service/reviewing.py``) is the user's answer, whatever
is live, for ``CREDITGATE_HUMAN_DECISION_DAYS`` (90 by default) from when it was made: a new
snapshot does not drop it (the map is seeded with the human decisions of reviews resolved
within the period, ``seed``, before it reads from the snapshot's registration point), and a
later real-time decision replaces it only when the data changed (another profile than the
one reviewed, the held-invitation fields aside) or it fails a gate or fraud rule the reviewed
decision did not (``HARD_LAYERS``); a later decision on the same data is kept aside
(``shadowed``) and becomes the answer when the period ends. After its period a person's
decision is an ordinary one: the answer while it is the latest under the live key.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

import orjson

from creditgate.human import HARD_LAYERS, is_human
from creditgate.store.canonical import canonical, sha256
from creditgate.store.catalog import Catalog
from creditgate.store.repo import DecisionLog, Stored

log = logging.getLogger("creditgate.service")
_PAGE = 10_000


class Latest(NamedTuple):
    entry_visible: bool
    decision_id: str


HELD = ("invited_since", "invited_limit_cny")  # set from the snapshot in force, not the user
DAY_S = 86_400.0


class Human(NamedTuple):
    """A person's decision in force: until when, and what it reviewed (to tell whether a
    later decision is on other data or fails a new gate)."""

    latest: Latest
    seq: int
    until: float  # unix seconds
    profile: str  # sha256 of the reviewed profile, held-invitation fields aside
    codes: frozenset[str]  # the reviewed decision's reason codes
    live: bool  # cut at what is live: still the latest decision when its period ends


def profile_digest(inputs: Mapping[str, Any] | None) -> str:
    """The identity of a decision's data: its profile without the held-invitation fields."""
    profile = inputs.get("profile") if inputs is not None else None
    if not isinstance(profile, dict):
        return ""
    return sha256(canonical({k: v for k, v in profile.items() if k not in HELD}))


def _until(decision: Mapping[str, Any], days: float) -> float:
    decided = datetime.fromisoformat(str(decision["human"]["decided_at"]))
    return decided.timestamp() + days * DAY_S


@dataclass
class RealTimeAnswers:
    """The latest decision per user under ``key`` (policy version, snapshot id or None)."""

    key: tuple[str | None, str | None]
    seq: int = 0  # the last log position read
    by_user: dict[str, Latest] = field(default_factory=dict)
    days: float = 90.0  # how long a person's decision outranks later snapshots
    humans: dict[str, Human] = field(default_factory=dict)  # in force
    shadowed: dict[str, Latest] = field(default_factory=dict)  # outranked by ``humans``

    def counts(self, policy_version: str, inputs: dict[str, Any]) -> bool:
        """Was a decision with these inputs taken under ``key``? (The snapshot it was cut at
        is in its inputs, which ``replay`` also reads.)"""
        snapshot = inputs.get("snapshot")
        snapshot_id = snapshot.get("snapshot_id") if isinstance(snapshot, dict) else None
        return (policy_version, snapshot_id) == self.key

    def note(self, stored: Stored) -> None:
        """A decision this worker just stored under ``key`` (a person's decision in force
        stays the answer unless this one supersedes it, as ``catch_up`` would find)."""
        self._automated(
            stored.seq, stored.user_id, stored.decision_id, stored.decision, stored.inputs
        )

    def note_human(self, stored: Stored) -> None:
        """A person's decision this worker just stored."""
        self._human(stored.seq, stored.user_id, stored.decision_id, stored.decision, stored.inputs)

    def seed(self, decisions: DecisionLog, catalog: Catalog) -> None:
        """Read the human decisions still in force (from the reviews resolved within the
        period): those recorded before the snapshot's registration point too."""
        since = datetime.fromtimestamp(time.time() - self.days * DAY_S).astimezone()
        ids = catalog.human_decisions_since(since.isoformat(timespec="microseconds"))
        for row in decisions.by_ids(ids):
            if row.seq <= self.seq:  # later ones are read in log order by ``catch_up``
                self._read(row)

    def expire(self, now: float | None = None) -> None:
        """End the human decisions whose period is over: a decision they kept aside is the
        answer again; else one cut at what is live stays, as the latest decision."""
        now = time.time() if now is None else now
        for user, human in [(u, h) for u, h in self.humans.items() if h.until <= now]:
            del self.humans[user]
            if self.by_user.get(user) != human.latest:
                continue
            shadow = self.shadowed.pop(user, None)
            if shadow is not None:
                self.by_user[user] = shadow
            elif not human.live:
                del self.by_user[user]

    def catch_up(self, decisions: DecisionLog) -> None:
        """Read the decisions appended since the last look (a page at a time)."""
        if self.key[0] is None:
            return
        self.expire()
        while True:
            rows = decisions.since(self.seq, _PAGE)
            for row in rows:
                self._read(row)
            if rows:
                self.seq = int(rows[-1].seq)
            if len(rows) < _PAGE:
                return

    def _read(self, row: Any) -> None:
        human = row.user_id in self.humans
        if row.policy_version != self.key[0] and not human and b'"human"' not in _raw(row):
            return
        decision = orjson.loads(row.decision)
        if decision.get("erased"):  # consent withdrawn: the entry is hidden anyway
            return
        if is_human(decision):
            inputs = _inputs_snapshot(row)
            self._human(row.seq, row.user_id, row.decision_id, decision, inputs)
            return
        if row.policy_version != self.key[0]:
            return
        inputs = decision.get("cutoffs")
        if inputs is None:  # stored before decisions said their cutoffs: ask the inputs
            inputs = _inputs_snapshot(row)
        elif inputs.get("source") == "snapshot":
            inputs = {"snapshot": {"snapshot_id": inputs.get("snapshot_id")}}
        else:
            inputs = {}
        if self.counts(row.policy_version, inputs):
            found = _inputs_snapshot(row) if row.user_id in self.humans else None
            self._automated(row.seq, row.user_id, row.decision_id, decision, found)

    def _automated(
        self,
        seq: int,
        user_id: str,
        decision_id: str,
        decision: Mapping[str, Any],
        inputs: Mapping[str, Any] | None,
    ) -> None:
        latest = Latest(bool(decision["entry_visible"]), decision_id)
        found = self.humans.get(user_id)
        if found is not None and (seq < found.seq or not _supersedes(found, decision, inputs)):
            self.shadowed[user_id] = latest  # the person's decision stays the answer
            return
        self.humans.pop(user_id, None)
        self.shadowed.pop(user_id, None)
        self.by_user[user_id] = latest

    def _human(
        self,
        seq: int,
        user_id: str,
        decision_id: str,
        decision: dict[str, Any],
        inputs: Mapping[str, Any] | None,
    ) -> None:
        cut = decision.get("cutoffs") or {}
        snapshot_id = cut.get("snapshot_id") if cut.get("source") == "snapshot" else None
        live = (decision["policy"]["version"], snapshot_id) == self.key
        latest = Latest(bool(decision["entry_visible"]), decision_id)
        held = self.humans.get(user_id)
        if held is not None and held.seq > seq:
            return  # a later person's decision is in force
        until = _until(decision, self.days)
        if until <= time.time():  # its period is over: an ordinary decision
            if live:
                self.by_user[user_id] = latest
            return
        codes = frozenset(decision["human"].get("reviewed_reasons", ()))
        digest = profile_digest(inputs)
        self.humans[user_id] = Human(latest, seq, until, digest, codes, live)
        self.shadowed.pop(user_id, None)
        self.by_user[user_id] = latest


def _raw(row: Any) -> bytes:
    raw = row.decision
    return raw.encode() if isinstance(raw, str) else bytes(raw)


def _supersedes(
    human: Human, decision: Mapping[str, Any], inputs: Mapping[str, Any] | None
) -> bool:
    """A later decision replaces a person's when its data differ from what the person
    reviewed, or it fails a gate or fraud rule the reviewed decision did not."""
    if profile_digest(inputs) != human.profile:
        return True
    return any(
        r.get("layer") in HARD_LAYERS and r.get("code") not in human.codes
        for r in decision.get("reasons", ())
    )


def _inputs_snapshot(row: Any) -> dict[str, Any]:
    raw = getattr(row, "inputs", None)
    if raw is None:
        return {}
    try:
        found = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {}
    return found if isinstance(found, dict) else {}
