"""Derived fields, defined once as expressions that every engine compiles.

A derived field also says which consent covers the data it is computed from, whether time alone
moves it (age, account age, the ageing of an overdue record) and from which date, so that
explanations can give an ETA instead of advice. Its static facts (type, range, choices, the
recourse message key) are declared once here, in ``DERIVED_SPECS``: the policy loader types
thresholds by them, the lint bounds gates by them and recourse words its steps by them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType
from typing import Final

from creditgate.policy.bindings import Scope
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
    NodeTypeError,
    type_of_class,
)
from creditgate.population.regions import RegionClass, RegionTable
from creditgate.schema import PROFILE_FIELDS, Consent, Direction
from creditgate.timeutil import Unit

INF = float("inf")


@dataclass(frozen=True, slots=True)
class DerivedSpec:
    """What a derived field is, whatever the region table: the one declaration of its facts."""

    name: str
    type: type
    consent: Consent
    direction: Direction = Direction.NONE
    time_start: str | None = None  # binding holding the date the clock runs from
    unit: Unit | None = None
    range: tuple[float, float] | None = None  # the values it can take (numbers only)
    choices: tuple[str, ...] = ()  # the values it can take (strings only)
    message: str | None = None  # recourse message key ("recourse" catalogue), when not generic


_SPECS: Final = (
    DerivedSpec(
        "age",
        int,
        Consent.NONE,
        Direction.UP,
        time_start="birth_date",
        unit=Unit.YEARS,
        range=(0, 150),
    ),
    DerivedSpec(
        "account_age_days",
        int,
        Consent.NONE,
        Direction.UP,
        time_start="registered_at",
        unit=Unit.DAYS,
        range=(0, INF),
    ),
    DerivedSpec("last_overdue_date", date, Consent.CREDIT),
    DerivedSpec(
        "months_since_last_overdue",
        int,
        Consent.CREDIT,
        Direction.UP,
        time_start="last_overdue_date",
        unit=Unit.MONTHS,
        range=(0, INF),
        message="wait_overdue",
    ),
    DerivedSpec("region_class", str, Consent.NONE, choices=tuple(c.value for c in RegionClass)),
)

DERIVED_SPECS: Final = MappingProxyType({s.name: s for s in _SPECS})
"""The derived fields' static facts by name, in dependency order."""


@dataclass(frozen=True, slots=True)
class DerivedField:
    """A derived field's declaration (``DERIVED_SPECS``) with its expression."""

    spec: DerivedSpec
    expr: Expr

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def consent(self) -> Consent:
        return self.spec.consent

    @property
    def direction(self) -> Direction:
        return self.spec.direction

    @property
    def time_start(self) -> str | None:
        return self.spec.time_start

    @property
    def unit(self) -> Unit | None:
        return self.spec.unit


def derived_fields(regions: RegionTable, unknown_city: str | None) -> tuple[DerivedField, ...]:
    """The derived fields in dependency order (later ones may ``Ref`` earlier ones)."""
    scope = Scope()
    by_class: dict[str, list[str]] = {}
    for city in regions.cities.values():
        by_class.setdefault(city.region_class.value, []).append(city.name)
    region_whens: list[tuple[Expr, Expr]] = []
    for region_class in RegionClass:
        names = by_class.get(region_class.value)
        if names:
            region_whens.append(
                (InSet(Field.of("city"), regions.spellings(names)), Literal(region_class.value))
            )
    exprs: dict[str, Callable[[], Expr]] = {
        "age": lambda: Elapsed(Field.of("birth_date"), Unit.YEARS),
        "account_age_days": lambda: Elapsed(Field.of("registered_at"), Unit.DAYS),
        # Being overdue today means the most recent overdue is today: repaying starts the clock.
        "last_overdue_date": lambda: Case(
            ((Compare(CmpOp.GT, Field.of("current_overdue_days"), Literal(0)), AsOf()),),
            Field.of("last_overdue_on"),
        ),
        "months_since_last_overdue": lambda: Elapsed(scope.ref("last_overdue_date"), Unit.MONTHS),
        "region_class": lambda: Case(
            ((Field.of("is_county_area"), Literal(RegionClass.COUNTY.value)),),
            Case(tuple(region_whens), Literal(unknown_city)),
        ),
    }
    out: list[DerivedField] = []
    for name, spec in DERIVED_SPECS.items():
        expr = exprs[name]()  # built in order: a later one reads an earlier one's facts
        if expr.type is not type_of_class(spec.type):
            raise NodeTypeError(f"derived field {name}: declared {spec.type}, is {expr.type}")
        scope.note(name, expr)
        out.append(DerivedField(spec, expr))
    return tuple(out)


def consent_of(name: str, derived: Mapping[str, DerivedField]) -> Consent:
    """The consent that covers a raw or derived field."""
    if name in PROFILE_FIELDS:
        return PROFILE_FIELDS[name].consent
    return derived[name].consent


def by_name(fields: tuple[DerivedField, ...]) -> Mapping[str, DerivedField]:
    return MappingProxyType({f.name: f for f in fields})
