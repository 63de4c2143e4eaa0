"""Replay: decide a stored record again from its stored inputs and policy text.

A faithful replay needs the exact policy text (stored by version) and the exact inputs, which
include the whitelist snapshot's id and cutoffs when one was active; the decision id is reused
so the whole decision document must come out identical, its ``"cutoffs"`` field included (the
snapshot's as-of date from its catalog row). Records stored before a field existed
(``cutoffs``; the stable-entry fields ``LATER_FIELDS``) are compared without it.

A decision taken while a champion/challenger experiment ran records ``experiment: {"id",
"arm"}`` in its decision and inputs: replay checks that the arm is the one the experiment's
salt and share assign the user, and that the record's policy and snapshot are that arm's
(``arm_problems``), then decides with them as with any record.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import orjson

from creditgate.decider import Decider
from creditgate.experiment import assign
from creditgate.policy.loader import parse_policy
from creditgate.profile import validate_profile
from creditgate.snapshot_decider import cutoffs_for, cutoffs_used, decider_with_cutoffs
from creditgate.store.catalog import Catalog
from creditgate.store.experiments import get as get_experiment
from creditgate.store.repo import DecisionLog, Stored

LATER_FIELDS = ("cutoffs", "entry", "retained", "notices", "invited_since")
"""Decision fields added after records were first stored: absent from an old record, they
are left out of the comparison (the fields both have must still agree)."""


@dataclass(frozen=True)
class ReplayResult:
    decision_id: str
    status: str  # "identical", "different", "erased", "missing"
    differences: list[str]


def replay(log: DecisionLog, catalog: Catalog, decision_id: str) -> ReplayResult:
    stored = log.get(decision_id)
    if stored is None:
        return ReplayResult(decision_id, "missing", [])
    if stored.inputs is None:
        return ReplayResult(decision_id, "erased", [])
    policy_row = catalog.policy(stored.policy_version)
    if policy_row is None:
        return ReplayResult(decision_id, "missing", [f"policy {stored.policy_version}"])
    decider = Decider(parse_policy(policy_row["text"], f"<policy {stored.policy_version}>"))
    snapshot = stored.inputs.get("snapshot")  # the service decided with a snapshot's cutoffs
    cutoffs = cutoffs_used(None)
    if snapshot is not None:
        row = catalog.snapshot(snapshot["snapshot_id"])
        if row is None:
            return ReplayResult(decision_id, "missing", [f"snapshot {snapshot['snapshot_id']}"])
        # the text quotes the snapshot's date (as of when its cutoffs hold)
        meta = orjson.loads(row["meta"])
        as_of_snapshot = date.fromisoformat(meta["as_of"])
        # a city's own cutoffs come from the registered snapshot (content-hashed), not the
        # record's inputs: they are many, and the same for every decision cut at them
        cities = meta.get("city_cutoffs", {})
        decider = decider_with_cutoffs(decider, snapshot["cutoffs"], as_of_snapshot, cities)
        cutoffs = cutoffs_used(snapshot["snapshot_id"], as_of_snapshot, snapshot["cutoffs"])
    as_of = date.fromisoformat(stored.inputs["as_of"])
    row = validate_profile(
        orjson.dumps(stored.inputs["profile"]), as_of, decider.policy, decider.regions
    )
    again = decider.decide(row, as_of, decision_id=decision_id)
    cutoffs = cutoffs_for(cutoffs, decider, row)
    fresh: dict[str, Any] = orjson.loads(orjson.dumps(again.to_dict() | {"cutoffs": cutoffs}))
    tag = stored.inputs.get("experiment")
    arm_diffs = arm_problems(catalog, stored, tag) if tag is not None else []
    if tag is not None:
        fresh["experiment"] = tag
    old = {k: v for k, v in stored.decision.items() if k != "_internal"}
    for later in LATER_FIELDS:  # stored before the decision contract had the field
        if later not in old:
            fresh.pop(later, None)
    diffs = arm_diffs + [
        f"{k}: stored {old.get(k)!r}, replayed {fresh.get(k)!r}"
        for k in sorted(set(old) | set(fresh))
        if old.get(k) != fresh.get(k)
    ]
    return ReplayResult(decision_id, "different" if diffs else "identical", diffs)


def arm_problems(catalog: Catalog, stored: Stored, tag: Any) -> list[str]:
    """Why the record's experiment arm does not hold: not the experiment's assignment of
    the user, or decided with another policy or snapshot than that arm's. Empty when it holds."""
    found = get_experiment(catalog.engine, str(tag.get("id"))) if isinstance(tag, dict) else None
    if found is None:
        return [f"experiment: {tag!r} is not a stored experiment"]
    arm = assign(found.salt, found.share, stored.user_id)
    if tag.get("arm") != arm:
        return [f"experiment: stored arm {tag.get('arm')!r}, the assignment gives {arm!r}"]
    pair = (
        (found.challenger_policy, found.challenger_snapshot)
        if arm == "challenger"
        else (found.champion_policy, found.champion_snapshot)
    )
    snapshot = (stored.inputs or {}).get("snapshot") or {}
    used = (stored.policy_version, snapshot.get("snapshot_id"))
    if used != pair:
        return [f"experiment: decided with {used!r}, the {arm} arm is {pair!r}"]
    return []
