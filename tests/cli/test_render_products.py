"""The terminal rendering (the demo's examples, ``--pretty``) shows each product of the
family: its line, its instalment plans with fee and IRR APR, a joint loan's yuan by lender, or
the reasons it is not offered; a policy without products shows no product table."""

from __future__ import annotations

from datetime import date

import pytest
from rich.console import Console

from creditgate.cli.render import decision_panel
from creditgate.decider import Decider
from creditgate.decision import Decision
from creditgate.examples import example_profiles
from creditgate.profile import validate_profile
from product_family import single_policy

AS_OF = date(2026, 11, 28)
PROFILES = dict(example_profiles())


def shown(decider: Decider, example: str, lang: str) -> tuple[str, Decision]:
    row = validate_profile(PROFILES[example], AS_OF, decider.policy, decider.regions)
    d = decider.decide(row, AS_OF)
    console = Console(width=240, record=True)
    console.print(decision_panel(example, d, lang))
    return console.export_text(), d


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_an_invited_users_products_are_shown_with_their_terms(lang: str) -> None:
    text, d = shown(Decider(), "01_strong_shenzhen", lang)
    offers = d.offers
    assert {o.status for o in offers} == {"offered"}
    for o in offers:
        assert o.name[lang] in text and f"{o.limit_cny:,}" in text
        for plan in o.plans:
            assert f"{plan.periods}x fee {float(plan.fee_per_period):.2%}" in text
            assert f"APR {float(plan.apr):.2%}" in text
        for part in o.funding:
            assert f"{part.name[lang]} {part.amount_cny:,}" in text


def test_a_refused_users_products_say_why_and_how_many_steps() -> None:
    text, d = shown(Decider(), "02_pay_score_599", "en")
    for o in d.offers:
        assert o.status == "not_eligible"
        assert o.name["en"] in text
    assert "PAY_SCORE_LOW; 1 step(s) would open it" in text


def test_no_product_table_without_a_family() -> None:
    text, d = shown(Decider(single_policy()), "01_strong_shenzhen", "en")
    assert not d.offers
    assert "product" not in text.split("\n", 2)[2]
