"""Cutoffs fill quotas and capacity without ever splitting a group of equal scores."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from creditgate.batch.whitelist import Eligible, derive_cutoffs
from creditgate.decider import Decider

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
