"""The ``products:`` section: loaded with file:line errors, and a policy without it decides
as before (no offers); ``loan_purpose``: a business purpose is referred, never lent to."""

from __future__ import annotations

from datetime import date

import pytest

from creditgate.decider import Decider
from creditgate.policy.loader import PolicyError
from product_family import FAMILY, family_policy, family_text, single_policy
from strategies import strong_profile

AS_OF = date(2026, 11, 28)


def issues(extra: str) -> list[str]:
    with pytest.raises(PolicyError) as info:
        family_policy(extra)
    return [str(i) for i in info.value.issues]


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_errors_name_the_file_and_line() -> None:
    text = FAMILY.replace("field: account_age_days", "field: account_age")
    found = issues(text)
    line = line_of(family_text(text), "field: account_age,")
    assert any(f"family.yaml:{line}:" in i and "unknown field 'account_age'" in i for i in found)


def test_exactly_one_cash_product() -> None:
    found = issues(FAMILY.replace("  - {id: cash_loan, kind: cash}\n", ""))
    assert any("exactly one product of kind cash" in i for i in found)


def test_a_kind_gets_what_it_needs_and_nothing_else() -> None:
    text = FAMILY.replace(
        "    apr_method: nominal\n", "    apr_method: nominal\n    partners: []\n"
    )
    found = issues(text)
    assert any(
        "products.1.partners: a product of kind instalment has no 'partners'" in i for i in found
    )
    plans = FAMILY.index("    plans:")
    found = issues(FAMILY[:plans] + FAMILY[FAMILY.index("  - id: joint_loan") :])
    assert any("a product of kind instalment needs 'plans'" in i for i in found)


def test_lenders_are_named_in_both_languages() -> None:
    found = issues(FAMILY.replace(", en: Partner Bank B}", "}"))
    assert any("'en'" in i and "partners.1.name" in i for i in found)


def test_a_policy_without_products_has_no_offers() -> None:
    d = Decider(single_policy()).decide(strong_profile(), AS_OF)
    assert d.offers == () and "offers" not in d.to_dict()


def test_every_product_has_an_offer_and_the_top_level_is_the_cash_loan() -> None:
    d = Decider(family_policy()).decide(strong_profile(), AS_OF)
    out = d.to_dict()
    assert [o["product"] for o in out["offers"]] == ["cash_loan", "instalments", "joint_loan"]
    cash = out["offers"][0]
    assert (cash["status"], cash["limit_cny"], cash["apr"]) == ("offered", d.limit_cny, out["apr"])
    instalments = out["offers"][1]
    assert instalments["merchant_only"] and len(instalments["plans"]) == 3
    assert instalments["limit_cny"] <= 20000 and instalments["limit_cny"] <= d.limit_cny
    assert set(instalments["message"]) == {"zh-CN", "en"}


def test_a_product_gate_gives_that_product_its_own_reason() -> None:
    d = Decider(family_policy()).decide(strong_profile(monthly_spend_cny_6m=800), AS_OF)
    assert d.outcome == "invited"  # the low spend fails the instalments gate, not the shared layers
    offer = next(o for o in d.offers if o.product == "instalments")
    assert offer.status == "not_eligible" and [r.code for r in offer.reasons] == ["LOW_SPEND"]
    assert offer.reasons[0].message["en"] and offer.reasons[0].message["zh-CN"]


@pytest.mark.parametrize("with_products", [False, True])
def test_a_business_purpose_is_referred_never_lent_to(with_products: bool) -> None:
    decider = Decider(family_policy() if with_products else single_policy())
    assert decider.decide(strong_profile(loan_purpose="consumption"), AS_OF).outcome == "invited"
    assert decider.decide(strong_profile(loan_purpose=None), AS_OF).outcome == "invited"
    d = decider.decide(strong_profile(loan_purpose="business"), AS_OF)
    assert d.outcome == "referred" and d.reason_codes == ("BUSINESS_PURPOSE",)
    assert d.limit_cny is None and d.alternatives[0].kind == "business_loan"
    assert all(o.status == "referred" and o.limit_cny is None for o in d.offers)
    assert len(d.offers) == (3 if with_products else 0)


def test_the_packaged_policy_declares_the_tests_family() -> None:
    """The default's ``products:`` is ``products/family.yaml`` (which tests vary), and a
    default decision offers the three products."""
    from creditgate.policy.loader import load_policy

    packaged = load_policy()
    assert [p.id for p in packaged.products] == ["cash_loan", "instalments", "joint_loan"]
    assert packaged.products == family_policy().products
    assert single_policy().products == ()
    d = Decider().decide(strong_profile(), AS_OF)
    assert [(o.product, o.status) for o in d.offers] == [
        ("cash_loan", "offered"),
        ("instalments", "offered"),
        ("joint_loan", "offered"),
    ]
