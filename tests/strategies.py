"""Hypothesis strategies for profiles: valid rows, edge values included, and near-misses."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from creditgate.policy.loader import default_policy_path, parse_policy
from creditgate.policy.nodes import Policy
from creditgate.population.regions import load_regions
from creditgate.schema import Occupation

AS_OF = date(2026, 11, 28)
CITIES = sorted(load_regions().cities)


def dates_between(lo: date, hi: date) -> st.SearchStrategy[date]:
    return st.integers(0, (hi - lo).days).map(lambda d: lo + timedelta(days=d))


def mostly(value: bool) -> st.SearchStrategy[bool]:
    """The passing value four times in five, so single failures get explored too."""
    return st.sampled_from([value, value, value, value, not value])


def _edge_ints(lo: int, hi: int, edges: list[int]) -> st.SearchStrategy[int]:
    return st.one_of(st.integers(lo, hi), st.sampled_from([e for e in edges if lo <= e <= hi]))


@st.composite
def profiles(draw: st.DrawFn, as_of: date = AS_OF) -> dict[str, Any]:
    """A valid, typed profile row (as ``validate_profile`` returns), biased to thresholds."""
    overdue = draw(st.integers(0, 4))
    current = draw(st.sampled_from([0, 0, 0, 1, 15, 90]))
    last = None
    if overdue or draw(st.booleans()):
        last = draw(dates_between(as_of - timedelta(days=1500), as_of))
    if overdue and last is None:
        last = as_of - timedelta(days=30)
    birth = draw(
        st.one_of(
            dates_between(date(1950, 1, 1), as_of - timedelta(days=16 * 366)),
            st.sampled_from([date(2008, 11, 28), date(2008, 11, 29), date(2008, 2, 29)]),
        )
    )
    registered = draw(
        st.one_of(
            dates_between(max(birth, date(2011, 1, 21)), as_of),
            st.sampled_from([as_of - timedelta(days=364), as_of - timedelta(days=365)]),
        )
    )
    registered = max(registered, birth)
    return {
        "user_id": draw(st.from_regex(r"u[0-9]{1,9}", fullmatch=True)),
        "birth_date": birth,
        "registered_at": registered,
        "real_name_verified": draw(mostly(True)),
        "bank_card_bound": draw(mostly(True)),
        "is_student": draw(mostly(False)),
        "occupation": draw(st.sampled_from([o.value for o in Occupation])),
        "city": draw(st.sampled_from(CITIES)),
        "is_county_area": draw(st.booleans()),
        "consent_credit_data": draw(mostly(True)),
        "consent_behaviour_data": draw(mostly(True)),
        "pay_score": draw(_edge_ints(300, 850, [599, 600, 649, 650, 700, 750])),
        "overdue_count_24m": overdue,
        "current_overdue_days": current,
        "last_overdue_on": last,
        "ecosystem_repayment_score": draw(_edge_ints(0, 100, [59, 60, 80, 90])),
        "ecosystem_active_products": draw(_edge_ints(0, 12, [0, 1, 2, 4])),
        "avg_daily_opens_90d": draw(
            st.one_of(st.floats(0, 40, allow_nan=False), st.sampled_from([0.0, 0.9, 1.0, 2.9, 3.0]))
        ),
        "monthly_spend_cny_6m": draw(
            st.one_of(
                st.decimals(0, 60000, places=2, allow_nan=False, allow_infinity=False),
                st.sampled_from([Decimal("499.99"), Decimal("500.00"), Decimal("2000.00")]),
            )
        ),
        "monthly_flow_cv_6m": draw(
            st.one_of(st.floats(0, 3, allow_nan=False), st.sampled_from([0.2, 0.35, 0.5, 0.51]))
        ),
        "blacklist_hit": draw(st.sampled_from([False, False, False, True])),
        "accounts_on_device": draw(_edge_ints(1, 8, [1, 2, 3, 6])),
        "sim_changed_days_ago": draw(st.one_of(st.none(), st.integers(0, 400))),
        "applications_7d": draw(_edge_ints(0, 8, [0, 1, 5])),
    }


def strong_profile(**overrides: Any) -> dict[str, Any]:
    """A profile that passes every gate in 深圳 with strong hidden weights."""
    row: dict[str, Any] = {
        "user_id": "u-strong",
        "birth_date": date(1990, 5, 1),
        "registered_at": date(2018, 3, 15),
        "real_name_verified": True,
        "bank_card_bound": True,
        "is_student": False,
        "occupation": "salaried",
        "city": "深圳",
        "is_county_area": False,
        "consent_credit_data": True,
        "consent_behaviour_data": True,
        "pay_score": 735,
        "overdue_count_24m": 0,
        "current_overdue_days": 0,
        "last_overdue_on": None,
        "ecosystem_repayment_score": 93,
        "ecosystem_active_products": 4,
        "avg_daily_opens_90d": 6.2,
        "monthly_spend_cny_6m": Decimal("5200.00"),
        "monthly_flow_cv_6m": 0.16,
        "blacklist_hit": False,
        "accounts_on_device": 1,
        "sim_changed_days_ago": None,
        "applications_7d": 0,
    }
    row.update(overrides)
    return row


# A pilot, then a second stage on AS_OF itself (a date edge), then everywhere.
SCHEDULE = """  schedule:
    - {from: 2026-01-01, provinces: [广东, 甘肃, 山东], cities: [大理白族自治州]}
    - {from: 2026-11-28, provinces: [福建]}
    - {from: 2027-01-01, provinces: all}
"""
# Snapshot cutoffs by city for partial classes' cities (capitals apart, a prefecture alias).
CITY_CUTOFFS = {
    "capital": {"兰州": 700, "济南": 650, "福州": 690, "石家庄": 640},
    "prefecture": {"大理": 720, "苏州": 660},
}


def scheduled_policy(schedule: str = SCHEDULE) -> Policy:
    """The default policy with ``schedule`` under ``regions:`` instead of its own."""
    text = default_policy_path().read_text(encoding="utf-8")
    own = re.search(r"^  schedule:.*\n(?:    - .*\n)+", text, re.MULTILINE)
    assert own is not None
    return parse_policy(text[: own.start()] + schedule + text[own.end() :], "<scheduled policy>")
