"""Consumption instalments: the repayment schedule and its annualised rate by the IRR method.

A plan of ``n`` monthly periods with a fee of ``f`` per period on the original principal
``P`` repays ``P/n + f x P`` each month. Its annualised rate (PBOC announcement 2021 No. 3)
is the internal rate of return of that schedule: the monthly rate ``r`` with
``P = sum(payment / (1 + r)^k, k = 1..n)``, times 12 (``apr_method: nominal``), not the
"fee x 12" that a flat-fee plan advertises (which understates it by about half: the
balance falls each month, the fee does not).

Computed in ``Decimal`` (50 significant digits, bisection to 1e-30) and rounded half-even
to 4 decimal places, the precision an APR is shown and compared with the cap at.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, localcontext

APR_PLACES = Decimal("0.0001")
MONTHS_PER_YEAR = 12


def schedule(principal: Decimal, periods: int, fee_per_period: Decimal) -> list[Decimal]:
    """The repayments, one per period: principal / periods plus the fee on the principal."""
    if periods < 1:
        raise ValueError("a plan has at least one period")
    return [principal / periods + fee_per_period * principal] * periods


def monthly_irr(principal: Decimal, payments: list[Decimal]) -> Decimal:
    """The monthly rate ``r >= 0`` at which the payments' present value is the principal
    (bisection: the present value falls strictly as ``r`` grows)."""
    with localcontext() as ctx:
        ctx.prec = 50

        def npv(r: Decimal) -> Decimal:
            total, discount = Decimal(0), Decimal(1)
            for pay in payments:
                discount /= 1 + r
                total += pay * discount
            return total - principal

        if npv(Decimal(0)) <= 0:
            return Decimal(0)  # repays no more than the principal: no interest
        low, high = Decimal(0), Decimal(1)
        while npv(high) > 0:
            high *= 2
        tolerance = Decimal("1e-30")
        while high - low > tolerance:
            mid = (low + high) / 2
            if npv(mid) > 0:
                low = mid
            else:
                high = mid
        return (low + high) / 2


def plan_apr(periods: int, fee_per_period: Decimal) -> Decimal:
    """The plan's APR by the IRR method (monthly IRR x 12), to 4 decimal places. The rate
    does not depend on the principal, so it is computed on 1 yuan."""
    one = Decimal(1)
    irr = monthly_irr(one, schedule(one, periods, fee_per_period))
    return (irr * MONTHS_PER_YEAR).quantize(APR_PLACES, rounding=ROUND_HALF_EVEN)
