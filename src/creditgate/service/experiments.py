"""Champion/challenger experiments as four-eyes changes: started and stopped exactly like an
activation (``approvals``): one person proposes, with the effect; another admin approves.

Starting names a challenger policy version, its own registered snapshot and a share in
(0, 0.5]; the champion is what is active at the proposal (policy and snapshot). The challenger
snapshot must be made for the challenger policy by the same batch run over the same
population as the champion's snapshot: the same ``input_fingerprint`` and ``as_of`` in its
metadata (409 otherwise), so each arm decides the same users with its own cutoffs. A salt is
drawn at the proposal; the approval writes the ``experiments`` row and the ``active`` row
``experiment`` in its transaction, after checking again that the champion is still live and
no other experiment runs. While one runs, activating a policy or snapshot is refused (409):
the champion is fixed until the experiment stops. Stopping (``experiment_stop``) removes the
``active`` row: every user is then decided and answered by the champion again.
"""

from __future__ import annotations

import secrets
from typing import Any

import orjson
from fastapi import HTTPException
from sqlalchemy import Connection

from creditgate.experiment import new_salt, share_problem
from creditgate.service.approvals import (
    check_snapshot_file,
    running_refusal,
    snapshot_view,
)
from creditgate.service.deps import Services
from creditgate.service.logs import actor_name, audit_log
from creditgate.service.pairing import made_for
from creditgate.service.security import Principal
from creditgate.store.changes import ActivationRefusedError, Kind
from creditgate.store.experiments import ACTIVE_KEY, Experiment, get, record_start, record_stop

START: Kind = "experiment_start"
STOP: Kind = "experiment_stop"
POPULATION = ("input_fingerprint", "as_of")  # what "made by the same batch run" compares


def _population_problem(champion: dict[str, Any], challenger: dict[str, Any]) -> str | None:
    champ, chall = orjson.loads(champion["meta"]), orjson.loads(challenger["meta"])
    differing = [k for k in POPULATION if champ.get(k) != chall.get(k)]
    if not differing:
        return None
    return (
        f"snapshot {challenger['snapshot_id']} was not made by the same batch run over the "
        f"same population as the champion snapshot {champion['snapshot_id']}: its "
        f"{' and '.join(differing)} differ (as_of {chall.get('as_of')} vs {champ.get('as_of')})"
    )


def start_effect(
    services: Services, challenger_policy: str, challenger_snapshot: str, share: float, by: str
) -> dict[str, Any]:
    """The experiment a proposal would start (with a new salt) and the two arms side by side,
    or an HTTP refusal naming what is wrong."""
    problem = share_problem(share)
    if problem is not None:
        raise HTTPException(422, problem)
    catalog = services.catalog
    stored = catalog.policy(challenger_policy)
    if stored is None:
        raise HTTPException(422, f"challenger policy version {challenger_policy} is not stored")
    chall_row = catalog.snapshot(challenger_snapshot)
    if chall_row is None:
        raise HTTPException(422, f"challenger snapshot {challenger_snapshot} is not registered")
    live = catalog.active()
    refused = running_refusal(live)
    if refused is not None:
        raise HTTPException(409, refused)
    if "policy" not in live or "snapshot" not in live:
        raise HTTPException(409, "an experiment needs an active policy and snapshot: the champion")
    champ_row = catalog.snapshot(live["snapshot"])
    assert champ_row is not None
    if (live["policy"], live["snapshot"]) == (challenger_policy, challenger_snapshot):
        raise HTTPException(422, "the challenger is the champion: name another policy or snapshot")
    if made_for(catalog, challenger_snapshot) != (stored["name"], challenger_policy):
        raise HTTPException(
            409,
            f"snapshot {challenger_snapshot} was not made for the challenger policy "
            f"{challenger_policy}: run the batch with that policy",
        )
    problem = _population_problem(champ_row, chall_row)
    if problem is not None:
        raise HTTPException(409, problem)
    check_snapshot_file(services, chall_row)
    decider = services.state.decider(challenger_policy)  # compiles: a broken one is refused
    del decider
    plan = {
        "experiment_id": "x_" + secrets.token_hex(10),
        "champion_policy": live["policy"],
        "champion_snapshot": live["snapshot"],
        "challenger_policy": challenger_policy,
        "challenger_snapshot": challenger_snapshot,
        "share": share,
        "salt": new_salt(),
        "proposed_by": by,
    }
    return {
        "experiment": plan,
        "champion": snapshot_view(champ_row),
        "challenger": snapshot_view(chall_row),
        "summary": (
            f"a share {share:g} of users (by a hash of their id and the salt) decided and "
            f"answered by policy {challenger_policy} with snapshot {challenger_snapshot}; "
            f"the rest by the champion, policy {live['policy']} with snapshot {live['snapshot']}"
        ),
    }


def propose_start(
    services: Services,
    challenger_policy: str,
    challenger_snapshot: str,
    share: float,
    caller: Principal,
) -> dict[str, Any]:
    by = actor_name(caller, services.secret)
    effect = start_effect(services, challenger_policy, challenger_snapshot, share, by)
    plan = effect["experiment"]
    change = services.changes.propose(START, plan["experiment_id"], by, effect)
    audit_log("experiment.propose_start", by, plan["experiment_id"], change=change["change_id"])
    return change


def propose_stop(services: Services, experiment_id: str, caller: Principal) -> dict[str, Any]:
    found = get(services.engine, experiment_id)
    if found is None:
        raise HTTPException(404, "no such experiment")
    if services.catalog.active().get(ACTIVE_KEY) != experiment_id:
        raise HTTPException(409, f"experiment {experiment_id} is not running")
    by = actor_name(caller, services.secret)
    effect = {
        "experiment": experiment_view(found),
        "summary": (
            f"every user decided and answered by the champion again: policy "
            f"{found.champion_policy} with snapshot {found.champion_snapshot}"
        ),
    }
    change = services.changes.propose(STOP, experiment_id, by, effect)
    audit_log("experiment.propose_stop", by, experiment_id, change=change["change_id"])
    return change


def apply(services: Services, change: dict[str, Any], by: str, note: str | None) -> None:
    """Approve an experiment change: start or stop in the approval's transaction, after the
    guard checks what is active then (409 if it no longer allows it); this worker switches
    at once, the others within ``state_refresh_s``."""
    target = change["target"]
    if change["kind"] == START:
        plan = dict(change["effect"]["experiment"])
        row = services.catalog.snapshot(plan["challenger_snapshot"])
        if row is None:
            raise HTTPException(404, "no such snapshot")
        check_snapshot_file(services, row)

        def start_guard(now: dict[str, str]) -> str | None:
            champion = (plan["champion_policy"], plan["champion_snapshot"])
            return running_refusal(now) or (
                None
                if (now.get("policy"), now.get("snapshot")) == champion
                else "the champion it was proposed against is no longer live: propose again"
            )

        def start(conn: Connection) -> None:
            record_start(conn, plan, by)

        activate: dict[str, str] = {ACTIVE_KEY: target}
        deactivate: tuple[str, ...] = ()
        guard, write = start_guard, start
    else:

        def stop_guard(now: dict[str, str]) -> str | None:
            running = now.get(ACTIVE_KEY) == target
            return None if running else f"experiment {target} is not running"

        def stop(conn: Connection) -> None:
            record_stop(conn, target, by)

        activate, deactivate, guard, write = {}, (ACTIVE_KEY,), stop_guard, stop
    try:
        decided = services.changes.decide(
            change, "approved", by, note, activate, guard, deactivate, write
        )
    except ActivationRefusedError as exc:
        raise HTTPException(409, str(exc)) from None
    if not decided:
        raise HTTPException(409, "the change was decided meanwhile")
    audit_log(f"{change['kind'].replace('_', '.')}", by, target, change=change["change_id"])
    services.state.refresh()


def experiment_view(found: Experiment) -> dict[str, Any]:
    """An experiment as the API shows it (the salt stays in the store)."""
    return {
        "experiment_id": found.experiment_id,
        "status": found.status,
        "champion": {"policy": found.champion_policy, "snapshot": found.champion_snapshot},
        "challenger": {"policy": found.challenger_policy, "snapshot": found.challenger_snapshot},
        "share": found.share,
        "proposed_by": found.proposed_by,
        "started_by": found.started_by,
        "started_at": found.started_at,
        "stopped_by": found.stopped_by,
        "stopped_at": found.stopped_at,
        "change_id": None,
    }


def proposed_view(change: dict[str, Any]) -> dict[str, Any]:
    """A start proposal not yet approved, in the shape of ``experiment_view``."""
    plan = change["effect"]["experiment"]
    return {
        "experiment_id": plan["experiment_id"],
        "status": "proposed",
        "champion": {"policy": plan["champion_policy"], "snapshot": plan["champion_snapshot"]},
        "challenger": {
            "policy": plan["challenger_policy"],
            "snapshot": plan["challenger_snapshot"],
        },
        "share": plan["share"],
        "proposed_by": change["proposed_by"],
        "started_by": None,
        "started_at": None,
        "stopped_by": None,
        "stopped_at": None,
        "change_id": change["change_id"],
    }
