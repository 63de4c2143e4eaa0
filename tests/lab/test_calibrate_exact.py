"""The calibrated floors are optimal: brute force over every floor combination agrees."""

from __future__ import annotations

import itertools
from dataclasses import replace
from fractions import Fraction

from hypothesis import event, given, settings
from hypothesis import strategies as st

from creditgate.batch.whitelist import Eligible
from creditgate.decider import Decider
from creditgate.lab.calibrate import (
    MICRO,
    Binding,
    admissible_floors,
    build_problem,
    calibrate,
    evaluate,
    optimise,
)
from creditgate.policy.nodes import Policy, RegionStatus

DECIDER = Decider()
POLICY, REGIONS = DECIDER.policy, DECIDER.regions
LOW, HIGH = admissible_floors(POLICY)
# Two cities per class with different consumption indexes (tier1: 上海 2.02, 深圳 1.35...).
CITIES = {
    "tier1": ("上海", "深圳"),
    "new_tier1": ("杭州", "合肥"),
    "capital": ("福州", "太原"),
    "prefecture": ("唐山", "苏州"),
}
# Around the lint's lowest floor (511), far above it, and the best attainable score (844,
# where "nobody" cannot be written as a floor).
SCORES = (505, LOW, 530, 560, 600, 640, 700, 790, HIGH)

entries = st.lists(
    st.tuples(
        st.sampled_from(sorted(CITIES)),
        st.integers(0, 1),
        st.sampled_from(SCORES),
        st.integers(1, 30),
    ),
    min_size=1,
    max_size=12,
)
shares = st.floats(0.0, 1.0).map(lambda x: round(x, 2))


def policy_with(capacity: float, quotas: dict[str, float]) -> Policy:
    regions = tuple(
        replace(r, quota_share=quotas[r.region_class]) if r.status is RegionStatus.PARTIAL else r
        for r in POLICY.regions
    )
    return replace(POLICY, capacity_share=capacity, regions=regions)


def brute_force(
    pool: list[Eligible], all_users: int, policy: Policy, ceiling: float
) -> tuple[int, int]:
    """(most invited, least summed PD among those) over every floor combination."""
    ratio = Fraction(str(ceiling)) * MICRO
    classes = sorted(CITIES)
    candidates = []
    for c in classes:
        near = {s + d for e in pool if e.region_class == c for s in (e.score,) for d in (0, 1)}
        candidates.append(sorted({LOW} | {f for f in near if LOW <= f <= HIGH}))
    best = (0, 0)
    for combo in itertools.product(*candidates):
        floors = dict(zip(classes, combo, strict=True))
        _, invited, pd_sum = evaluate(pool, all_users, policy, REGIONS, floors)
        within = invited and pd_sum * ratio.denominator <= ratio.numerator * invited
        if within and (invited > best[0] or (invited == best[0] and pd_sum < best[1])):
            best = (invited, pd_sum)
    return best


@settings(max_examples=300, deadline=None)
@given(
    raw=entries,
    extra_users=st.integers(0, 100),
    capacity=st.floats(0.1, 1.0).map(lambda x: round(x, 2)),
    quotas=st.fixed_dictionaries({c: shares for c in ("new_tier1", "capital", "prefecture")}),
    ceiling=st.sampled_from((0.01, 0.05, 0.08, 0.1, 0.12, 0.2)),
)
def test_the_search_matches_brute_force(
    raw: list[tuple[str, int, int, int]],
    extra_users: int,
    capacity: float,
    quotas: dict[str, float],
    ceiling: float,
) -> None:
    pool = [Eligible(c, CITIES[c][i], s, n) for c, i, s, n in raw]
    all_users = sum(e.users for e in pool) + extra_users
    policy = policy_with(capacity, quotas)
    expected = brute_force(pool, all_users, policy, ceiling)
    found = optimise(build_problem(pool, all_users, policy, REGIONS), ceiling)
    got = (found[0], found[1]) if found is not None and found[0] else (0, 0)
    assert got == expected
    result = calibrate(pool, all_users, policy, REGIONS, ceiling)
    event(result.binding)
    if result.cutoffs is not None:
        event(
            "capacity bar set"
            if result.cutoffs.after_quotas > result.cutoffs.capacity
            else "no bar"
        )
    if expected[0] == 0:
        assert result.best is None and result.binding == Binding.INFEASIBLE
        return
    assert result.best is not None
    floors = result.best.floors
    assert all(LOW <= f <= HIGH for f in floors.values())
    _, invited, pd_sum = evaluate(pool, all_users, policy, REGIONS, floors)
    assert (invited, pd_sum) == expected
    assert pd_sum <= Fraction(str(ceiling)) * MICRO * invited
