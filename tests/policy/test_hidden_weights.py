"""Issue 17, done when: the seed's hidden weights count in the default policy.

A user whose three hidden weights (daily opens, monthly spend, ecosystem repayment score) are
all far below the seed's marks is not invited in any region, whatever the pay score and the
rest of the profile, and the reasons name the weak weights; raising those three alone invites
them. Opens, spend (at the seed's 2,000-yuan mark) and product count each move the score.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from creditgate.batch.whitelist import apply_cutoffs
from creditgate.decider import Decider
from creditgate.policy.nodes import RegionStatus
from creditgate.population.regions import RegionClass, load_regions
from strategies import AS_OF, strong_profile

WEAK = {"avg_daily_opens_90d": 0.5, "monthly_spend_cny_6m": Decimal("300.00")}
WEAK |= {"ecosystem_repayment_score": 30}
RAISED = {"avg_daily_opens_90d": 5.0, "monthly_spend_cny_6m": Decimal("3000.00")}
RAISED |= {"ecosystem_repayment_score": 85}
GROUP = ["LOW_ACTIVITY", "LOW_SPEND", "LOW_REPAYMENT_SCORE"]
# The whitelist's cutoffs on the training population (200,000 users, seed 2026), printed by
# `python -m creditgate.scorecard.default_card` ("batch cutoffs"): a snapshot's capacity bar.
SNAPSHOT = {"tier1": 569, "new_tier1": 651, "capital": 721, "prefecture": 737}


def shenzhen(**overrides: Any) -> dict[str, Any]:
    """The issue's user: 深圳, pay score 760, weak hidden weights, everything else strong."""
    return strong_profile(**{"pay_score": 760, **WEAK, **overrides})


def open_cities() -> list[str]:
    """One city of each region class that is open or partly open in the default policy."""
    policy = Decider().policy
    regions = load_regions()
    opened = [r.region_class for r in policy.regions if r.status is not RegionStatus.CLOSED]
    return [regions.in_class(RegionClass(c))[0].name for c in opened]


@pytest.fixture(scope="module")
def decider() -> Decider:
    return Decider()


def test_every_open_class_is_looped_over() -> None:
    assert len(open_cities()) == 4


@pytest.mark.parametrize("city", ["深圳", *open_cities()])
@pytest.mark.parametrize("pay_score", [600, 760, 850])
def test_all_three_weights_far_below_is_never_invited(
    decider: Decider, city: str, pay_score: int
) -> None:
    """Whatever the pay score, with the best of every other field, and under a snapshot."""
    best = {"ecosystem_active_products": 15, "monthly_flow_cv_6m": 0.0}
    row = shenzhen(city=city, pay_score=pay_score, **best)
    cut = Decider(apply_cutoffs(decider.policy, SNAPSHOT), decider.regions)
    for d in (decider, cut):
        decision = d.decide(row, AS_OF)
        assert decision.outcome == "not_invited"
        gates = [r.code for r in decision.reasons if r.layer == "behaviour"]
        assert gates == GROUP, decision.reason_codes


def test_the_reasons_say_which_weight_is_weak_and_what_the_group_asks(decider: Decider) -> None:
    decision = decider.decide(shenzhen(), AS_OF)
    by_code = {r.code: r for r in decision.reasons if r.layer == "behaviour"}
    assert by_code["LOW_SPEND"].observed == Decimal("300.00")
    assert by_code["LOW_SPEND"].required == ">= 1000"
    assert by_code["LOW_ACTIVITY"].required == ">= 1"
    assert by_code["LOW_REPAYMENT_SCORE"].required == ">= 40"


def test_raising_the_three_weights_alone_invites(decider: Decider) -> None:
    row = shenzhen(**RAISED)
    decision = decider.decide(row, AS_OF)
    assert decision.outcome == "invited", decision.reason_codes
    cut = Decider(apply_cutoffs(decider.policy, SNAPSHOT), decider.regions)
    assert cut.decide(row, AS_OF).outcome == "invited"


def test_the_recourse_is_one_weight_of_the_group_and_it_invites(decider: Decider) -> None:
    """Any one weight back passes the group: the recourse raises one, not all three, and
    following every step it gives invites the user."""
    row = shenzhen()
    steps = decider.decide(row, AS_OF).recourse
    assert len([s for s in steps if s.code in GROUP and s.to in (1, 1.0, 1000, 40)]) == 1
    followed = {**row, **{s.field: s.to for s in steps if not s.immutable}}
    assert decider.decide(followed, AS_OF).outcome == "invited", steps


@pytest.mark.parametrize(
    ("field", "low", "high"),
    [
        ("avg_daily_opens_90d", 0.2, 20.0),
        ("monthly_spend_cny_6m", Decimal("1999.00"), Decimal("2001.00")),
        ("ecosystem_active_products", 1, 8),
        ("ecosystem_repayment_score", 30, 90),
    ],
)
def test_each_hidden_weight_moves_the_score(
    decider: Decider, field: str, low: Any, high: Any
) -> None:
    scores = [decider.evaluate(strong_profile(**{field: v}), AS_OF)["score"] for v in (low, high)]
    assert scores[0] < scores[1], scores


def test_a_weak_weight_is_named_once_when_the_score_fails_too(decider: Decider) -> None:
    """The group's gate reason names the weight; its score factor is not given again."""
    row = shenzhen(pay_score=600, ecosystem_active_products=1, monthly_flow_cv_6m=0.45)
    codes = decider.decide(row, AS_OF).reason_codes
    assert codes[:3] == tuple(GROUP) and "SCORE_BELOW_CUTOFF" in codes
    assert len(set(codes)) == len(codes), codes
