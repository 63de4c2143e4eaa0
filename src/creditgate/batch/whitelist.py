"""Whitelist cutoffs: fill the capacity and the regional quotas with the best-scored users.

Why population facts: "about 15 % of users see the entry" and "partly open regions get a
quota" cannot be decided one user at a time. A batch ranks the *eligible* users (outcome
``invited`` under the policy's own cutoffs) and derives, per region class, the score a user
needs so that the invited users fit. Real-time decisions then apply those cutoffs
(``apply_cutoffs``), so ``decide --snapshot`` and the batch agree user for user.

The exact rules (all counts over eligible users unless said otherwise):

* capacity ``C = floor(capacity_share * all input rows)`` (quarantined rows included: the
  share is of the user base, not of the clean part of a file);
* a partly open class ``c`` with ``E_c`` eligible users gets the quota
  ``Q_c = floor(min(1, quota_share_c * k_c) * E_c)`` where ``k_c`` is the eligible users' mean
  ``RegionTable.consumption_index(city)`` (1.0 = an average province): richer regions open
  further;
* ranking is by score, highest first. A cutoff is a score, so a group of equal scores is never
  split: the quota cutoff ``q_c`` is the lowest score with ``#(score >= q_c) <= Q_c``, and the
  capacity cutoff ``g`` the lowest score with ``sum_c #(score >= max(g, q_c)) <= C``. Who
  gets in therefore never depends on the order of rows or ids; the snapshot lists the invited
  users by score, then by a hash of ``user_id`` (a stable order, not a selection);
* class cutoff = ``max(policy cutoff, q_c, g)``; users at or above the policy cutoff but below
  it are ``not_invited`` with REGION_QUOTA (partial classes) or CAPACITY (open classes).

The policy cutoff is the risk floor (the lowest acceptable score), not the selection: the
default policy's floors are calibrated (``scorecard.default_card.calibrate``) so that the pool
left after the quotas (``Cutoffs.after_quotas``) exceeds the capacity, and ``g`` binds. ``g``
is taken over the pooled post-quota counts, so room a binding quota leaves in one class goes to
the next-best eligible users of the other classes.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date

from creditgate.policy.nodes import Policy, RegionStatus
from creditgate.population.regions import RegionTable


@dataclass(frozen=True)
class Eligible:
    """How many eligible users of one region class and city reached one score."""

    region_class: str
    city: str
    score: int
    users: int


@dataclass(frozen=True)
class Cutoffs:
    capacity: int
    quotas: Mapping[str, int]  # partial class -> quota in users
    by_class: Mapping[str, int]  # every non-closed class -> final score cutoff
    expected_invited: int
    # eligible users at or above their class's policy and quota cutoffs: the pool the capacity
    # bar picks from (the capacity binds exactly when this exceeds ``capacity``)
    after_quotas: int


def _lowest_fitting(counts: Mapping[int, int], room: int) -> int | None:
    """The lowest score s with #(score >= s) <= room; None when everyone fits."""
    total = sum(counts.values())
    if total <= room:
        return None
    taken = 0
    for score in sorted(counts, reverse=True):
        if taken + counts[score] > room:
            return score + 1
        taken += counts[score]
    raise AssertionError("unreachable")


def derive_cutoffs(
    eligible: Iterable[Eligible], all_users: int, policy: Policy, regions: RegionTable
) -> Cutoffs:
    """Per-class score cutoffs that fill the quotas, then the capacity (module docstring)."""
    by_class: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    weight: dict[str, float] = defaultdict(float)
    for e in eligible:
        by_class[e.region_class][e.score] += e.users
        rule = policy.region(e.region_class)
        if rule.status is RegionStatus.PARTIAL:
            weight[e.region_class] += e.users * regions.consumption_index(e.city)
    capacity = math.floor(policy.capacity_share * all_users)
    policy_cut = dict(policy.scorecard.cutoffs)
    floor_cut: dict[str, int] = {}
    quotas: dict[str, int] = {}
    for rule in policy.regions:
        if rule.status is RegionStatus.CLOSED:
            continue
        c = rule.region_class
        floor_cut[c] = policy_cut[c]
        counts = by_class.get(c, {})
        if rule.status is RegionStatus.PARTIAL:
            users = sum(counts.values())
            k = weight[c] / users if users else 1.0
            quotas[c] = math.floor(min(1.0, rule.quota_share * k) * users)
            q = _lowest_fitting(counts, quotas[c])
            if q is not None:
                floor_cut[c] = max(floor_cut[c], q)
    # The capacity bar applies across classes on top of each class's own floor.
    pooled: dict[int, int] = defaultdict(int)
    for c, counts in by_class.items():
        for score, users in counts.items():
            if c in floor_cut and score >= floor_cut[c]:
                pooled[score] += users
    # Pooled *after* the quotas: room a binding quota leaves goes to the next-best users of
    # every other class, not to nobody.
    g = _lowest_fitting(pooled, capacity)
    final = {c: max(v, g) if g is not None else v for c, v in floor_cut.items()}
    expected = sum(
        users
        for c, counts in by_class.items()
        if c in final
        for score, users in counts.items()
        if score >= final[c]
    )
    return Cutoffs(capacity, quotas, final, expected, sum(pooled.values()))


def apply_cutoffs(policy: Policy, cutoffs: Mapping[str, int], as_of: date | None = None) -> Policy:
    """The policy whose lowered program cuts at a snapshot's cutoffs (CAPACITY/REGION_QUOTA);
    ``as_of``, the snapshot's evaluation date, only reaches the user text."""
    card = replace(
        policy.scorecard, capacity_cutoffs=tuple(sorted(cutoffs.items())), capacity_as_of=as_of
    )
    return replace(policy, scorecard=card)
