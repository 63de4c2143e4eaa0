"""Instalment plans: the APR by the IRR method equals an independent IRR computation, and the
lint rejects a plan above the cap with its computed APR and line."""

from __future__ import annotations

from decimal import Decimal

import pytest
from scipy.optimize import brentq

from creditgate.policy.lint import errors, lint
from creditgate.products.instalments import plan_apr, schedule
from product_family import FAMILY, family_policy

PLANS = [
    (1, "0.0100"),
    (3, "0.0060"),
    (6, "0.0065"),
    (12, "0.0070"),
    (12, "0.0200"),
    (24, "0.0050"),
    (36, "0.0080"),
    (6, "0"),
]


def independent_apr(periods: int, fee: float) -> float:
    """Monthly IRR x 12 with floats: SciPy's root finder on the schedule's NPV."""
    payment = 1 / periods + fee

    def npv(r: float) -> float:
        return sum(payment / (1 + r) ** k for k in range(1, periods + 1)) - 1

    if fee == 0:
        return 0.0
    return 12 * brentq(npv, 1e-12, 1.0, xtol=1e-15)


@pytest.mark.parametrize(("periods", "fee"), PLANS)
def test_plan_apr_is_the_irr_of_its_schedule(periods: int, fee: str) -> None:
    assert float(plan_apr(periods, Decimal(fee))) == pytest.approx(
        round(independent_apr(periods, float(fee)), 4), abs=1e-9
    )


def test_the_schedule_repays_principal_plus_fees() -> None:
    pays = schedule(Decimal(1200), 12, Decimal("0.007"))
    assert pays == [Decimal(100) + Decimal("8.4")] * 12


def test_the_flat_fee_is_not_the_apr() -> None:
    """0.7% a month flat is 8.4% a year on paper; by the IRR method it is about 15.2%."""
    assert plan_apr(12, Decimal("0.0070")) == Decimal("0.1516")


def test_a_plan_above_the_cap_fails_the_lint_with_its_apr() -> None:
    dear = FAMILY.replace(
        '{periods: 12, fee_per_period: "0.0070"}', '{periods: 12, fee_per_period: "0.0200"}'
    )
    policy = family_policy(dear)
    found = [f for f in errors(lint(policy)) if f.check == "APR_CAP"]
    assert len(found) == 1
    assert "0.4170" in found[0].message and "12-period" in found[0].message
    plan = next(p for p in policy.products if p.id == "instalments").plans[2]
    assert found[0].line == plan.line > 0
    assert not errors(lint(family_policy()))
