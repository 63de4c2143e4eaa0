"""A decider that applies a whitelist snapshot's cutoffs (CAPACITY / REGION_QUOTA).

The one place that turns a snapshot into real-time decisions: ``decide --snapshot``, the
service and ``replay`` all call it, so they cannot drift apart from each other or from the
batch that wrote the snapshot (``batch.whitelist.apply_cutoffs``). ``cutoffs_used`` is the
decision's ``"cutoffs"`` field, which says which cutoffs a decision was cut at.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any
from weakref import WeakKeyDictionary

from creditgate.batch.whitelist import apply_cutoffs
from creditgate.decider import Decider
from creditgate.snapshot import SnapshotError, SnapshotMeta

# (class, canonical city) -> cutoff, per decider cut at city cutoffs: built once, not per call
_CITY_TABLES: WeakKeyDictionary[Decider, dict[tuple[str, str], int]] = WeakKeyDictionary()


def decider_with_cutoffs(
    decider: Decider,
    cutoffs: Mapping[str, int],
    as_of: date | None = None,
    city_cutoffs: Mapping[str, Mapping[str, int]] | None = None,
) -> Decider:
    """``decider`` cutting at ``cutoffs`` (region class -> score) and ``city_cutoffs``
    (partial class -> canonical city -> score, first where one applies) on top of its policy;
    ``as_of`` is the snapshot's evaluation date, which the reasons and recourse quote."""
    policy = apply_cutoffs(decider.policy, dict(cutoffs), as_of, city_cutoffs)
    return Decider(policy, decider.regions)


def snapshot_decider(decider: Decider, meta: SnapshotMeta, source: str = "snapshot") -> Decider:
    """``decider`` with a snapshot's cutoffs; ``SnapshotError`` when the snapshot was made
    with another policy (its cutoffs would mean nothing for this scorecard)."""
    if not matches(decider, meta):
        policy = decider.policy
        raise SnapshotError(
            f"{source}: snapshot of policy {meta.policy_name} {meta.policy_version}, "
            f"not of {policy.name} {policy.version}"
        )
    return decider_with_cutoffs(decider, meta.cutoffs, meta.as_of, meta.city_cutoffs)


def matches(decider: Decider, meta: SnapshotMeta) -> bool:
    """Was the snapshot derived from ``decider``'s policy (name and version)?"""
    return (meta.policy_name, meta.policy_version) == (decider.policy.name, decider.policy.version)


def cutoffs_used(
    snapshot_id: str | None, as_of: date | None = None, cutoffs: Mapping[str, int] | None = None
) -> dict[str, Any]:
    """The decision's ``"cutoffs"`` field: the snapshot's (id, evaluation date, score cutoff
    per region class) or, with no snapshot, ``{"source": "policy"}`` (the policy's floors).
    Callers build it once per snapshot and share it between decisions: never mutate it."""
    if snapshot_id is None:
        return {"source": "policy"}
    if as_of is None or cutoffs is None:
        raise ValueError("a snapshot's cutoffs need its as_of and cutoffs")
    return {
        "source": "snapshot",
        "snapshot_id": snapshot_id,
        "snapshot_as_of": as_of.isoformat(),
        "by_class": dict(cutoffs),
    }


def city_cutoff(decider: Decider, row: Mapping[str, Any]) -> tuple[str, int] | None:
    """(canonical city, cutoff) when ``decider`` cuts at a snapshot cutoff of the user's own
    city (a partly open class's city quota), else None: the class's cutoff applies."""
    if not decider.policy.scorecard.capacity_city_cutoffs:
        return None
    table = _CITY_TABLES.get(decider)
    if table is None:
        cities = decider.policy.scorecard.capacity_city_cutoffs
        table = _CITY_TABLES[decider] = {(c, city): v for c, city, v in cities}
    regions = decider.regions
    known = regions.lookup(str(row.get("city", "")))
    if known is None:
        return None
    region_class = regions.class_of(known.name, bool(row.get("is_county_area")))
    if region_class is None:
        return None
    found = table.get((region_class.value, known.name))
    return None if found is None else (known.name, found)


def cutoffs_for(
    cutoffs: dict[str, Any], decider: Decider, row: Mapping[str, Any]
) -> dict[str, Any]:
    """The decision's ``"cutoffs"`` field for one user: ``cutoffs`` (``cutoffs_used``, shared)
    plus ``"city": {"name", "cutoff"}`` when the user's city has a cutoff of its own."""
    own = city_cutoff(decider, row) if cutoffs.get("source") == "snapshot" else None
    if own is None:
        return cutoffs
    return {**cutoffs, "city": {"name": own[0], "cutoff": own[1]}}
