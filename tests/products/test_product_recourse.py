"""Recourse per product (``explain.product_recourse``): a product not offered carries the
changes after which it is offered, and following them (waiting until their latest date) and
deciding again really offers it; an offered product costs nothing."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from functools import cache
from typing import Any

import pytest
from hypothesis import given, settings

from creditgate.decider import Decider
from creditgate.decision import ProductOffer
from creditgate.explain.product_recourse import ProductRecourse
from creditgate.policy.nodes import ProductStatus
from creditgate.service.schemas import OfferOut
from product_family import family_policy
from strategies import AS_OF, profiles, strong_profile


@cache
def family_decider() -> Decider:
    """Built once for the module: a Decider compiles its policy."""
    return Decider(family_policy())


def follow(row: dict[str, Any], offer: ProductOffer, as_of: date) -> tuple[dict[str, Any], date]:
    """The profile once the offer's steps are done, and the date of the latest one."""
    changed = dict(row)
    for step in offer.recourse:
        if not step.immutable and step.eta is None:
            changed[step.field] = step.to
    etas = [s.eta for s in offer.recourse if s.eta is not None]
    return changed, max([as_of, *etas])


def offer_after(row: dict[str, Any], offer: ProductOffer, as_of: date) -> ProductOffer:
    changed, when = follow(row, offer, as_of)
    again = family_decider().decide(changed, when)
    return next(o for o in again.offers if o.product == offer.product)


@settings(max_examples=400, deadline=None)
@given(profiles())
def test_following_a_products_recourse_offers_it(row: dict[str, Any]) -> None:
    d = family_decider().decide(row, AS_OF)
    for offer in d.offers:
        if offer.status != ProductStatus.NOT_ELIGIBLE:
            assert offer.recourse == ()
            continue
        if not offer.recourse:  # only where the decision itself says nothing (fraud)
            assert d.recourse == () and d.outcome != "invited"
            continue
        if any(s.immutable for s in offer.recourse):
            continue
        assert offer_after(row, offer, AS_OF).status == ProductStatus.OFFERED, offer.recourse


def test_instalments_need_their_own_gate_only() -> None:
    row = strong_profile(monthly_spend_cny_6m=Decimal("500.00"))
    d = family_decider().decide(row, AS_OF)
    assert d.outcome == "invited" and d.recourse == ()
    offers = {o.product: o for o in d.offers}
    assert offers["cash_loan"].recourse == ()
    (step,) = offers["instalments"].recourse
    assert (step.code, step.field, step.from_, step.to) == (
        "LOW_SPEND",
        "monthly_spend_cny_6m",
        Decimal("500.00"),
        Decimal("1000.00"),
    )
    assert step.eta is None and not step.immutable
    assert offer_after(row, offers["instalments"], AS_OF).status == ProductStatus.OFFERED


def test_a_joint_loan_no_partner_funds_gets_one_partner_to_accept() -> None:
    # a 500 yuan line: the own lender's 30% alone is under the 500 minimum; partner A wants
    # two years of account age, partner B a pay score of 700
    row = strong_profile(
        birth_date=date(2000, 1, 1),
        monthly_spend_cny_6m=Decimal("900.00"),
        pay_score=650,
        registered_at=AS_OF - timedelta(days=400),
    )
    d = family_decider().decide(row, AS_OF)
    joint = next(o for o in d.offers if o.product == "joint_loan")
    assert d.outcome == "invited" and [r.code for r in joint.reasons] == ["JOINT_NOT_FUNDED"]
    (step,) = joint.recourse  # one partner's gate, not both
    assert (step.code, step.field, step.from_, step.to) == (
        "ACCOUNT_TOO_NEW",
        "account_age_days",
        400,
        730,
    )
    assert step.eta == AS_OF + timedelta(days=330)  # time alone: dated, no advice
    after = offer_after(row, joint, AS_OF)
    assert after.status == ProductStatus.OFFERED
    assert any(f.amount_cny for f in after.funding if not f.own)


def test_a_refused_users_products_start_from_the_decisions_recourse() -> None:
    row = strong_profile(current_overdue_days=5, monthly_spend_cny_6m=Decimal("600.00"))
    d = family_decider().decide(row, AS_OF)
    assert d.outcome == "not_invited" and d.recourse
    for offer in d.offers:
        assert offer.recourse[: len(d.recourse)] == d.recourse
        assert offer_after(row, offer, AS_OF).status == ProductStatus.OFFERED
    instalments = next(o for o in d.offers if o.product == "instalments")
    assert ("LOW_SPEND", "monthly_spend_cny_6m") in {
        (s.code, s.field) for s in instalments.recourse
    }


def test_an_offered_product_is_never_planned(monkeypatch: pytest.MonkeyPatch) -> None:
    def planned(*args: Any) -> None:
        raise AssertionError("product recourse planned for an offered product")

    monkeypatch.setattr(ProductRecourse, "steps", planned)
    d = family_decider().decide(strong_profile(), AS_OF)
    assert {o.status for o in d.offers} == {ProductStatus.OFFERED}


def test_the_offer_json_carries_the_recourse_in_the_decisions_shape() -> None:
    d = family_decider().decide(strong_profile(monthly_spend_cny_6m=Decimal("500.00")), AS_OF)
    out = [o.to_dict() for o in d.offers]
    assert [len(o["recourse"]) for o in out] == [0, 1, 0]
    assert set(out[1]["recourse"][0]) == {
        "code",
        "field",
        "from",
        "to",
        "eta",
        "immutable",
        "message",
    }
    for o in out:
        OfferOut.model_validate(o)
