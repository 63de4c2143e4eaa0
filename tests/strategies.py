"""Hypothesis strategies for profiles (valid rows, edge values included, and near-misses) and
for policies (the default with generated limit matrices)."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any

from hypothesis import strategies as st

from creditgate.policy.loader import default_policy_path, load_policy, parse_policy
from creditgate.policy.nodes import CmpOp, Condition, LimitRow, Policy, Segment, Value
from creditgate.population.regions import load_regions
from creditgate.schema import LoanPurpose, Occupation

AS_OF = date(2026, 11, 28)
CITIES = sorted(load_regions().cities)


def dates_between(lo: date, hi: date) -> st.SearchStrategy[date]:
    return st.integers(0, (hi - lo).days).map(lambda d: lo + timedelta(days=d))


def mostly(value: bool) -> st.SearchStrategy[bool]:
    """The passing value four times in five, so single failures get explored too."""
    return st.sampled_from([value, value, value, value, not value])


def _edge_ints(lo: int, hi: int, edges: list[int]) -> st.SearchStrategy[int]:
    return st.one_of(st.integers(lo, hi), st.sampled_from([e for e in edges if lo <= e <= hi]))


@lru_cache(maxsize=8)
def _held_parts(as_of: date) -> tuple[st.SearchStrategy[date | None], ...]:
    since = st.one_of(
        st.none(),
        dates_between(as_of - timedelta(days=700), as_of),
        st.sampled_from([as_of - timedelta(days=d) for d in (0, 89, 90, 91)]),
    )
    return (
        since,
        st.sampled_from([500, 1000, 5000, 20000, 200000]),
        st.one_of(st.none(), st.booleans()),
    )


def held_facts(draw: st.DrawFn, as_of: date = AS_OF) -> dict[str, Any]:
    """What the lender knows (``schema`` optional fields): often nothing, else an outstanding
    loan and an invitation held since a date around the stability window's edge (89, 90 days
    with the default policy's ``min_days: 90``), with the line held."""
    since_s, line_s, loan_s = _held_parts(as_of)
    since = draw(since_s)
    line = draw(line_s) if since is not None else None
    return {
        "has_outstanding_loan": draw(loan_s),
        "invited_since": since,
        "invited_limit_cny": line,
    }


@lru_cache(maxsize=8)
def _profile_parts(as_of: date) -> dict[str, st.SearchStrategy[Any]]:
    """The strategies ``profiles`` draws from, built once per date: building one (its
    validation included) took longer than drawing from it, for every example."""
    return {
        "overdue": st.integers(0, 4),
        "current": st.sampled_from([0, 0, 0, 1, 15, 90]),
        "last": dates_between(as_of - timedelta(days=1500), as_of),
        "birth": st.one_of(
            dates_between(date(1950, 1, 1), as_of - timedelta(days=16 * 366)),
            st.sampled_from([date(2008, 11, 28), date(2008, 11, 29), date(2008, 2, 29)]),
        ),
        "registered_edge": st.sampled_from(
            [as_of - timedelta(days=364), as_of - timedelta(days=365)]
        ),
        "user_id": st.from_regex(r"u[0-9]{1,9}", fullmatch=True),
        "mostly_true": mostly(True),
        "mostly_false": mostly(False),
        "occupation": st.sampled_from([o.value for o in Occupation]),
        "city": st.sampled_from(CITIES),
        "pay_score": _edge_ints(300, 850, [599, 600, 649, 650, 700, 750]),
        "ecosystem_repayment_score": _edge_ints(0, 100, [39, 40, 59, 60, 80, 90]),
        "ecosystem_active_products": _edge_ints(0, 12, [0, 1, 2, 4]),
        "avg_daily_opens_90d": st.one_of(
            st.floats(0, 40, allow_nan=False), st.sampled_from([0.0, 0.9, 1.0, 2.9, 3.0])
        ),
        "monthly_spend_cny_6m": st.one_of(
            st.decimals(0, 60000, places=2, allow_nan=False, allow_infinity=False),
            st.sampled_from([Decimal("499.99"), Decimal("500.00"), Decimal("2000.00")]),
        ),
        "monthly_flow_cv_6m": st.one_of(
            st.floats(0, 3, allow_nan=False), st.sampled_from([0.2, 0.35, 0.5, 0.51])
        ),
        "blacklist_hit": st.sampled_from([False, False, False, True]),
        "accounts_on_device": _edge_ints(1, 8, [1, 2, 3, 6]),
        "sim_changed_days_ago": st.one_of(st.none(), st.integers(0, 400)),
        "applications_7d": _edge_ints(0, 8, [0, 1, 5]),
        "loan_purpose": st.one_of(st.none(), st.sampled_from([x.value for x in LoanPurpose])),
    }


@st.composite
def profiles(draw: st.DrawFn, as_of: date = AS_OF) -> dict[str, Any]:
    """A valid, typed profile row (as ``validate_profile`` returns), biased to thresholds."""
    p = _profile_parts(as_of)
    overdue = draw(p["overdue"])
    current = draw(p["current"])
    last = None
    if overdue or draw(st.booleans()):
        last = draw(p["last"])
    if overdue and last is None:
        last = as_of - timedelta(days=30)
    birth = draw(p["birth"])
    lo = max(birth, date(2011, 1, 21))
    registered = draw(
        st.one_of(
            st.integers(0, (as_of - lo).days).map(lambda d: lo + timedelta(days=d)),
            p["registered_edge"],
        )
    )
    registered = max(registered, birth)
    return {
        "user_id": draw(p["user_id"]),
        "birth_date": birth,
        "registered_at": registered,
        "real_name_verified": draw(p["mostly_true"]),
        "bank_card_bound": draw(p["mostly_true"]),
        "is_student": draw(p["mostly_false"]),
        "occupation": draw(p["occupation"]),
        "city": draw(p["city"]),
        "is_county_area": draw(st.booleans()),
        "consent_credit_data": draw(p["mostly_true"]),
        "consent_behaviour_data": draw(p["mostly_true"]),
        "pay_score": draw(p["pay_score"]),
        "overdue_count_24m": overdue,
        "current_overdue_days": current,
        "last_overdue_on": last,
        "ecosystem_repayment_score": draw(p["ecosystem_repayment_score"]),
        "ecosystem_active_products": draw(p["ecosystem_active_products"]),
        "avg_daily_opens_90d": draw(p["avg_daily_opens_90d"]),
        "monthly_spend_cny_6m": draw(p["monthly_spend_cny_6m"]),
        "monthly_flow_cv_6m": draw(p["monthly_flow_cv_6m"]),
        "blacklist_hit": draw(p["blacklist_hit"]),
        "accounts_on_device": draw(p["accounts_on_device"]),
        "sim_changed_days_ago": draw(p["sim_changed_days_ago"]),
        "applications_7d": draw(p["applications_7d"]),
        **held_facts(draw, as_of),
        # mostly unstated (consumption), sometimes business (referred) or another purpose
        "loan_purpose": draw(p["loan_purpose"]),
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


SPEND_EDGES = [Decimal(v) for v in ("999.99", "1000.00", "1999.99", "2000.00", "4999.99")] + [
    Decimal(v) for v in ("5000.00", "9999.99", "10000.00", "19999.99", "20000.00")
]


_INVITABLE = {
    "old_overdue": st.one_of(st.none(), dates_between(date(2018, 1, 1), date(2024, 10, 1))),
    "birth_date": st.one_of(
        dates_between(date(1960, 1, 1), date(2008, 11, 28)),
        st.sampled_from([date(1996, 11, 28), date(1996, 11, 29)]),  # 30 on as_of
    ),
    "city": st.sampled_from(CITIES),
    "occupation": st.sampled_from([o.value for o in Occupation]),
    "pay_score": _edge_ints(600, 850, [600, 650, 700, 750]),
    "ecosystem_repayment_score": _edge_ints(0, 100, [60, 80, 90]),
    "monthly_spend_cny_6m": st.one_of(
        st.decimals(0, 60000, places=2, allow_nan=False, allow_infinity=False),
        st.sampled_from(SPEND_EDGES),
    ),
    "monthly_flow_cv_6m": st.one_of(
        st.floats(0, 0.5, allow_nan=False), st.sampled_from([0.2, 0.25, 0.5])
    ),
}  # built once (see ``_profile_parts``)


@st.composite
def invitable_profiles(draw: st.DrawFn, as_of: date = AS_OF) -> dict[str, Any]:
    """A profile that passes every gate of the default policy, with what limit rows read
    (age, spend, flow, scores, occupation, an old overdue record) drawn around band edges:
    most are invited, so limits are exercised rather than NULL."""
    p = _INVITABLE
    old_overdue = draw(p["old_overdue"])
    return strong_profile(
        birth_date=draw(p["birth_date"]),
        city=draw(p["city"]),
        occupation=draw(p["occupation"]),
        pay_score=draw(p["pay_score"]),
        ecosystem_repayment_score=draw(p["ecosystem_repayment_score"]),
        overdue_count_24m=0,
        last_overdue_on=old_overdue,
        monthly_spend_cny_6m=draw(p["monthly_spend_cny_6m"]),
        monthly_flow_cv_6m=draw(p["monthly_flow_cv_6m"]),
        **held_facts(draw, as_of),
    )


@st.composite
def hidden_weight_profiles(draw: st.DrawFn, as_of: date = AS_OF) -> dict[str, Any]:
    """A strong profile whose hidden weights (opens, spend, repayment score) are drawn around
    the default policy's any-of group edges (1 open a day, 1,000 yuan, 40): the group fails,
    or one weight passes it."""
    return strong_profile(
        city=draw(st.sampled_from(CITIES)),
        pay_score=draw(_edge_ints(600, 850, [600, 760, 850])),
        avg_daily_opens_90d=draw(
            st.one_of(st.floats(0, 1.5, allow_nan=False), st.sampled_from([0.0, 0.99, 1.0, 3.0]))
        ),
        monthly_spend_cny_6m=draw(
            st.one_of(
                st.decimals(0, 1500, places=2, allow_nan=False, allow_infinity=False),
                st.sampled_from([Decimal("999.99"), Decimal("1000.00"), Decimal("2000.00")]),
            )
        ),
        ecosystem_repayment_score=draw(_edge_ints(0, 60, [39, 40])),
        ecosystem_active_products=draw(_edge_ints(1, 12, [1, 8])),
        **held_facts(draw, as_of),
    )


_LIMIT_CONDITIONS: list[tuple[str, list[CmpOp], list[Value]]] = [
    ("monthly_spend_cny_6m", [CmpOp.GE, CmpOp.LT], [Decimal(2000), Decimal("5000.5")]),
    ("monthly_flow_cv_6m", [CmpOp.LE, CmpOp.GT], [0.2, 0.25]),
    ("pay_score", [CmpOp.GE, CmpOp.NE], [650, 700]),
    ("ecosystem_repayment_score", [CmpOp.GT, CmpOp.EQ], [80, 90]),
    ("age", [CmpOp.LT, CmpOp.GE], [30, 45]),  # derived
    ("months_since_last_overdue", [CmpOp.GE], [36, 60]),  # derived and NULL-able
]


@st.composite
def limit_conditions(draw: st.DrawFn) -> Condition:
    """One condition of a limit row, in the policy's ``when:`` syntax's node form."""
    if draw(st.integers(0, len(_LIMIT_CONDITIONS))) == len(_LIMIT_CONDITIONS):
        values = tuple(draw(st.sets(st.sampled_from([o.value for o in Occupation]), min_size=1)))
        return Condition("occupation", None, None, tuple(sorted(values)), draw(st.booleans()))
    field, ops, values_ = draw(st.sampled_from(_LIMIT_CONDITIONS))
    return Condition(field, draw(st.sampled_from(ops)), draw(st.sampled_from(values_)))


@st.composite
def limit_matrices(draw: st.DrawFn, low: int = 500, high: int = 300_000) -> tuple[LimitRow, ...]:
    """A segment's limit rows: conditional rows, then a catch-all, limits in the product range
    (rows an earlier one hides are allowed: the engines must agree on them too)."""
    amounts = st.sampled_from([low, 1000, 3000, 20000, 200_000, high])
    rows = draw(
        st.lists(
            st.builds(
                LimitRow,
                min_score=st.sampled_from([0, 650, 700, 760, 800]),
                limit=amounts,
                when=st.lists(limit_conditions(), min_size=1, max_size=3).map(tuple),
            ),
            max_size=6,
        )
    )
    # the catch-all: no score bar, or one at or under the default policy's lowest floor (557)
    return (*rows, LimitRow(draw(st.sampled_from([0, 550])), draw(amounts)))


@st.composite
def limit_policies(draw: st.DrawFn) -> Policy:
    """The default policy with every limit-bearing segment's rows drawn by ``limit_matrices``."""
    policy = DEFAULT_POLICY
    segments = tuple(
        s if s.refer else Segment(s.name, s.when, draw(limit_matrices()), s.refer)
        for s in policy.offer.segments
    )
    return replace(policy, offer=replace(policy.offer, segments=segments))


DEFAULT_POLICY = load_policy()


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
