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

from creditgate.batch.whitelist import apply_cutoffs
from creditgate.decider import Decider
from creditgate.snapshot import SnapshotError, SnapshotMeta


def decider_with_cutoffs(
    decider: Decider, cutoffs: Mapping[str, int], as_of: date | None = None
) -> Decider:
    """``decider`` cutting at ``cutoffs`` (region class -> score) on top of its policy;
    ``as_of`` is the snapshot's evaluation date, which the reasons and recourse quote."""
    return Decider(apply_cutoffs(decider.policy, dict(cutoffs), as_of), decider.regions)


def snapshot_decider(decider: Decider, meta: SnapshotMeta, source: str = "snapshot") -> Decider:
    """``decider`` with a snapshot's cutoffs; ``SnapshotError`` when the snapshot was made
    with another policy (its cutoffs would mean nothing for this scorecard)."""
    if not matches(decider, meta):
        policy = decider.policy
        raise SnapshotError(
            f"{source}: snapshot of policy {meta.policy_name} {meta.policy_version}, "
            f"not of {policy.name} {policy.version}"
        )
    return decider_with_cutoffs(decider, meta.cutoffs, meta.as_of)


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
