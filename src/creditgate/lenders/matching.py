"""Which lenders' published criteria a refused user's profile meets, evaluated in-process.

Nothing leaves the platform to find out: the criteria are the lender's published ones and the
profile is the one the decision used. A refusal the law requires (a compliance reason: age,
identity, consent, students) or a fraud suspicion is never passed on to another lender, and a
business need (a ``referred`` decision) only to lenders that lend for business.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from creditgate.lenders.directory import Criteria, Directory, Lender, Purpose
from creditgate.policy.nodes import Layer, Outcome
from creditgate.population.regions import RegionTable
from creditgate.schema import Consent

NOT_PASSED_ON = frozenset({Layer.COMPLIANCE.value, Layer.FRAUD.value})


def age_on(birth: date, as_of: date) -> int:
    """Full years on ``as_of``."""
    return as_of.year - birth.year - ((as_of.month, as_of.day) < (birth.month, birth.day))


def meets(criteria: Criteria, row: Mapping[str, Any], as_of: date, regions: RegionTable) -> bool:
    """Whether a typed profile row meets every published condition."""
    credit = bool(row.get(Consent.CREDIT.value))
    behaviour = bool(row.get(Consent.BEHAVIOUR.value))
    if row.get("is_student"):
        return False  # no lender here may lend to students (compliance, whatever it publishes)
    if criteria.age is not None:
        age = age_on(row["birth_date"], as_of)
        if not criteria.age.min <= age <= criteria.age.max:
            return False
    if criteria.pay_score_min is not None and not (
        credit and row["pay_score"] >= criteria.pay_score_min
    ):
        return False
    if criteria.max_current_overdue_days is not None and not (
        credit and row["current_overdue_days"] <= criteria.max_current_overdue_days
    ):
        return False
    if criteria.ecosystem_repayment_score_min is not None and not (
        behaviour and row["ecosystem_repayment_score"] >= criteria.ecosystem_repayment_score_min
    ):
        return False
    if criteria.occupations is not None and row["occupation"] not in criteria.occupations:
        return False
    if row.get("is_county_area") and not criteria.county_areas:
        return False
    if criteria.provinces is not None:
        city = regions.lookup(str(row["city"]))
        if city is None or city.province not in criteria.provinces:
            return False
    return True


def rank(lenders: Iterable[Lender]) -> tuple[Lender, ...]:
    """Cheapest first: lowest maximum APR, then lowest minimum, then id (a stable order)."""
    return tuple(sorted(lenders, key=lambda x: (x.apr.max, x.apr.min, x.id)))


def matching_lenders(
    directory: Directory,
    row: Mapping[str, Any],
    as_of: date,
    regions: RegionTable,
    outcome: str,
    referred: bool,
    reason_layers: Iterable[str] = (),
) -> tuple[Lender, ...]:
    """The lenders a decision may name, ranked; none for an invitation, a manual review (not
    refused yet), or a refusal for a compliance or fraud reason."""
    if outcome not in (Outcome.NOT_INVITED, Outcome.REFERRED):
        return ()
    if NOT_PASSED_ON.intersection(reason_layers):
        return ()
    purpose = Purpose.BUSINESS if referred else Purpose.CONSUMPTION
    return rank(
        lender
        for lender in directory.lenders
        if lender.purpose is purpose and meets(lender.criteria, row, as_of, regions)
    )
