"""Which lenders' published criteria a refused user's profile meets, evaluated in-process.

Nothing leaves the platform to find out: the criteria are the lender's published ones and the
profile is the one the decision used. A refusal the law requires (a compliance reason: age,
identity, consent, students) or a fraud suspicion is never passed on to another lender, and a
business need (a ``referred`` decision) only to lenders that lend for business.

Refused decisions are most decisions, so ``LenderMatcher`` prepares each lender's criteria as
plain values and the ranking once; a decision then pays a few comparisons per lender.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any, NamedTuple

from creditgate.lenders.directory import Criteria, Directory, Lender, Purpose
from creditgate.policy.nodes import Layer, Outcome
from creditgate.population.regions import RegionTable
from creditgate.schema import Consent

NOT_PASSED_ON = frozenset({Layer.COMPLIANCE.value, Layer.FRAUD.value})
REFUSED = frozenset({Outcome.NOT_INVITED.value, Outcome.REFERRED.value})
_CREDIT, _BEHAVIOUR = Consent.CREDIT.value, Consent.BEHAVIOUR.value
ProvinceOf = Callable[[str], str | None]


def age_on(birth: date, as_of: date) -> int:
    """Full years on ``as_of``."""
    return as_of.year - birth.year - ((as_of.month, as_of.day) < (birth.month, birth.day))


@dataclass(frozen=True, slots=True)
class Conditions:
    """One lender's criteria as plain values (None: no such condition)."""

    age_min: int | None
    age_max: int | None
    pay_score_min: int | None
    max_overdue_days: int | None
    repayment_score_min: int | None
    occupations: frozenset[str] | None
    provinces: frozenset[str] | None
    county_areas: bool

    @classmethod
    def of(cls, c: Criteria) -> Conditions:
        return cls(
            c.age.min if c.age is not None else None,
            c.age.max if c.age is not None else None,
            c.pay_score_min,
            c.max_current_overdue_days,
            c.ecosystem_repayment_score_min,
            frozenset(o.value for o in c.occupations) if c.occupations is not None else None,
            frozenset(c.provinces) if c.provinces is not None else None,
            c.county_areas,
        )

    def met(self, row: Mapping[str, Any], as_of: date, province_of: ProvinceOf) -> bool:
        """Every condition holds; one on credit or behaviour data fails without its consent."""
        return not row["is_student"] and self.holds(Facts.of(row, as_of), province_of)

    def holds(self, f: Facts, province_of: ProvinceOf) -> bool:
        if self.age_min is not None and not self.age_min <= f.age <= (self.age_max or 200):
            return False
        if self.pay_score_min is not None and (
            f.pay_score is None or f.pay_score < self.pay_score_min
        ):
            return False
        if self.max_overdue_days is not None and (
            f.overdue_days is None or f.overdue_days > self.max_overdue_days
        ):
            return False
        if self.repayment_score_min is not None and (
            f.repayment_score is None or f.repayment_score < self.repayment_score_min
        ):
            return False
        if self.occupations is not None and f.occupation not in self.occupations:
            return False
        if not self.county_areas and f.county_area:
            return False
        return self.provinces is None or province_of(f.city) in self.provinces


class Facts(NamedTuple):  # a NamedTuple: built per decision, a frozen dataclass costs 10x
    """What the criteria read from one profile, read once for every lender; credit and
    behaviour values are None without their consent (they may not be processed)."""

    age: int
    pay_score: int | None
    overdue_days: int | None
    repayment_score: int | None
    occupation: str
    county_area: bool
    city: str

    @classmethod
    def of(cls, row: Mapping[str, Any], as_of: date) -> Facts:
        credit, behaviour = row[_CREDIT], row[_BEHAVIOUR]
        return _new_facts(
            cls,
            (
                age_on(row["birth_date"], as_of),
                row["pay_score"] if credit else None,
                row["current_overdue_days"] if credit else None,
                row["ecosystem_repayment_score"] if behaviour else None,
                row["occupation"],
                bool(row["is_county_area"]),
                row["city"],
            ),
        )


_new_facts: Callable[[type[Facts], tuple[Any, ...]], Facts] = tuple.__new__  # no __new__ call


def province_lookup(regions: RegionTable) -> ProvinceOf:
    """A city's province (None when unknown), memoised: profiles repeat a few hundred cities."""

    @lru_cache(maxsize=4096)
    def province_of(city: str) -> str | None:
        found = regions.lookup(city)
        return found.province if found is not None else None

    return province_of


def meets(criteria: Criteria, row: Mapping[str, Any], as_of: date, regions: RegionTable) -> bool:
    """Whether a typed profile row meets every published condition."""
    return Conditions.of(criteria).met(row, as_of, province_lookup(regions))


def rank(lenders: Iterable[Lender]) -> tuple[Lender, ...]:
    """Cheapest first: lowest maximum APR, then lowest minimum, then id (a stable order)."""
    return tuple(sorted(lenders, key=lambda x: (x.apr.max, x.apr.min, x.id)))


class LenderMatcher:
    """The matching of one directory, prepared: lenders ranked and split by purpose once."""

    def __init__(self, directory: Directory, regions: RegionTable) -> None:
        self.province_of = province_lookup(regions)
        ranked = rank(directory.lenders)
        self.by_purpose = {
            purpose: tuple((x, Conditions.of(x.criteria)) for x in ranked if x.purpose is purpose)
            for purpose in Purpose
        }

    def __call__(
        self,
        row: Mapping[str, Any],
        as_of: date,
        outcome: str,
        referred: bool,
        reason_layers: Iterable[str] = (),
    ) -> tuple[Lender, ...]:
        """The lenders a decision may name, ranked; none for an invitation, a manual review
        (not refused yet), or a refusal for a compliance or fraud reason."""
        if outcome not in REFUSED or not NOT_PASSED_ON.isdisjoint(reason_layers):
            return ()
        if row["is_student"]:
            return ()  # no lender here may lend to students, whatever it publishes
        facts, province_of = Facts.of(row, as_of), self.province_of
        purpose = Purpose.BUSINESS if referred else Purpose.CONSUMPTION
        return tuple(x for x, c in self.by_purpose[purpose] if c.holds(facts, province_of))


def matching_lenders(
    directory: Directory,
    row: Mapping[str, Any],
    as_of: date,
    regions: RegionTable,
    outcome: str,
    referred: bool,
    reason_layers: Iterable[str] = (),
) -> tuple[Lender, ...]:
    """``LenderMatcher`` for one call (tests, tools); the decider keeps one."""
    return LenderMatcher(directory, regions)(row, as_of, outcome, referred, reason_layers)
