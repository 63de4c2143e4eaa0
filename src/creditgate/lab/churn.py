"""Churn against the previous whitelist: who a refresh would take the entry from, and why.

A nightly refresh that hides the entry from users who saw it yesterday costs trust (and, for a
user who borrowed, access to servicing); users near the capacity cut flip in and out. Before a
new run goes live the risk team asks: of the users the previous snapshot invited, how many
stay, how many lose the invitation (with the reasons they would now be given), how many are new,
and whose line would be cut (a change the user must be notified of).

The previous snapshot is read as it is (its invited users and their limits); the comparison is
one join on the engine with the decided rows of this run (``lab.evaluate``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir

from creditgate.batch.backends import Backend
from creditgate.lab.compare import reason_counts
from creditgate.policy.nodes import Outcome
from creditgate.snapshot import read_invited, read_meta


def churn(backend: Backend, decided: ir.Table, previous: Path) -> dict[str, Any]:
    """The churn of ``decided`` (one policy's decided rows) against the snapshot ``previous``.
    Users of the snapshot absent from this run's decided rows (quarantined now, or not in the
    population any more) are counted apart as ``not_decided``, never as lost or kept."""
    meta = read_meta(previous)
    invited_before = read_invited(previous)
    before = ibis.memtable(
        invited_before.select(["user_id", "limit_cny"]).rename_columns(["_uid", "_lim"])
    )
    now = decided.select(
        "user_id",
        "outcome",
        "reason_codes",
        "limit_cny",
        _in=decided["outcome"] == Outcome.INVITED.value,
    )
    joined = now.left_join(before, now["user_id"] == before["_uid"])
    was = joined["_uid"].notnull()
    row = backend.fetch(
        joined.aggregate(
            kept=(was & joined["_in"]).sum(),
            lost=(was & ~joined["_in"]).sum(),
            gained=(~was & joined["_in"]).sum(),
            limit_cut=(was & joined["_in"] & (joined["limit_cny"] < joined["_lim"])).sum(),
            limit_raised=(was & joined["_in"] & (joined["limit_cny"] > joined["_lim"])).sum(),
            previous_decided=was.sum(),
        )
    ).to_pylist()[0]
    counts = {k: int(v or 0) for k, v in row.items()}
    previous_invited = invited_before.num_rows
    lost = joined.filter(was & ~joined["_in"])
    outcomes = backend.fetch(
        lost.group_by("outcome").aggregate(users=lost.count()).order_by("outcome")
    ).to_pylist()
    base = previous_invited or None
    return {
        "previous": {
            "snapshot": previous.name,
            "policy_version": meta.policy_version,
            "as_of": meta.as_of.isoformat(),
            "invited": previous_invited,
        },
        "kept": counts["kept"],
        "lost": counts["lost"],
        "gained": counts["gained"],
        "not_decided": previous_invited - counts["previous_decided"],
        "churn_rate": None if base is None else (counts["lost"] + counts["gained"]) / base,
        "limit_cut": counts["limit_cut"],
        "limit_raised": counts["limit_raised"],
        "lost_outcomes": {r["outcome"]: int(r["users"]) for r in outcomes},
        "lost_reasons": reason_counts(backend.fetch, lost, "reason_codes"),
    }
