"""Calendar arithmetic with one definition shared by every engine.

"Whole units elapsed" is defined as the largest ``n`` with ``add_units(start, n) <= end``, where
adding months clips to the month's last day (2024-01-31 + 1 month = 2024-02-29). The same
definition gives ETAs: a gate ``elapsed(start) >= n`` opens exactly on ``add_units(start, n)``.
Batch engines compile the identical formula (see ``engines/ibis``), so ages and account ages agree.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
AS_OF_EARLIEST = date(2000, 1, 1)
AS_OF_LEAD_DAYS = 31  # an evaluation date may be planned up to a month ahead, no further


class Unit(StrEnum):
    DAYS = "days"
    MONTHS = "months"
    YEARS = "years"


def today_shanghai() -> date:
    """Today's date in Asia/Shanghai, the default evaluation date."""
    return datetime.now(SHANGHAI).date()


def as_of_window(today: date | None = None) -> tuple[date, date]:
    """The evaluation dates accepted everywhere (API, ``decide``, ``batch``): from
    ``AS_OF_EARLIEST`` to today in Asia/Shanghai plus ``AS_OF_LEAD_DAYS`` days."""
    return AS_OF_EARLIEST, (today or today_shanghai()) + timedelta(days=AS_OF_LEAD_DAYS)


def as_of_problem(when: date, today: date | None = None) -> str | None:
    """Why ``when`` cannot be an evaluation date (a message without the date), or None."""
    first, last = as_of_window(today)
    if first <= when <= last:
        return None
    return (
        f"must lie between {first.isoformat()} and {AS_OF_LEAD_DAYS} days after today "
        "(Asia/Shanghai)"
    )


def add_months(start: date, months: int) -> date:
    """``start`` plus whole calendar months, clipped to the last day of the target month."""
    index = start.year * 12 + (start.month - 1) + months
    year, month0 = divmod(index, 12)
    day = min(start.day, days_in_month(year, month0 + 1))
    return date(year, month0 + 1, day)


def add_units(start: date, amount: int, unit: Unit) -> date:
    """``start`` plus ``amount`` units; the inverse of :func:`elapsed` used for ETAs."""
    if unit is Unit.DAYS:
        return start + timedelta(days=amount)
    return add_months(start, amount * 12 if unit is Unit.YEARS else amount)


_DAYS_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def days_in_month(year: int, month: int) -> int:
    if month == 2 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0):
        return 29
    return _DAYS_IN_MONTH[month - 1]


def elapsed_months(start: date, end: date) -> int:
    """Largest ``n`` with ``add_months(start, n) <= end`` (negative when ``end < start``)."""
    months = (end.year - start.year) * 12 + (end.month - start.month)
    if start.day > end.day and min(start.day, days_in_month(end.year, end.month)) > end.day:
        months -= 1
    return months


def elapsed(start: date, end: date, unit: Unit) -> int:
    """Whole ``unit``s from ``start`` to ``end``; e.g. age is ``elapsed(birth, as_of, YEARS)``."""
    if unit is Unit.DAYS:
        return (end - start).days
    months = elapsed_months(start, end)
    return months // 12 if unit is Unit.YEARS else months
