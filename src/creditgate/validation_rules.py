"""The profile's cross-field and as-of rules, declared once as data.

Both validators compile this list: ``profile.check_semantics`` (real time) evaluates each rule
on a validated row with ``violated``, and ``batch.validate`` turns each into a column predicate
for the quarantine. A rule names the field it blames and words its own message, so a profile
refused in real time and the same row quarantined in a batch give the same reason (the batch
adds the evaluation date where a file's rows cannot show it). The per-field rules (types,
ranges, choices, text length) live on ``schema.FieldSpec``; the known-city rule needs the region
table and stays with each validator.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Final

from creditgate.schema import DATE_FIELDS_NOT_AFTER_AS_OF
from creditgate.timeutil import Unit, add_units

MAX_AGE_YEARS = 120  # an older birth date is a typo or a placeholder, not a person


@dataclass(frozen=True, slots=True)
class NotAfterAsOf:
    """A date that cannot lie after the evaluation date."""

    field: str

    def message(self, as_of: date | None = None) -> str:
        return "is after the evaluation date" + (f" {as_of}" if as_of is not None else "")


@dataclass(frozen=True, slots=True)
class NotOlderThan:
    """A date at most ``years`` before the evaluation date."""

    field: str
    years: int

    def oldest(self, as_of: date) -> date:
        return add_units(as_of, -self.years, Unit.YEARS)

    def message(self, as_of: date | None = None) -> str:
        return f"is more than {self.years} years before the evaluation date"


@dataclass(frozen=True, slots=True)
class RequiredWhenPositive:
    """``field`` must be given when the count ``when`` is above zero."""

    field: str
    when: str

    def message(self, as_of: date | None = None) -> str:
        return f"required when {self.when} > 0"


@dataclass(frozen=True, slots=True)
class NotBefore:
    """``field`` cannot lie before ``other`` (checked only when ``other`` is itself not after
    the evaluation date: that one is ``other``'s own problem)."""

    field: str
    other: str

    def message(self, as_of: date | None = None) -> str:
        return f"is before {self.other}"


Rule = NotAfterAsOf | NotOlderThan | RequiredWhenPositive | NotBefore

SEMANTIC_RULES: Final[tuple[Rule, ...]] = (
    *(NotAfterAsOf(name) for name in DATE_FIELDS_NOT_AFTER_AS_OF),
    NotOlderThan("birth_date", MAX_AGE_YEARS),
    RequiredWhenPositive("last_overdue_on", "overdue_count_24m"),
    NotBefore("registered_at", "birth_date"),
)
"""In the order problems are reported."""


def violated(rule: Rule, row: dict[str, Any], as_of: date) -> bool:
    """Whether ``row`` (every field valid on its own) breaks ``rule``."""
    if isinstance(rule, NotAfterAsOf):
        value = row.get(rule.field)
        return value is not None and bool(value > as_of)
    if isinstance(rule, NotOlderThan):
        return bool(row[rule.field] < rule.oldest(as_of))
    if isinstance(rule, RequiredWhenPositive):
        return bool(row[rule.when] > 0) and row.get(rule.field) is None
    other = row[rule.other]
    return bool(other > row[rule.field]) and bool(other <= as_of)
