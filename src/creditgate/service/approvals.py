"""Four eyes on what goes live: a policy or snapshot is proposed by one person and approved by
another, with the effect of the change shown to the approver.

Who may do what:
- ``operator`` or ``admin`` proposes (``POST /v1/admin/policies/{v}/activate``,
  ``POST /v1/admin/snapshots/{id}/activate``);
- an ``admin`` other than the proposer approves; any operator or admin rejects (the proposer
  may withdraw their own proposal that way);
- a policy goes live together with a snapshot made for it, named in its proposal, or alone
  when no snapshot of another policy stays active; a snapshot alone only when it was made for
  the active policy (``service/pairing.py``): checked at proposal and again inside the
  approving transaction (409 either way);
- a **routine refresh** needs no second person: a snapshot made with the active policy, while
  a snapshot of that same policy is active, whose invited share moves by at most
  ``CREDITGATE_ROUTINE_REFRESH_TOLERANCE`` (absolute, default 0.01 = one percentage point).
  It is approved by the rule ``rule:routine-refresh`` and recorded as such. Anything else (a
  new policy, a first snapshot, a snapshot of another policy, a larger move) waits for a person.
- activation at start-up (``serve --policy/--snapshot``, the demo) is the host owner's act and
  does not pass through here (``ops.bootstrap``).
- while a champion/challenger experiment runs, no policy or snapshot is activated (409): its
  champion stays live until it is stopped. Experiments are started and stopped by changes of
  their own kinds, approved the same way (``service/experiments.py``).
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import HTTPException

from creditgate.policy.lint import Level, lint
from creditgate.service.deps import Services
from creditgate.service.logs import actor_name, audit_log
from creditgate.service.pairing import Activation, refusal, summary
from creditgate.service.security import Principal
from creditgate.service.snapshot_files import (
    SnapshotChangedError,
    read_registered,
    snapshot_directory,
)
from creditgate.snapshot import SnapshotError
from creditgate.store.changes import ActivationRefusedError, Kind
from creditgate.store.experiments import ACTIVE_KEY

ROUTINE_RULE = "rule:routine-refresh"
EXPERIMENT_KINDS = ("experiment_start", "experiment_stop")


def running_refusal(active: dict[str, str]) -> str | None:
    """Why no policy or snapshot may be activated now, or None (no experiment runs)."""
    if ACTIVE_KEY in active:
        return (
            f"experiment {active[ACTIVE_KEY]} is running: its champion stays live until it "
            "is stopped (POST /v1/admin/experiments/{id}/stop, approved)"
        )
    return None


def _share(invited: int, meta: dict[str, Any]) -> float | None:
    decided = meta.get("counts", {}).get("decided")
    return invited / decided if decided else None


def snapshot_view(row: dict[str, Any]) -> dict[str, Any]:
    """A registered snapshot as a proposal's effect shows it."""
    meta = orjson.loads(row["meta"])
    return {
        "snapshot_id": row["snapshot_id"],
        "policy_version": meta["policy_version"],
        "as_of": meta["as_of"],
        "cutoffs": meta["cutoffs"],
        "invited": row["invited"],
        "decided": meta.get("counts", {}).get("decided"),
        "invited_share": _share(row["invited"], meta),
    }


def snapshot_effect(services: Services, snapshot_id: str) -> dict[str, Any]:
    """What activating the snapshot changes: its counts and cutoffs against the active
    snapshot's, whether it was made with the active policy, whether the routine rule applies."""
    row = services.catalog.snapshot(snapshot_id)
    if row is None:
        raise HTTPException(404, "no such snapshot")
    check_snapshot_file(services, row)
    live = services.catalog.active()
    proposed = snapshot_view(row)
    current_row = services.catalog.snapshot(live["snapshot"]) if "snapshot" in live else None
    current = snapshot_view(current_row) if current_row is not None else None
    policy = live.get("policy")
    for_policy = proposed["policy_version"] == policy
    change = (
        proposed["invited_share"] - current["invited_share"]
        if current is not None
        and proposed["invited_share"] is not None
        and current["invited_share"] is not None
        else None
    )
    tolerance = services.settings.routine_refresh_tolerance
    routine = (
        for_policy
        and current is not None
        and current["policy_version"] == policy
        and current["snapshot_id"] != snapshot_id
        and change is not None
        and abs(change) <= tolerance
    )
    return {
        "snapshot": proposed,
        "active_snapshot": current,
        "active_policy": policy,
        "made_with_active_policy": for_policy,
        "invited_share_change": change,
        "routine_refresh": routine,
        "routine_refresh_tolerance": tolerance,
        "pairing": summary(services.catalog, live, Activation(snapshot=snapshot_id)),
    }


def policy_effect(
    services: Services, version: str, snapshot_id: str | None = None
) -> dict[str, Any]:
    """What activating the policy (with the snapshot ``snapshot_id`` made for it, if named)
    changes: its lint findings, its floor cutoffs against the active policy's, the snapshot
    going live with it, and the pairing in words."""
    stored = services.catalog.policy(version)
    if stored is None:
        raise HTTPException(404, "no such policy version")
    paired = None
    if snapshot_id is not None:
        row = services.catalog.snapshot(snapshot_id)
        if row is None:
            raise HTTPException(404, "no such snapshot")
        check_snapshot_file(services, row)
        paired = snapshot_view(row)
    decider = services.state.decider(version)  # compiles: a broken policy is never proposed
    found = lint(decider.policy, decider.regions)
    live = services.catalog.active()
    current = live.get("policy")
    snap_row = services.catalog.snapshot(live["snapshot"]) if "snapshot" in live else None
    snap_version = orjson.loads(snap_row["meta"])["policy_version"] if snap_row else None
    current_cutoffs = (
        dict(services.state.decider(current).policy.scorecard.cutoffs) if current else None
    )
    return {
        "policy": {"version": version, "name": stored["name"], "sha256": stored["sha256"]},
        "active_policy": current,
        "cutoffs": dict(decider.policy.scorecard.cutoffs),
        "active_cutoffs": current_cutoffs,
        "lint": {
            "errors": sum(f.level is Level.ERROR for f in found),
            "warnings": sum(f.level is Level.WARNING for f in found),
            "findings": [f"{f.level.value}: {f.check}: line {f.line}: {f.message}" for f in found],
        },
        "active_snapshot_applies": snap_version == version if snap_row else None,
        "snapshot": paired,  # goes live with the policy, in the same transaction
        "pairing": summary(services.catalog, live, Activation(version, snapshot_id)),
    }


def propose(
    services: Services, kind: Kind, target: str, by: Principal, snapshot_id: str | None = None
) -> dict[str, Any]:
    """Record the proposal with its effect; a routine snapshot refresh is approved (and goes
    live) at once by the rule. What is already live cannot be proposed, nor a policy beside
    another policy's snapshot (409). ``snapshot_id``: for a policy, the snapshot of it that
    goes live with it."""
    live = services.catalog.active()
    if live.get(kind) == target:
        raise HTTPException(409, f"that {kind} is already active")
    running = running_refusal(live)
    if running is not None:
        raise HTTPException(409, running)
    effect = (
        policy_effect(services, target, snapshot_id)
        if kind == "policy"
        else snapshot_effect(services, target)
    )
    problem = refusal(services.catalog, live, activation(kind, target, snapshot_id))
    if problem is not None:
        raise HTTPException(409, problem)
    if kind == "policy" and effect["lint"]["errors"]:
        raise HTTPException(422, "the policy has lint errors: it cannot be proposed")
    change = services.changes.propose(kind, target, actor_name(by, services.secret), effect)
    audit_log(f"{kind}.propose", change["proposed_by"], target, change=change["change_id"])
    if kind == "snapshot" and effect["routine_refresh"]:
        return apply(services, change, ROUTINE_RULE, "routine refresh within tolerance")
    return change


def approve(services: Services, change_id: str, by: Principal, note: str | None) -> dict[str, Any]:
    change = _open_change(services, change_id)
    actor = actor_name(by, services.secret)
    if actor == change["proposed_by"]:
        raise HTTPException(403, "a change must be approved by someone other than its proposer")
    return apply(services, change, actor, note)


def reject(services: Services, change_id: str, by: Principal, note: str | None) -> dict[str, Any]:
    change = _open_change(services, change_id)
    actor = actor_name(by, services.secret)
    if not services.changes.decide(change, "rejected", actor, note):
        raise HTTPException(409, "the change was decided meanwhile")
    audit_log(f"{change['kind']}.reject", actor, change["target"], change=change_id)
    return _stored(services, change_id)


def activation(kind: Kind, target: str, snapshot_id: str | None = None) -> Activation:
    """What a change makes active: a policy (with its paired snapshot) or a snapshot."""
    return Activation(target, snapshot_id) if kind == "policy" else Activation(snapshot=target)


def paired_snapshot(change: dict[str, Any]) -> str | None:
    """The snapshot proposed with a policy (recorded in its effect, whose hash is in the
    ``proposed`` event)."""
    paired = change["effect"].get("snapshot") if change["kind"] == "policy" else None
    return str(paired["snapshot_id"]) if paired else None


def apply(services: Services, change: dict[str, Any], by: str, note: str | None) -> dict[str, Any]:
    """Check the targets again (they may have been tampered with since the proposal), then
    approve and activate in one transaction that re-checks the pairing against what is active
    then (409 if it no longer holds), and switch this worker at once (others within
    ``state_refresh_s``). An experiment's start or stop goes to ``experiments.apply``."""
    if change["kind"] in EXPERIMENT_KINDS:
        from creditgate.service import experiments  # it builds on this module's checks

        experiments.apply(services, change, by, note)
        return _stored(services, change["change_id"])
    going = activation(change["kind"], change["target"], paired_snapshot(change))
    if going.policy is not None:
        services.state.decider(going.policy)
    if going.snapshot is not None:
        row = services.catalog.snapshot(going.snapshot)
        if row is None:
            raise HTTPException(404, "no such snapshot")
        check_snapshot_file(services, row)
    try:
        decided = services.changes.decide(
            change,
            "approved",
            by,
            note,
            activate=going.values(),
            guard=lambda now: running_refusal(now) or refusal(services.catalog, now, going),
        )
    except ActivationRefusedError as exc:
        raise HTTPException(409, str(exc)) from None
    if not decided:
        raise HTTPException(409, "the change was decided meanwhile")
    for key, value in going.values().items():
        audit_log(f"{key}.activate", by, value, change=change["change_id"])
    services.state.refresh()
    return _stored(services, change["change_id"])


def check_snapshot_file(services: Services, row: dict[str, Any]) -> None:
    """The snapshot's file must still hold the registered content: 409 if it changed, 422 if
    it is gone or unsafe (``snapshot_files``)."""
    try:
        read_registered(snapshot_directory(services.settings), row, services.settings.db_url)
    except SnapshotChangedError as exc:
        raise HTTPException(409, str(exc)) from None
    except SnapshotError as exc:
        raise HTTPException(422, str(exc)) from None


def _open_change(services: Services, change_id: str) -> dict[str, Any]:
    change = services.changes.get(change_id)
    if change is None:
        raise HTTPException(404, "no such change")
    if change["status"] != "proposed":
        raise HTTPException(409, f"the change is already {change['status']}")
    return change


def _stored(services: Services, change_id: str) -> dict[str, Any]:
    change = services.changes.get(change_id)
    assert change is not None
    return change
