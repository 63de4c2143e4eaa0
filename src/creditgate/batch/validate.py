"""Batch validation: ``profile.validate_profile``'s rules as column expressions.

Every check is derived from ``schema.PROFILE_FIELDS`` (types, nullability, ranges, choices,
string lengths, decimal places) plus the semantic rules of ``profile.check_semantics`` (dates
not after the evaluation date, ``last_overdue_on`` when overdue, ``registered_at`` not before
``birth_date``, a known city). A bad row is never fixed: it goes to quarantine with a reason
naming each bad field. Cities are canonicalised exactly as ``profile.canonical_city`` does, by
running that function on the file's distinct city values (a few hundred), not by a SQL
re-implementation of its Unicode whitespace rules.

Duplicate ``user_id``s are quarantined *all* copies: which copy is right cannot be known, and
keeping the first would be a silent choice.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from creditgate.policy.nodes import Policy
from creditgate.population.regions import RegionTable
from creditgate.profile import canonical_city
from creditgate.schema import DATE_FIELDS_NOT_AFTER_AS_OF, PROFILE_FIELDS, FieldSpec

REASON_COLUMN = "quarantine_reason"
MAX_STR = 64  # profile._annotation: strings are 1..64 characters
MONEY = dt.Decimal(14, 2)
WIDE = dt.Decimal(38, 10)  # parse money wide first, so extra decimal places are seen, not rounded
_TYPES: dict[type, dt.DataType] = {
    str: dt.string,
    date: dt.date,
    bool: dt.boolean,
    int: dt.int64,
    float: dt.float64,
    Decimal: MONEY,
}


@dataclass(frozen=True)
class CityRules:
    """Per distinct raw city value: its canonical spelling and, when unknown, the problem."""

    canonical: dict[str, str]
    unknown: dict[str, str]


def city_rules(raw_cities: Iterable[str | None], policy: Policy, regions: RegionTable) -> CityRules:
    canonical: dict[str, str] = {}
    unknown: dict[str, str] = {}
    for raw in raw_cities:
        if raw is None:
            continue
        city = canonical_city(raw)
        if city != raw:
            canonical[raw] = city
        if policy.unknown_city is None and regions.lookup(city) is None:
            try:
                regions.require(city)
            except ValueError as exc:
                unknown[raw] = f"city: {exc}"
    return CityRules(canonical, unknown)


def missing_columns(table: ir.Table) -> list[str]:
    return [name for name in PROFILE_FIELDS if name not in table.columns]


def _typed(raw: ir.Value, spec: FieldSpec) -> tuple[ir.Value, ir.Value | None]:
    """(value in the contract type, "present but not parseable" flag or None)."""
    target = _TYPES[spec.type]
    if raw.type() == target:
        return raw, None
    if spec.type is Decimal:
        wide = raw.try_cast(WIDE)
        value = wide.try_cast(MONEY)
        return value, raw.notnull() & (value.isnull() | (wide != value.cast(WIDE)))
    if raw.type().is_string() or spec.type is not str:
        value = raw.try_cast(target)
    else:
        value = raw.cast(target)
    return value, raw.notnull() & value.isnull()


def _problem(condition: ir.Value, message: str | ir.Value) -> ir.Value:
    text = ibis.literal(message) if isinstance(message, str) else message
    return ibis.ifelse(condition.fill_null(False), text, ibis.null("string"))


def _field_problems(
    raw: ir.Value, value: ir.Value, bad: ir.Value | None, spec: FieldSpec
) -> list[ir.Value]:
    name = spec.name
    out: list[ir.Value] = []
    if not spec.nullable:
        out.append(_problem(raw.isnull(), f"{name}: required, got null"))
    if bad is not None:
        kind = "a decimal with at most 2 places" if spec.type is Decimal else spec.type.__name__
        out.append(_problem(bad, f"{name}: not a valid {kind}"))
    if spec.type is float:
        out.append(_problem(value.isnan() | value.isinf(), f"{name}: must be finite"))
    if spec.ge is not None:
        out.append(_problem(value < spec.ge, f"{name}: must be >= {spec.ge}"))
    if spec.le is not None:
        out.append(_problem(value > spec.le, f"{name}: must be <= {spec.le}"))
    if spec.choices:
        listed = ", ".join(spec.choices)
        out.append(_problem(~value.isin(list(spec.choices)), f"{name}: must be one of {listed}"))
    if spec.type is str:
        length = value.length()
        out.append(_problem((length < 1) | (length > MAX_STR), f"{name}: 1..{MAX_STR} characters"))
    return out


def _joined(problems: list[ir.Value]) -> ir.Value:
    """The non-NULL problems joined with '; ', NULL when there are none."""
    text = ibis.array(problems).filter(lambda p: p.notnull()).join("; ")
    return ibis.ifelse(text == "", ibis.null("string"), text)


def checked(
    table: ir.Table,
    as_of: date,
    cities: CityRules,
    duplicates: ir.Table | None = None,
) -> ir.Table:
    """``table``'s raw columns, ``quarantine_reason`` (NULL: valid) and ``_v_<field>`` typed.

    ``duplicates`` (columns ``_dup_id``, ``_dup_count``) lists the ids seen more than once.
    """
    raw_columns = list(table.columns)
    if duplicates is not None:
        table = table.left_join(duplicates, table["user_id"] == duplicates["_dup_id"])
    typed: dict[str, ir.Value] = {}
    problems: list[ir.Value] = []
    for name, spec in PROFILE_FIELDS.items():
        raw = table[name]
        value, bad = _typed(raw, spec)
        typed[name] = value
        problems.extend(_field_problems(raw, value, bad, spec))

    semantic: list[ir.Value] = []
    as_of_lit = ibis.literal(as_of, type="date")
    for name in DATE_FIELDS_NOT_AFTER_AS_OF:
        semantic.append(
            _problem(typed[name] > as_of_lit, f"{name}: is after the evaluation date {as_of}")
        )
    semantic.append(
        _problem(
            (typed["overdue_count_24m"] > 0) & typed["last_overdue_on"].isnull(),
            "last_overdue_on: required when overdue_count_24m > 0",
        )
    )
    semantic.append(
        _problem(
            (typed["birth_date"] > typed["registered_at"]) & (typed["birth_date"] <= as_of_lit),
            "registered_at: is before birth_date",
        )
    )
    if cities.unknown:
        semantic.append(
            ibis.cases(
                *((typed["city"] == r, ibis.literal(m)) for r, m in cities.unknown.items()),
                else_=ibis.null("string"),
            )
        )
    if cities.canonical:
        typed["city"] = ibis.cases(
            *((typed["city"] == r, ibis.literal(c)) for r, c in cities.canonical.items()),
            else_=typed["city"],
        )
    # As validate_profile: semantic rules are checked only once every field is valid.
    reason = ibis.coalesce(_joined(problems), _joined(semantic))
    if duplicates is not None:
        count = table["_dup_count"].cast("string")
        dup = _problem(
            table["_dup_count"].notnull(),
            "user_id: duplicate (" + count + " rows with this id, all quarantined)",
        )
        reason = _joined([reason, dup])
    return table.select(
        *raw_columns, **{REASON_COLUMN: reason}, **{f"_v_{k}": v for k, v in typed.items()}
    )


def valid_profiles(checked_table: ir.Table) -> ir.Table:
    """The rows without a problem, as contract-typed profile columns."""
    good = checked_table.filter(checked_table[REASON_COLUMN].isnull())
    return good.select(**{name: good[f"_v_{name}"] for name in PROFILE_FIELDS})


def quarantined(checked_table: ir.Table) -> ir.Table:
    """The rows with a problem: their input columns as read, plus the reason."""
    bad = checked_table.filter(checked_table[REASON_COLUMN].notnull())
    return bad.select(*(c for c in bad.columns if not c.startswith("_v_")))


def duplicate_ids(table: ir.Table) -> ir.Table:
    """Ids seen more than once (``_dup_id``, ``_dup_count``); a small table in practice."""
    counts = table.group_by(_dup_id=table["user_id"]).agg(_dup_count=table.count())
    return counts.filter((counts["_dup_count"] > 1) & counts["_dup_id"].notnull())
