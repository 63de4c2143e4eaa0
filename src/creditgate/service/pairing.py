"""What goes live together: a policy with a snapshot made for it, never with another's.

A snapshot's invited set and cutoffs are cut for one policy (name and version). Serving a
policy beside another policy's snapshot gives two truths: the entry lookup answers from the
snapshot's invited set while decisions cut at the policy's floors. So every activation is
checked for the pair it leaves active, and refused when they do not belong together:

- a policy goes live together with a snapshot of it named in its proposal (``snapshot_id``),
  both in one transaction; alone only while no snapshot is active (decisions then cut at the
  policy's floors and say so, ``"cutoffs": {"source": "policy"}``) or while the active one
  is already of it;
- a snapshot goes live alone only when it was made for the active policy (the routine refresh
  is such a case); one of another policy goes with its policy's proposal.

The same check runs when a change is proposed, again when it is approved (inside the approving
transaction, against what is active then: ``store.changes.ChangeLog.decide``) and at start-up
(``ops.bootstrap``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import orjson

from creditgate.store.catalog import Catalog

PolicyKey = tuple[str, str]  # (name, version): what a snapshot records it was made for


class PairingError(ValueError):
    """The activation would leave a policy live beside another policy's snapshot."""


@dataclass(frozen=True)
class Activation:
    """What one change or start-up makes active; None keeps what is active."""

    policy: str | None = None  # a policy version
    snapshot: str | None = None  # a snapshot id

    def values(self) -> dict[str, str]:
        """The ``active`` rows it writes (key -> value), policy first."""
        pairs = (("policy", self.policy), ("snapshot", self.snapshot))
        return {key: value for key, value in pairs if value is not None}


def made_for(catalog: Catalog, snapshot_id: str) -> PolicyKey | None:
    """The policy a registered snapshot was made for, None when it is not registered."""
    row = catalog.snapshot(snapshot_id)
    if row is None:
        return None
    meta = orjson.loads(row["meta"])
    return str(meta["policy_name"]), str(meta["policy_version"])


def _policy_key(catalog: Catalog, version: str) -> PolicyKey | None:
    row = catalog.policy(version)
    return (str(row["name"]), version) if row is not None else None


def _named(policy: PolicyKey) -> str:
    return f"policy {policy[0]} version {policy[1]}"


def refusal(
    catalog: Catalog, active: Mapping[str, str], going: Activation, name_it: str = "snapshot_id"
) -> str | None:
    """Why ``going`` may not go live over ``active`` (the ``active`` rows), or None when the
    policy and snapshot it leaves active belong together. ``name_it``: how the caller names
    the snapshot that goes with a policy (the request field, or ``--snapshot`` at start-up)."""
    version = going.policy or active.get("policy")
    snapshot = going.snapshot or active.get("snapshot")
    if snapshot is None:
        return None  # a policy alone: its floor cutoffs, said in every decision
    snapshot_for = made_for(catalog, snapshot)
    if snapshot_for is None:
        return f"snapshot {snapshot} is not registered"
    policy = _policy_key(catalog, version) if version is not None else None
    if policy is None:
        return f"snapshot {snapshot} cannot go live without its {_named(snapshot_for)}"
    if snapshot_for == policy:
        return None
    if going.policy is not None and going.snapshot is None:
        return (
            f"the active snapshot {snapshot} was made for {_named(snapshot_for)}: activate "
            f"policy {policy[1]} together with a snapshot of {_named(policy)} ({name_it})"
        )
    if going.policy is not None:
        return (
            f"snapshot {snapshot} was made for {_named(snapshot_for)}: activate policy "
            f"{policy[1]} together with a snapshot of {_named(policy)}"
        )
    return (
        f"snapshot {snapshot} was made for {_named(snapshot_for)}, not for the active "
        f"{_named(policy)}: activate it together with its policy (policy "
        f"{snapshot_for[1]} with {name_it} {snapshot})"
    )


def summary(catalog: Catalog, active: Mapping[str, str], going: Activation) -> str:
    """The pairing in one sentence, shown with a proposal: which policy and snapshot would be
    live together and at which cutoffs decisions would then cut."""
    version = going.policy or active.get("policy")
    snapshot = going.snapshot or active.get("snapshot")
    problem = refusal(catalog, active, going)
    if problem is not None:
        return "refused: " + problem
    if snapshot is None:
        return (
            f"policy {version} alone (no snapshot active): decisions cut at the policy's floor "
            "cutoffs until a snapshot of it goes live"
        )
    together = "together, in one step" if going.policy and going.snapshot else "together"
    return (
        f"policy {version} and its snapshot {snapshot} live {together}: decisions and the "
        "entry lookup cut at the snapshot's cutoffs"
    )
