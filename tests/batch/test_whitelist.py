"""Cutoffs fill quotas and capacity without ever splitting a group of equal scores."""

from __future__ import annotations

import math
from collections import Counter
from datetime import date

import ibis
from hypothesis import given
from hypothesis import strategies as st

from creditgate.batch.whitelist import Eligible, apply_cutoffs, derive_cutoffs
from creditgate.decider import Decider
from creditgate.engines.ibis import IbisCompiler
from creditgate.policy.lower import lower
from creditgate.policy.nodes import Lookup
from creditgate.population.schema import PROFILE_SCHEMA

DECIDER = Decider()
CITY = {"tier1": "深圳", "new_tier1": "杭州", "capital": "南京", "prefecture": "苏州"}
CLASSES = sorted(CITY)

groups = st.lists(
    st.tuples(st.sampled_from(CLASSES), st.integers(600, 760), st.integers(1, 50)), max_size=40
)


def invited(eligible: list[Eligible], cut: dict[str, int]) -> dict[str, int]:
    out = dict.fromkeys(CLASSES, 0)
    for e in eligible:
        if e.score >= cut[e.region_class]:
            out[e.region_class] += e.users
    return out


@given(groups, st.integers(0, 5000))
def test_quotas_and_capacity_hold_and_ties_stay_together(
    raw: list[tuple[str, int, int]], all_users: int
) -> None:
    policy, regions = DECIDER.policy, DECIDER.regions
    eligible = [Eligible(c, CITY[c], s, n) for c, s, n in raw]
    cut = derive_cutoffs(eligible, all_users, policy, regions)
    counts = invited(eligible, dict(cut.by_class))
    assert sum(counts.values()) == cut.expected_invited <= cut.capacity
    for c, quota in cut.quotas.items():
        assert counts[c] <= quota
    cards = dict(policy.scorecard.cutoffs)
    assert all(v >= cards[c] for c, v in cut.by_class.items())
    # Tight: lowering every raised cutoff by one would break a quota or the capacity. (One
    # class alone may not: a capacity tie spanning classes is kept or cut as one group.)
    raised = {c: v - 1 for c, v in cut.by_class.items() if v > cards[c]}
    if raised:
        looser = invited(eligible, {**cut.by_class, **raised})
        over_quota = any(looser[c] > q for c, q in cut.quotas.items())
        assert over_quota or sum(looser.values()) > cut.capacity


def test_quota_scales_with_consumption() -> None:
    policy, regions = DECIDER.policy, DECIDER.regions
    rich = [Eligible("new_tier1", "杭州", 700, 100)]
    k = regions.consumption_index("杭州")
    cut = derive_cutoffs(rich, 10_000, policy, regions)
    assert cut.quotas["new_tier1"] == int(
        min(1.0, policy.region("new_tier1").quota_share * k) * 100
    )


def test_room_a_binding_quota_leaves_goes_to_other_classes() -> None:
    """The capacity bar is taken over the pooled post-quota counts: prefecture users the quota
    stops do not hold seats, lower-scored tier-1 users take them (whole capacity filled)."""
    policy, regions = DECIDER.policy, DECIDER.regions
    top = max(v for _, v in policy.scorecard.cutoffs) + 400  # clear of every policy floor
    # 100 prefecture users scored top-99..top, 300 tier-1 users below them; one per score
    eligible = [Eligible("prefecture", CITY["prefecture"], top - i, 1) for i in range(100)]
    eligible += [Eligible("tier1", CITY["tier1"], top - 100 - i, 1) for i in range(300)]
    cut = derive_cutoffs(eligible, 1000, policy, regions)
    quota = cut.quotas["prefecture"]
    assert 0 < quota < 100 and cut.capacity == 150
    counts = invited(eligible, {**dict.fromkeys(CLASSES, 10**6), **cut.by_class})
    assert counts["prefecture"] == quota
    assert counts["tier1"] == cut.capacity - quota  # the freed seats, not fewer
    assert cut.expected_invited == cut.capacity
    assert cut.after_quotas == quota + 300
    # tier-1 users well below the prefecture users the quota stopped are invited
    assert cut.by_class["tier1"] < top - 100 < cut.by_class["prefecture"]


# Several cities per class, province figures far apart: 兰州 (甘肃) and 福州 (福建) differ.
CITIES = {
    "tier1": ("深圳", "北京"),
    "new_tier1": ("杭州", "西安"),
    "capital": ("兰州", "济南", "福州", "石家庄"),
    "prefecture": ("苏州", "大理"),
}
city_groups = st.lists(
    st.tuples(
        st.sampled_from([(c, x) for c, xs in CITIES.items() for x in xs]),
        st.integers(600, 700),  # a narrow range: many equal scores
        st.integers(1, 30),
    ),
    max_size=50,
)


def lowest_fitting_brute(scores: list[tuple[int, int]], room: int) -> int | None:
    """Try every score from the top down: the lowest bar whose count fits (None: all fit)."""
    if sum(n for _, n in scores) <= room:
        return None
    best = None
    for bar in range(1000, 0, -1):
        if sum(n for s, n in scores if s >= bar) <= room:
            best = bar
        else:
            break
    return best


@given(city_groups, st.integers(0, 3000))
def test_city_quotas_match_a_brute_force_count(
    raw: list[tuple[tuple[str, str], int, int]], all_users: int
) -> None:
    """Each city's quota and cutoff by the docstring's rules, counted the slow way: quota
    ``floor(min(1, share * k_city) * E_city)``, the lowest bar fitting it, then one capacity
    bar over everyone above their floors; every city's invited count fits its quota."""
    policy, regions = DECIDER.policy, DECIDER.regions
    cards = dict(policy.scorecard.cutoffs)
    eligible = [Eligible(c, x, s, n) for (c, x), s, n in raw if s >= cards[c]]
    cut = derive_cutoffs(eligible, all_users, policy, regions)
    floors: dict[tuple[str, str], int] = {}
    for c, xs in CITIES.items():
        rule = policy.region(c)
        # a city without eligible users is held to the class-wide quota (mean index)
        whole = [(e.score, e.users) for e in eligible if e.region_class == c]
        users = sum(n for _, n in whole)
        per_city = Counter(e.city for e in eligible if e.region_class == c for _ in range(e.users))
        weight = math.fsum(n * regions.consumption_index(x) for x, n in per_city.items())
        k_class = weight / users if users else 1.0
        q_class = lowest_fitting_brute(whole, int(min(1.0, rule.quota_share * k_class) * users))
        for x in xs:
            scores = [(e.score, e.users) for e in eligible if (e.region_class, e.city) == (c, x)]
            floors[c, x] = cards[c]
            if rule.status.value != "partial":
                continue
            if not scores:
                floors[c, x] = max(cards[c], q_class) if q_class is not None else cards[c]
                continue
            users = sum(n for _, n in scores)
            k = regions.consumption_index(x)
            quota = int(min(1.0, rule.quota_share * k) * users)
            assert cut.city_quotas[c][x] == quota
            q = lowest_fitting_brute(scores, quota)
            floors[c, x] = max(cards[c], q) if q is not None else cards[c]
    pooled = [(e.score, e.users) for e in eligible if e.score >= floors[e.region_class, e.city]]
    g = lowest_fitting_brute(pooled, cut.capacity)
    for (c, x), bar in floors.items():
        want = max(bar, g) if g is not None else bar
        assert cut.cutoff(c, x) == want, (c, x)
        invited_here = sum(
            e.users for e in eligible if (e.region_class, e.city) == (c, x) and e.score >= want
        )
        if x in cut.city_quotas.get(c, {}):
            assert invited_here <= cut.city_quotas[c][x]
    assert cut.expected_invited == sum(
        e.users
        for e in eligible
        if e.score >= cut.cutoff(e.region_class, e.city)  # type: ignore[operator]
    )
    assert cut.expected_invited <= cut.capacity


def test_each_capital_gets_its_own_cutoff() -> None:
    """Same scores, same counts, four capitals: the quota follows each province's
    consumption, so the richer province lets more of the same users in."""
    policy, regions = DECIDER.policy, DECIDER.regions
    capitals = CITIES["capital"]
    eligible = [Eligible("capital", x, 700 + s, 1) for x in capitals for s in range(100)]
    cut = derive_cutoffs(eligible, 10**6, policy, regions)
    bars = {x: cut.by_city["capital"][x] for x in capitals}
    assert len(set(bars.values())) == 4
    by_wealth = sorted(capitals, key=regions.consumption_index)
    assert [bars[x] for x in by_wealth] == sorted(bars.values(), reverse=True)


def test_a_city_alias_counts_with_its_city() -> None:
    """The batch keeps an alias as written (大理白族自治州); its users are 大理's."""
    policy, regions = DECIDER.policy, DECIDER.regions
    eligible = [
        Eligible("prefecture", "大理白族自治州", 700, 5),
        Eligible("prefecture", "大理", 700, 5),
    ]
    cut = derive_cutoffs(eligible, 10**6, policy, regions)
    assert set(cut.by_city["prefecture"]) == {"大理"}
    assert cut.city_quotas["prefecture"]["大理"] == int(
        min(1.0, 0.4 * regions.consumption_index("大理")) * 10
    )


def test_a_snapshots_city_cutoffs_are_joined_not_tested_per_row() -> None:
    # ``cutoff.capacity`` is a CASE per class over ``IN`` lists of the cities' spellings: as a
    # CASE it cost DuckDB 0.24 CPU-s per million rows, as a join of (spelling, cutoff) 0.09.
    # Integer results join as string results do (``IbisCompiler.join_lookups``).
    decider = Decider()
    capitals = [
        c.name for c in decider.regions.cities.values() if c.region_class.value == "capital"
    ]
    by_city = {"capital": {name: 700 + i for i, name in enumerate(sorted(capitals))}}
    policy = apply_cutoffs(decider.policy, {"capital": 690}, by_city=by_city)
    program = lower(policy, decider.regions)
    table = ibis.table(ibis.Schema.from_pyarrow(PROFILE_SCHEMA), name="profiles")
    compiler = IbisCompiler(program, table, date(2025, 6, 30))
    compiler.compile()
    joined = [k for k in compiler.lookups if isinstance(k, Lookup)]
    assert any(
        all(isinstance(v, int) for v in k.table.values()) and len(k.table) >= len(capitals)
        for k in joined
    )
