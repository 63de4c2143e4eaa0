"""Replay: decide a stored record again from its stored inputs and policy text.

A faithful replay needs the exact policy text (stored by version) and the exact inputs, which
include the whitelist snapshot's id and cutoffs when one was active; the decision id is reused
so the whole decision document must come out identical, its ``"cutoffs"`` field included (the
snapshot's as-of date from its catalog row). Records stored before a field existed
(``cutoffs``; the stable-entry fields ``LATER_FIELDS``) are compared without it. A person's
decision is not the engine's: it is derived again from its review row and the decision it
reviewed (``creditgate.human``), which is how it was recorded.

A decision taken while a champion/challenger experiment ran records ``experiment: {"id",
"arm"}`` in its decision and inputs: replay checks that the arm is the one the experiment's
salt and share assign the user, and that the record's policy and snapshot are that arm's
(``arm_problems``), then decides with them as with any record.

Parsing a policy text and compiling its deciders costs a few hundred milliseconds, the same
for every record decided with that text and those cutoffs: the deciders are kept by content
(``policy_decider``, ``cut_decider``), so replaying a decision (the console's decision page,
``creditgate replay``) costs one decision, not a policy load.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

import orjson

from creditgate.decider import Decider
from creditgate.experiment import assign
from creditgate.human import APPROVING, forced_offer, human_decision, is_human
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


@dataclass(frozen=True)
class Context:
    """What a stored decision was decided with: the decider (policy cut at the snapshot's
    cutoffs), the cutoffs field, the validated profile and the date."""

    decider: Decider
    cutoffs: dict[str, Any]
    row: dict[str, Any]
    as_of: date


def context(catalog: Catalog, stored: Stored) -> Context | ReplayResult:
    """Rebuild what ``stored`` was decided with from its inputs and the catalog, or the
    ``ReplayResult`` saying why it cannot be (erased, policy or snapshot missing)."""
    decision_id = stored.decision_id
    if stored.inputs is None:
        return ReplayResult(decision_id, "erased", [])
    policy_row = catalog.policy(stored.policy_version)
    if policy_row is None:
        return ReplayResult(decision_id, "missing", [f"policy {stored.policy_version}"])
    text = str(policy_row["text"])
    decider = policy_decider(stored.policy_version, text)
    snapshot = stored.inputs.get("snapshot")  # the service decided with a snapshot's cutoffs
    cutoffs = cutoffs_used(None)
    if snapshot is not None:
        row = catalog.snapshot(snapshot["snapshot_id"])
        if row is None:
            return ReplayResult(decision_id, "missing", [f"snapshot {snapshot['snapshot_id']}"])
        # the text quotes the snapshot's date (as of when its cutoffs hold)
        meta = str(row["meta"])
        as_of_snapshot = date.fromisoformat(orjson.loads(meta)["as_of"])
        record_cutoffs = orjson.dumps(snapshot["cutoffs"], option=orjson.OPT_SORT_KEYS)
        decider = cut_decider(stored.policy_version, text, record_cutoffs.decode(), meta)
        cutoffs = cutoffs_used(snapshot["snapshot_id"], as_of_snapshot, snapshot["cutoffs"])
    as_of = date.fromisoformat(stored.inputs["as_of"])
    profile = validate_profile(
        orjson.dumps(stored.inputs["profile"]), as_of, decider.policy, decider.regions
    )
    return Context(decider, cutoffs, dict(profile), as_of)


@lru_cache(maxsize=16)
def policy_decider(version: str, text: str) -> Decider:
    """The decider of a stored policy text, built once per (version, text)."""
    return Decider(parse_policy(text, f"<policy {version}>"))


@lru_cache(maxsize=64)
def cut_decider(version: str, text: str, cutoffs: str, meta: str) -> Decider:
    """The policy's decider cut at a record's class ``cutoffs`` (JSON, sorted keys) and at the
    city cutoffs of the snapshot's catalog ``meta`` (JSON): a city's own cutoffs come from the
    registered snapshot (content-hashed), not the record's inputs, as they are many and the
    same for every decision cut at them. Built once per distinct key."""
    found = orjson.loads(meta)
    as_of = date.fromisoformat(found["as_of"])
    cities = found.get("city_cutoffs", {})
    base = policy_decider(version, text)
    return decider_with_cutoffs(base, orjson.loads(cutoffs), as_of, cities)


def replay(log: DecisionLog, catalog: Catalog, decision_id: str) -> ReplayResult:
    """Decide ``decision_id`` again and compare; a person's decision (``kind: human``) is
    derived again from its review row and the decision it reviewed (``replay_human``)."""
    stored = log.get(decision_id)
    if stored is None:
        return ReplayResult(decision_id, "missing", [])
    if is_human(stored.decision):
        return replay_human(log, catalog, stored)
    found = context(catalog, stored)
    if isinstance(found, ReplayResult):
        return found
    decider, row, as_of = found.decider, found.row, found.as_of
    again = decider.decide(row, as_of, decision_id=decision_id)
    cutoffs = cutoffs_for(found.cutoffs, decider, row)
    fresh: dict[str, Any] = orjson.loads(orjson.dumps(again.to_dict() | {"cutoffs": cutoffs}))
    tag = stored.inputs.get("experiment") if stored.inputs is not None else None
    if tag is None:
        return _compare(stored, fresh)
    fresh["experiment"] = tag
    return _compare(stored, fresh, arm_problems(catalog, stored, tag))


def _compare(
    stored: Stored, fresh: dict[str, Any], problems: list[str] | None = None
) -> ReplayResult:
    old = {k: v for k, v in stored.decision.items() if k != "_internal"}
    fresh = {k: v for k, v in fresh.items() if k != "_internal"}
    for later in LATER_FIELDS:  # stored before the decision contract had the field
        if later not in old:
            fresh.pop(later, None)
    diffs = list(problems or []) + [
        f"{k}: stored {old.get(k)!r}, replayed {fresh.get(k)!r}"
        for k in sorted(set(old) | set(fresh))
        if old.get(k) != fresh.get(k)
    ]
    return ReplayResult(stored.decision_id, "different" if diffs else "identical", diffs)


def offer_for(catalog: Catalog, contested: Stored) -> dict[str, Any] | ReplayResult | None:
    """The terms a person's invitation of ``contested`` takes from the policy (None: the
    contested decision had its own and no product family's offers; ``human.forced_offer``)."""
    own = contested.decision
    if own.get("limit_cny") is not None and "offers" not in own:
        return None
    found = context(catalog, contested)
    if isinstance(found, ReplayResult):
        return found
    return forced_offer(found.decider, found.row, found.as_of)


def replay_human(log: DecisionLog, catalog: Catalog, stored: Stored) -> ReplayResult:
    """A person's decision, derived again: from the review row (resolution, operator, when)
    and the decision it reviewed, by the same function that recorded it."""
    decision_id = stored.decision_id
    human = stored.decision["human"]
    review = catalog.review(str(human.get("review_id")))
    if review is None:
        return ReplayResult(decision_id, "missing", [f"review {human.get('review_id')}"])
    contested = log.get(review["decision_id"])
    if contested is None:
        return ReplayResult(decision_id, "missing", [f"decision {review['decision_id']}"])
    if stored.inputs is None or contested.inputs is None:
        return ReplayResult(decision_id, "erased", [])
    offer = None
    if review["resolution"] in APPROVING:
        found = offer_for(catalog, contested)
        if isinstance(found, ReplayResult):
            return ReplayResult(decision_id, found.status, found.differences)
        offer = found
    facts = {
        "review_id": review["review_id"],
        "resolution": review["resolution"],
        "operator": review["resolved_by"],
        "decided_at": review["resolved_at"],
    }
    fresh = human_decision(contested.decision, facts, decision_id, offer)
    result = _compare(stored, orjson.loads(orjson.dumps(fresh)))
    if review["human_decision_id"] != decision_id:  # the row names another decision
        problem = f"review {review['review_id']} recorded {review['human_decision_id']!r}"
        return ReplayResult(decision_id, "different", [*result.differences, problem])
    return result


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
