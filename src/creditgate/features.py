"""Derived fields, defined once as expressions that every engine compiles.

A derived field also says which consent covers the data it is computed from, whether time alone
moves it (age, account age, the ageing of an overdue record) and from which date, so that
explanations can give an ETA instead of advice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from creditgate.policy.nodes import (
    AsOf,
    Case,
    CmpOp,
    Compare,
    Elapsed,
    Expr,
    Field,
    InSet,
    Literal,
    Ref,
)
from creditgate.population.regions import RegionClass, RegionTable
from creditgate.schema import PROFILE_FIELDS, Consent, Direction
from creditgate.timeutil import Unit


@dataclass(frozen=True, slots=True)
class DerivedField:
    name: str
    expr: Expr
    consent: Consent
    direction: Direction = Direction.NONE
    time_start: str | None = None  # binding holding the date the clock runs from
    unit: Unit | None = None


def derived_fields(regions: RegionTable, unknown_city: str | None) -> tuple[DerivedField, ...]:
    """The derived fields in dependency order (later ones may ``Ref`` earlier ones)."""
    by_class: dict[str, list[str]] = {}
    for city in regions.cities.values():
        by_class.setdefault(city.region_class.value, []).append(city.name)
    region_whens: list[tuple[Expr, Expr]] = []
    for region_class in RegionClass:
        names = by_class.get(region_class.value)
        if names:
            region_whens.append(
                (InSet(Field("city"), regions.spellings(names)), Literal(region_class.value))
            )
    return (
        DerivedField(
            "age",
            Elapsed(Field("birth_date"), Unit.YEARS),
            Consent.NONE,
            Direction.UP,
            time_start="birth_date",
            unit=Unit.YEARS,
        ),
        DerivedField(
            "account_age_days",
            Elapsed(Field("registered_at"), Unit.DAYS),
            Consent.NONE,
            Direction.UP,
            time_start="registered_at",
            unit=Unit.DAYS,
        ),
        # Being overdue today means the most recent overdue is today: repaying starts the clock.
        DerivedField(
            "last_overdue_date",
            Case(
                ((Compare(CmpOp.GT, Field("current_overdue_days"), Literal(0)), AsOf()),),
                Field("last_overdue_on"),
            ),
            Consent.CREDIT,
        ),
        DerivedField(
            "months_since_last_overdue",
            Elapsed(Ref("last_overdue_date"), Unit.MONTHS),
            Consent.CREDIT,
            Direction.UP,
            time_start="last_overdue_date",
            unit=Unit.MONTHS,
        ),
        DerivedField(
            "region_class",
            Case(
                ((Field("is_county_area"), Literal(RegionClass.COUNTY.value)),),
                Case(tuple(region_whens), Literal(unknown_city)),
            ),
            Consent.NONE,
        ),
    )


def consent_of(name: str, derived: Mapping[str, DerivedField]) -> Consent:
    """The consent that covers a raw or derived field."""
    if name in PROFILE_FIELDS:
        return PROFILE_FIELDS[name].consent
    return derived[name].consent


def by_name(fields: tuple[DerivedField, ...]) -> Mapping[str, DerivedField]:
    return MappingProxyType({f.name: f for f in fields})
