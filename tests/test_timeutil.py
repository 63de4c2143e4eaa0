from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from creditgate.timeutil import Unit, add_months, add_units, elapsed, elapsed_months

dates = st.dates(date(1950, 1, 1), date(2060, 12, 31))


@given(dates, dates)
def test_elapsed_months_is_the_largest_n_with_add_months_not_after_end(a: date, b: date) -> None:
    n = elapsed_months(a, b)
    assert add_months(a, n) <= b
    assert add_months(a, n + 1) > b


@given(dates, st.integers(0, 1200), st.sampled_from(list(Unit)))
def test_eta_is_exactly_when_the_gate_opens(start: date, amount: int, unit: Unit) -> None:
    amount = amount if unit is not Unit.YEARS else amount // 12
    eta = add_units(start, amount, unit)
    assert elapsed(start, eta, unit) >= amount
    assert elapsed(start, eta - timedelta(days=1), unit) < amount


def test_leap_day_birthdays_and_month_ends() -> None:
    assert elapsed(date(2008, 2, 29), date(2026, 2, 28), Unit.YEARS) == 18
    assert elapsed(date(2008, 2, 29), date(2026, 2, 27), Unit.YEARS) == 17
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert elapsed_months(date(2024, 1, 31), date(2024, 2, 29)) == 1
    assert elapsed_months(date(2024, 3, 15), date(2024, 3, 10)) == -1
