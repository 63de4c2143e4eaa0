"""Joint lending: the lint's share rules, and who funds what when a partner declines."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from creditgate.decider import Decider
from creditgate.policy.lint import errors, lint
from creditgate.policy.loader import PolicyError
from creditgate.policy.nodes import Lender, PartnerDecline
from creditgate.products.joint import allocate, part
from product_family import FAMILY, family_policy
from strategies import strong_profile

AS_OF = date(2026, 11, 28)
A = Lender("a", (), Decimal("0.40"), 20000)
B = Lender("b", (), Decimal("0.30"))


def test_a_policy_whose_own_lender_funds_25_percent_fails_the_lint() -> None:
    text = FAMILY.replace(
        'share: "0.30", name: {zh-CN: 平台银行', 'share: "0.25", name: {zh-CN: 平台银行'
    )
    text = text.replace('share: "0.40"', 'share: "0.45"')
    found = {f.check: f for f in errors(lint(family_policy(text)))}
    assert set(found) == {"JOINT_OWN_SHARE"}
    assert "0.25" in found["JOINT_OWN_SHARE"].message and "0.30" in found["JOINT_OWN_SHARE"].message


def test_shares_must_add_up_to_one() -> None:
    text = FAMILY.replace('share: "0.40"', 'share: "0.50"')
    found = [f for f in errors(lint(family_policy(text))) if f.check == "JOINT_SHARES"]
    assert len(found) == 1 and "1.10" in found[0].message


def test_a_policy_with_errors_is_not_served() -> None:
    text = FAMILY.replace(
        'share: "0.30", name: {zh-CN: 平台银行', 'share: "0.25", name: {zh-CN: 平台银行'
    )
    with pytest.raises(PolicyError, match="JOINT_OWN_SHARE"):
        Decider(family_policy(text.replace('share: "0.40"', 'share: "0.45"')))


@pytest.mark.parametrize(
    ("accepts", "mode", "parts"),
    [
        ((True, True), PartnerDecline.PASS_TO_NEXT, (3001, 4000, 3000)),
        ((False, True), PartnerDecline.PASS_TO_NEXT, (3001, 0, 7000)),
        ((True, False), PartnerDecline.PASS_TO_NEXT, (3001, 7000, 0)),
        ((False, True), PartnerDecline.REDUCE, (3001, 0, 3000)),
        ((False, False), PartnerDecline.REDUCE, (3001, 0, 0)),
        ((False, False), PartnerDecline.PASS_TO_NEXT, (3001, 0, 0)),
    ],
)
def test_allocation(
    accepts: tuple[bool, bool], mode: PartnerDecline, parts: tuple[int, ...]
) -> None:
    assert allocate(10001, [A, B], accepts, mode) == parts


def test_a_partner_above_its_exposure_passes_the_rest_on() -> None:
    assert allocate(100000, [A, B], (True, True), PartnerDecline.PASS_TO_NEXT) == (
        30000,
        20000,
        50000,
    )
    assert allocate(100000, [A, B], (True, True), PartnerDecline.REDUCE) == (30000, 20000, 30000)


@pytest.mark.parametrize("line", [500, 999, 10001, 123457, 200000])
def test_the_own_lender_keeps_at_least_its_share(line: int) -> None:
    for accepts in [(True, True), (False, True), (True, False), (False, False)]:
        for mode in PartnerDecline:
            parts = allocate(line, [A, B], accepts, mode)
            assert parts[0] >= Decimal("0.30") * sum(parts)
            assert sum(parts) <= line and min(parts) >= 0


def offers(decider: Decider, **overrides: Any) -> dict[str, dict[str, Any]]:
    d = decider.decide(strong_profile(**overrides), AS_OF)
    assert d.outcome == "invited", d.reason_codes
    return {o.product: o.to_dict() for o in d.offers}


def funded(offer: dict[str, Any]) -> tuple[int, ...]:
    by = {f["lender"]: f["amount_cny"] for f in offer["funding"]}
    return tuple(by.get(k, 0) for k in ("platform_bank", "partner_a", "partner_b"))


@pytest.mark.parametrize("mode", list(PartnerDecline))
def test_a_declining_partner_is_handled_as_documented(mode: PartnerDecline) -> None:
    decider = Decider(family_policy(FAMILY.replace("pass_to_next", mode.value)))
    product = next(p for p in decider.policy.products if p.id == "joint_loan")
    for pay_score, accepts in ((735, (True, True)), (690, (True, False))):  # b wants >= 700
        got = offers(decider, pay_score=pay_score)
        cash = got["cash_loan"]["limit_cny"]
        expected = allocate(cash, product.partners, accepts, mode)
        assert funded(got["joint_loan"]) == expected
        assert got["joint_loan"]["limit_cny"] == sum(expected)
        if not all(accepts):
            assert expected[2] == 0
            a, b = product.partners
            if mode is PartnerDecline.REDUCE:
                assert expected[1] == min(20000, part(a.share, cash)) and sum(expected) < cash
            else:  # partner_a takes b's part too, up to its maximum exposure
                assert expected[1] == min(20000, part(a.share, cash) + part(b.share, cash))
