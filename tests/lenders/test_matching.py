"""Matching respects each published criterion, ranks cheapest first, and never passes on a
refusal the law requires, a fraud suspicion, an invitation or a review in progress."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from creditgate.lenders.directory import (
    AgeRange,
    AprRange,
    Criteria,
    Directory,
    Lender,
    Purpose,
    packaged_directory,
)
from creditgate.lenders.matching import matching_lenders, meets, rank
from creditgate.population.regions import load_regions
from creditgate.schema import Occupation
from strategies import AS_OF, profiles

REGIONS = load_regions()
PROVINCES = sorted(REGIONS.provinces)


def full_years(birth: date, on: date) -> int:
    """Independent of ``matching.age_on``: count birthdays."""
    years = 0
    while True:
        try:
            nxt = birth.replace(year=birth.year + years + 1)
        except ValueError:  # 29 February: the birthday falls on 1 March
            nxt = date(birth.year + years + 1, 3, 1)
        if nxt > on:
            return years
        years += 1


def oracle(c: Criteria, row: dict[str, Any]) -> bool:
    """Each criterion on its own, spelled out."""
    checks = [not row["is_student"]]
    if c.age is not None:
        checks.append(c.age.min <= full_years(row["birth_date"], AS_OF) <= c.age.max)
    if c.pay_score_min is not None:
        checks.append(row["consent_credit_data"] and row["pay_score"] >= c.pay_score_min)
    if c.max_current_overdue_days is not None:
        days = row["current_overdue_days"]
        checks.append(row["consent_credit_data"] and days <= c.max_current_overdue_days)
    if c.ecosystem_repayment_score_min is not None:
        score = row["ecosystem_repayment_score"]
        checks.append(row["consent_behaviour_data"] and score >= c.ecosystem_repayment_score_min)
    if c.occupations is not None:
        checks.append(row["occupation"] in c.occupations)
    if not c.county_areas:
        checks.append(not row["is_county_area"])
    if c.provinces is not None:
        city = REGIONS.lookup(row["city"])
        checks.append(city is not None and city.province in c.provinces)
    return all(checks)


@st.composite
def criteria(draw: st.DrawFn) -> Criteria:
    lo = draw(st.integers(18, 70))
    return Criteria(
        age=draw(st.none() | st.builds(AgeRange, min=st.just(lo), max=st.integers(lo, 80))),
        pay_score_min=draw(st.none() | st.sampled_from([550, 599, 600, 650, 700])),
        ecosystem_repayment_score_min=draw(st.none() | st.sampled_from([59, 60, 80])),
        max_current_overdue_days=draw(st.none() | st.sampled_from([0, 1, 30])),
        occupations=draw(
            st.none() | st.lists(st.sampled_from(list(Occupation)), min_size=1, unique=True)
        ),
        provinces=draw(st.none() | st.lists(st.sampled_from(PROVINCES), min_size=1, unique=True)),
        county_areas=draw(st.booleans()),
    )


@settings(max_examples=150, deadline=None)
@given(criteria(), profiles())
def test_meets_is_each_criterion_together(c: Criteria, row: dict[str, Any]) -> None:
    assert meets(c, row, AS_OF, REGIONS) == oracle(c, row)


def lender(i: int, purpose: Purpose, lo: str, hi: str, c: Criteria) -> Lender:
    return Lender.model_validate(
        {
            "id": f"l{i}",
            "name": {"zh-CN": f"示例{i}", "en": f"Example {i}"},
            "licence": {"type": "commercial_bank", "number": f"B{i:04d}H244010001"},
            "purpose": purpose,
            "apr": AprRange(min=Decimal(lo), max=Decimal(hi)),
            "criteria": c,
            "fields": ["birth_date"],
            "mini_program": {"app_id": "wx0123456789abcdef", "path": "p"},
        }
    )


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(criteria(), st.sampled_from(list(Purpose)), st.sampled_from(["0.05", "0.1"])),
        min_size=1,
        max_size=6,
    ),
    st.lists(st.sampled_from(["0.12", "0.18", "0.24"]), min_size=6, max_size=6),
    profiles(),
    st.booleans(),
)
def test_matching_keeps_exactly_the_lenders_met_cheapest_first(
    spec: list[tuple[Criteria, Purpose, str]], tops: list[str], row: dict[str, Any], referred: bool
) -> None:
    lenders = tuple(lender(i, p, lo, tops[i], c) for i, (c, p, lo) in enumerate(spec))
    outcome = "referred" if referred else "not_invited"
    found = matching_lenders(Directory("t", lenders), row, AS_OF, REGIONS, outcome, referred)
    purpose = Purpose.BUSINESS if referred else Purpose.CONSUMPTION
    expected = {x.id for x in lenders if x.purpose is purpose and oracle(x.criteria, row)}
    assert {x.id for x in found} == expected
    keys = [(x.apr.max, x.apr.min, x.id) for x in found]
    assert keys == sorted(keys) and tuple(found) == rank(found)


def test_no_lender_for_invitations_reviews_compliance_or_fraud() -> None:
    directory = packaged_directory()
    row = {
        "birth_date": date(1990, 5, 1),
        "is_student": False,
        "occupation": "salaried",
        "city": "深圳",
        "is_county_area": False,
        "consent_credit_data": True,
        "consent_behaviour_data": True,
        "pay_score": 700,
        "current_overdue_days": 0,
        "ecosystem_repayment_score": 90,
    }

    def ids(outcome: str, layers: tuple[str, ...] = (), referred: bool = False) -> list[str]:
        found = matching_lenders(directory, row, AS_OF, REGIONS, outcome, referred, layers)
        return [x.id for x in found]

    assert ids("not_invited", ("credit",)) == ["lanhai_bank", "jinqiao_cfc", "huaxin_cfc"]
    assert ids("invited") == [] and ids("manual_review") == []
    assert ids("not_invited", ("credit", "compliance")) == []
    assert ids("not_invited", ("fraud",)) == []
    assert ids("referred", ("segment",), referred=True) == []  # salaried: no business lender
    row["occupation"] = "small_business_owner"
    assert ids("referred", ("segment",), referred=True) == ["shanhe_mlc"]
    row["is_student"] = True
    assert ids("not_invited", ("credit",)) == []
