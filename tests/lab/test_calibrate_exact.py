"""The calibrated floors are optimal: brute force over every floor combination agrees.

Partial classes size a quota per city (``whitelist.quota_floors``), so the cases draw three
spellings per class: cities with different consumption indexes, an alias of one of them
(counted with its city) and, in one class, a city the region table lacks (held to the
class-wide quota). The events show per-city quotas binding in several cities and classes."""

from __future__ import annotations

import itertools
from dataclasses import replace
from fractions import Fraction

from hypothesis import event, given, settings
from hypothesis import strategies as st

from creditgate.batch.whitelist import Eligible, quota_floors
from creditgate.decider import Decider
from creditgate.lab.calibrate import (
    MICRO,
    Binding,
    admissible_floors,
    build_problem,
    calibrate,
    eligible_under,
    evaluate,
    optimise,
    with_floors,
)
from creditgate.policy.nodes import Policy, RegionStatus

DECIDER = Decider()
POLICY, REGIONS = DECIDER.policy, DECIDER.regions
LOW, HIGH = admissible_floors(POLICY)
# Per class three spellings: cities with different consumption indexes (上海 2.02, 深圳 1.35;
# 杭州 1.62, 合肥 0.93; 福州 1.19, 太原 0.73; 无锡 1.27, 唐山 0.85, 三亚 0.94), an alias
# (杭州市 is 杭州) and a city the region table lacks (火星: the class-wide quota holds it).
CITIES = {
    "tier1": ("上海", "深圳", "深圳市"),
    "new_tier1": ("杭州", "合肥", "杭州市"),
    "capital": ("福州", "太原", "火星"),
    "prefecture": ("唐山", "无锡", "三亚"),
}
# Around the lint's lowest floor (511), far above it, and the best attainable score (844,
# where "nobody" cannot be written as a floor).
SCORES = (505, LOW, 530, 560, 600, 640, 700, 790, HIGH)

entries = st.lists(
    st.tuples(
        st.sampled_from(sorted(CITIES)),
        st.integers(0, 2),
        st.sampled_from(SCORES),
        st.integers(1, 30),
    ),
    min_size=1,
    max_size=14,
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
    """(most invited, least summed PD among those) over every floor combination.

    Per class, the floors worth trying are the lowest, each entry's score and one above it;
    floors that keep the same entries of the class (no entry's score between them) decide
    alike, so only the lowest of each such run is tried."""
    ratio = Fraction(str(ceiling)) * MICRO
    classes = sorted(CITIES)
    candidates = []
    for c in classes:
        scores = {e.score for e in pool if e.region_class == c}
        near = {s + d for s in scores for d in (0, 1)}
        kept: dict[int | None, int] = {}  # lowest entry score kept -> lowest such floor
        for f in sorted({LOW} | {f for f in near if LOW <= f <= HIGH}):
            kept.setdefault(min((s for s in scores if s >= f), default=None), f)
        candidates.append(sorted(kept.values()))
    best = (0, 0)
    for combo in itertools.product(*candidates):
        floors = dict(zip(classes, combo, strict=True))
        _, invited, pd_sum = evaluate(pool, all_users, policy, REGIONS, floors)
        within = invited and pd_sum * ratio.denominator <= ratio.numerator * invited
        if within and (invited > best[0] or (invited == best[0] and pd_sum < best[1])):
            best = (invited, pd_sum)
    return best


def label_city_quotas(
    pool: list[Eligible], policy: Policy, floors: dict[str, int], where: str
) -> None:
    """Events: in how many cities, and of how many classes, a city quota binds (the city's
    quota cutoff lies above its class's floor)."""
    quotas = quota_floors(eligible_under(pool, floors), with_floors(policy, floors), REGIONS)
    bound = {
        (c, city)
        for c, cities in quotas.city_floor.items()
        for city, v in cities.items()
        if v > floors[c]
    }
    cities = "3+" if len(bound) >= 3 else str(len(bound))
    event(f"{where}: city quotas bind in {cities} cities")
    event(f"{where}: city quotas bind in {len({c for c, _ in bound})} classes")
    split = any(len(set(v.values())) > 1 for v in quotas.city_floor.values())
    event(f"{where}: cities of one class {'differ' if split else 'agree'} in quota cutoff")


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
    label_city_quotas(pool, policy, {c: LOW for c in CITIES}, "lowest floors")
    if result.best is not None:
        label_city_quotas(pool, policy, result.best.floors, "optimum")
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
    cut, invited, pd_sum = evaluate(pool, all_users, policy, REGIONS, floors)
    assert (invited, pd_sum) == expected
    assert invited == cut.expected_invited  # the oracle counts at the batch's city cutoffs
    assert pd_sum <= Fraction(str(ceiling)) * MICRO * invited
