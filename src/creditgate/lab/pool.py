"""The calibration pool from one ordinary batch run, without touching batch internals.

The pool is every user who passes every gate and fraud rule and is not referred: exactly the
users a batch invites when no score, capacity or quota stops anyone. So the batch runs on a
copy of the policy with every class's cutoff at the lowest attainable score, capacity 1.0 and
quota shares too large to bind, and its invited rows, counted by (class, city, score), are the
pool (the decisions carry no city: it is joined back from the input by ``user_id``, which is
unique among decided rows since every copy of a duplicated id is quarantined).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

from creditgate.batch.backends import Backend
from creditgate.batch.run import BatchReport, Step, run_batch
from creditgate.batch.validate import typed
from creditgate.batch.whitelist import Eligible
from creditgate.lab.calibrate import UNLIMITED_QUOTA, lowest_score
from creditgate.policy.nodes import Policy, RegionStatus
from creditgate.population.regions import RegionTable


@dataclass(frozen=True)
class Pool:
    eligible: list[Eligible]
    all_users: int  # input rows, quarantined included: the capacity's base, as in a batch
    report: BatchReport


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
    workdir: Path,
    step: Step = lambda _: None,
) -> Pool:
    """Run the pool batch over ``source`` (decisions written in ``workdir``) and count it."""
    out = workdir / "pool.parquet"
    report = run_batch(backend, source, out, pool_policy(policy), regions, as_of, step=step)
    step("counting the pool by class, city and score")
    decided = backend.read(out)
    invited = decided.filter(decided["outcome"] == "invited").select(
        "user_id", "region_class", "score"
    )
    raw = backend.read(source)
    cities = raw.select(_uid=typed(raw, "user_id"), city=typed(raw, "city"))
    joined = invited.join(cities, invited["user_id"] == cities["_uid"])
    counts = joined.group_by(["region_class", "city", "score"]).agg(users=joined.count())
    rows = backend.fetch(counts.order_by(["region_class", "city", "score"])).to_pylist()
    names: dict[str, str] = {}
    merged: dict[tuple[str, str, int], int] = {}
    for r in rows:  # aliases (深圳 / 深圳市) are one city, as the batch's staged table has it
        city = names.setdefault(r["city"], regions.require(r["city"]).name)
        key = (r["region_class"], city, int(r["score"]))
        merged[key] = merged.get(key, 0) + int(r["users"])
    eligible = [Eligible(c, city, s, n) for (c, city, s), n in merged.items()]
    return Pool(eligible, report.input_rows, report)
