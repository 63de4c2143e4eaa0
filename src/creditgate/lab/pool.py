"""The calibration pool: the users nothing but the score, the quotas and the capacity could
stop, counted by (class, city, score).

The pool is every user who passes every gate and fraud rule and is not referred: exactly the
users a batch invites when no score, capacity or quota stops anyone. So the lab's evaluation
(``lab.evaluate``, the batch's own code) decides a copy of the policy with every class's
cutoff at the lowest attainable score, capacity 1.0 and quota shares too large to bind, and
its invited rows, counted by (class, canonical city, score) on the engine, are the pool.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

from creditgate.batch.backends import Backend
from creditgate.batch.run import Step
from creditgate.batch.whitelist import Eligible
from creditgate.lab.calibrate import UNLIMITED_QUOTA, lowest_score
from creditgate.lab.evaluate import evaluate
from creditgate.policy.nodes import Outcome, Policy, RegionStatus
from creditgate.population.regions import RegionTable


@dataclass(frozen=True)
class Pool:
    eligible: list[Eligible]
    all_users: int  # input rows, quarantined included: the capacity's base, as in a batch
    decided: int
    quarantined: int


def pool_policy(policy: Policy) -> Policy:
    """``policy`` with nothing but gates, fraud rules and referrals standing in the way."""
    bottom = lowest_score(policy)
    card = replace(
        policy.scorecard,
        cutoffs=tuple((c, bottom) for c, _ in policy.scorecard.cutoffs),
        review_band=0,
    )
    regions = tuple(
        replace(r, quota_share=UNLIMITED_QUOTA) if r.status is RegionStatus.PARTIAL else r
        for r in policy.regions
    )
    return replace(policy, capacity_share=1.0, regions=regions, scorecard=card)


def read_pool(
    backend: Backend,
    source: Path,
    policy: Policy,
    regions: RegionTable,
    as_of: date,
    step: Step = lambda _: None,
) -> Pool:
    """Decide ``source`` under ``pool_policy(policy)`` and count its invited users."""
    with evaluate(backend, source, [pool_policy(policy)], regions, as_of, step=step) as ev:
        step("counting the pool by class, city and score")
        decided = ev.runs[0].decided
        invited = decided.filter(decided["outcome"] == Outcome.INVITED.value)
        counts = invited.group_by(
            region_class=invited["region_class"],
            city=invited["city"].cast("string"),
            score=invited["score"],
        ).agg(users=invited.count())
        rows = backend.fetch(counts.order_by(["region_class", "city", "score"])).to_pylist()
    eligible = [
        Eligible(r["region_class"], r["city"], int(r["score"]), int(r["users"])) for r in rows
    ]
    return Pool(eligible, ev.input_rows, ev.decided, ev.quarantined)
