"""The seed, reproduced: each gate alone yields exactly its reason; the whitelist, regions,
fraud, referral and offer behave as the default policy says."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal

import pytest

from creditgate.decider import Decider
from strategies import AS_OF, strong_profile

SINGLE_GATE_FAILURES = [
    ({"consent_credit_data": False}, "CONSENT_MISSING", False),
    ({"consent_behaviour_data": False}, "CONSENT_MISSING", False),
    ({"birth_date": date(2008, 11, 29)}, "UNDERAGE", 17),
    ({"is_student": True}, "STUDENT", True),
    ({"real_name_verified": False}, "NOT_REAL_NAME", False),
    ({"pay_score": 599}, "PAY_SCORE_LOW", 599),
    (
        {"current_overdue_days": 3, "overdue_count_24m": 1, "last_overdue_on": AS_OF},
        "CURRENTLY_OVERDUE",
        3,
    ),
    ({"overdue_count_24m": 1, "last_overdue_on": date(2025, 1, 10)}, "OVERDUE_RECORD", 22),
    ({"registered_at": AS_OF - timedelta(days=364)}, "ACCOUNT_TOO_NEW", 364),
    ({"bank_card_bound": False}, "NO_BANK_CARD", False),
    ({"monthly_flow_cv_6m": 0.51}, "UNSTABLE_FLOW", 0.51),
    ({"ecosystem_active_products": 0}, "LOW_ECOSYSTEM_USAGE", 0),
]


def test_strong_profile_in_shenzhen_is_invited_with_offer(decider: Decider) -> None:
    d = decider.decide(strong_profile(), AS_OF)
    assert d.outcome == "invited" and d.entry_visible
    assert d.reasons == () and d.recourse == ()
    assert d.limit_cny is not None and 500 <= d.limit_cny <= 300_000
    assert d.apr is not None and d.apr <= decider.policy.jurisdiction.apr_cap
    assert d.apr == d.daily_rate * 365  # type: ignore[operator]
    assert d.terms == (5, 10, 20)
    assert d.score is not None and d.pd is not None and 0 < d.pd < 0.05


@pytest.mark.parametrize(("change", "code", "observed"), SINGLE_GATE_FAILURES)
def test_each_single_failing_gate_yields_exactly_its_code(
    decider: Decider, change: dict[str, object], code: str, observed: object
) -> None:
    d = decider.decide(strong_profile(**change), AS_OF)
    codes = [r.code for r in d.reasons]
    # the overdue record also lowers nothing else: the gate is the only reason
    assert codes == [code] or (code == "CURRENTLY_OVERDUE" and codes == [code, "OVERDUE_RECORD"])
    assert d.outcome == "not_invited" and not d.entry_visible
    assert d.reasons[0].observed == observed
    assert d.reasons[0].principal
    assert d.limit_cny is None and d.apr is None


def test_pay_score_boundary(decider: Decider) -> None:
    low = decider.decide(strong_profile(pay_score=599), AS_OF)
    assert [r.code for r in low.reasons] == ["PAY_SCORE_LOW"]
    assert low.reasons[0].observed == 599 and low.reasons[0].required == ">= 600"
    assert "599" in low.reasons[0].message["zh-CN"] and "600" in low.reasons[0].message["en"]
    assert (
        decider.decide(
            strong_profile(pay_score=600, monthly_spend_cny_6m=Decimal(9000)), AS_OF
        ).outcome
        == "invited"
    )


def test_age_boundary_is_the_18th_birthday(decider: Decider) -> None:
    assert decider.decide(strong_profile(birth_date=date(2008, 11, 28)), AS_OF).outcome == "invited"
    d = decider.decide(strong_profile(birth_date=date(2008, 11, 29)), AS_OF)
    assert d.reason_codes == ("UNDERAGE",)
    assert d.recourse[0].eta == date(2026, 11, 29)


def test_county_area_is_closed(decider: Decider) -> None:
    d = decider.decide(strong_profile(city="赣州", is_county_area=True), AS_OF)
    assert d.reason_codes == ("REGION_CLOSED",)
    assert d.reasons[0].observed == "county"
    assert "县域" in d.reasons[0].message["zh-CN"]
    assert d.recourse[0].immutable and d.recourse[0].to is None


def profile_scoring(decider: Decider, low: int, high: int, **fixed: object) -> dict[str, object]:
    """A gate-passing profile whose score lies in ``[low, high)``: the trained card's points
    are data, so tests search the hidden weights instead of hard-coding a score."""
    for pay in range(600, 851, 5):
        for repayment in range(0, 101, 5):
            row = strong_profile(
                **{"pay_score": pay, "ecosystem_repayment_score": repayment, **fixed}
            )
            score = decider.evaluate(row, AS_OF)["score"]
            if low <= score < high:
                return row
    raise AssertionError(f"no profile scores in [{low}, {high})")


def weak_hidden_weights() -> dict[str, object]:
    """Passes every gate; low activity, spend, repayment score and pay-score band: scores
    well below every region's risk floor (the default cutoffs), not just in the review band."""
    return strong_profile(
        avg_daily_opens_90d=0.8,
        monthly_spend_cny_6m=Decimal("850.00"),
        ecosystem_repayment_score=45,
        pay_score=620,
        ecosystem_active_products=1,
        monthly_flow_cv_6m=0.42,
    )


def test_weak_hidden_weights_are_not_invited_with_principal_factors(decider: Decider) -> None:
    d = decider.decide(
        weak_hidden_weights(),
        AS_OF,
    )
    assert d.outcome == "not_invited"
    assert d.reason_codes[0] == "SCORE_BELOW_CUTOFF"
    card = decider.policy.scorecard
    assert d.score is not None and d.score < min(v for _, v in card.cutoffs) - card.review_band
    factors = d.reason_codes[1:]
    card_factors = {f.factor for f in decider.policy.scorecard.features}
    assert {"LOW_SPEND", "LOW_REPAYMENT_SCORE", "PAY_SCORE_BAND"} <= set(factors) <= card_factors
    assert len(factors) == 4  # at most four principal factors
    assert [r.principal for r in d.reasons] == [True, True, True, True, False]
    # every gate passed, so only score moves are suggested, and they are all mutable
    assert d.recourse and all(not s.immutable and s.eta is None for s in d.recourse)


def test_partly_open_region_reports_quota_when_open_cutoff_is_met(decider: Decider) -> None:
    # enough for a tier-1 city but not for a prefecture city
    card = decider.policy.scorecard
    row = profile_scoring(
        decider, card.cutoff("tier1"), card.cutoff("prefecture") - card.review_band, city="绵阳"
    )
    d = decider.decide(row, AS_OF)
    assert d.reason_codes[0] == "REGION_QUOTA"
    assert decider.decide({**row, "city": "深圳"}, AS_OF).outcome == "invited"


def test_borderline_score_goes_to_manual_review(decider: Decider) -> None:
    card = decider.policy.scorecard
    cutoff = card.cutoff("tier1")
    row = profile_scoring(decider, cutoff - card.review_band, cutoff, city="北京")
    d = decider.decide(row, AS_OF)
    assert d.score is not None
    assert cutoff - card.review_band <= d.score < cutoff, d.score
    assert d.outcome == "manual_review"


def test_fraud_is_generic_for_the_user(decider: Decider) -> None:
    d = decider.decide(strong_profile(blacklist_hit=True), AS_OF)
    assert d.outcome == "not_invited" and d.reason_codes == ("FRAUD_SUSPECTED",)
    assert d.recourse == ()
    public = json.dumps(d.to_dict(), ensure_ascii=False)
    assert "blacklist" not in public and "fraud_rules" not in public
    assert d.internal == {"fraud_rules": ["blacklist"]}
    review = decider.decide(strong_profile(accounts_on_device=4), AS_OF)
    assert review.outcome == "manual_review" and review.reason_codes == ("FRAUD_SUSPECTED",)


def test_small_business_is_referred_to_business_loans(decider: Decider) -> None:
    d = decider.decide(strong_profile(occupation="small_business_owner"), AS_OF)
    assert d.outcome == "referred" and d.reason_codes == ("BUSINESS_PURPOSE",)
    assert d.alternatives[0].kind == "business_loan" and d.limit_cny is None


def test_without_consent_no_data_is_assessed(decider: Decider) -> None:
    d = decider.decide(
        strong_profile(
            consent_credit_data=False,
            pay_score=400,
            current_overdue_days=5,
            overdue_count_24m=1,
            last_overdue_on=AS_OF,
        ),
        AS_OF,
    )
    assert d.reason_codes == ("CONSENT_MISSING",)
    assert d.score is None and d.pd is None


def test_gen_z_gets_smaller_limits_than_middle_class(decider: Decider) -> None:
    older = decider.decide(strong_profile(), AS_OF)
    young = decider.decide(strong_profile(birth_date=date(2000, 1, 1)), AS_OF)
    assert young.outcome == older.outcome == "invited"
    assert young.limit_cny is not None and older.limit_cny is not None
    assert young.limit_cny < older.limit_cny


def test_reasons_are_ordered_declines_first_and_principal_at_most_four(decider: Decider) -> None:
    d = decider.decide(
        strong_profile(
            real_name_verified=False,
            pay_score=550,
            bank_card_bound=False,
            registered_at=AS_OF - timedelta(days=30),
            ecosystem_active_products=0,
            accounts_on_device=3,
        ),
        AS_OF,
    )
    codes = d.reason_codes
    assert codes[:5] == (
        "NOT_REAL_NAME",
        "PAY_SCORE_LOW",
        "ACCOUNT_TOO_NEW",
        "NO_BANK_CARD",
        "LOW_ECOSYSTEM_USAGE",
    )
    assert "FRAUD_SUSPECTED" in codes[5:]  # a review-level signal ranks after the declines
    assert sum(r.principal for r in d.reasons) == 4
    assert all(r.principal for r in d.reasons[:4])


def test_every_decision_offers_human_review(decider: Decider) -> None:
    for row in (strong_profile(), strong_profile(pay_score=500)):
        d = decider.decide(row, AS_OF).to_dict()
        assert d["review"]["right"] == "PIPL Art. 24"
        assert d["review"]["decision_id"] == d["decision_id"]
        assert set(d["review"]["message"]) == {"zh-CN", "en"}


def test_seed_handset_card_names_the_seeds_hidden_weights() -> None:
    """The seed's literal hidden weights (opens > 3/day, spend > 2,000 yuan, repayment score)
    as a hand-set card: a profile passing every gate with weak weights is told exactly those."""
    from creditgate.policy.loader import default_policy_path, load_policy

    handset = Decider(load_policy(default_policy_path().with_name("seed_handset.yaml")))
    d = handset.decide(
        weak_hidden_weights(),
        AS_OF,
    )
    assert d.outcome == "not_invited"
    assert d.reason_codes[0] == "SCORE_BELOW_CUTOFF"
    assert {"LOW_ACTIVITY", "LOW_SPEND", "LOW_REPAYMENT_SCORE"} <= set(d.reason_codes[1:])
    assert all(not s.immutable for s in d.recourse)
