"""Batch validation: ``profile.validate_profile``'s rules as column expressions.

Every check is derived from ``schema.PROFILE_FIELDS`` (types, nullability, ranges, choices,
string lengths, decimal places) plus the rules between fields that ``profile.check_semantics``
also runs, compiled from their one declaration (``validation_rules.SEMANTIC_RULES``: dates
not after the evaluation date, ``last_overdue_on`` when overdue, ``registered_at`` not before
``birth_date``, no birth date more than 120 years back), a known city and the user id
character set of ``identifiers``. A bad row is never fixed: it goes to quarantine with a reason
naming each bad field. Cities are canonicalised exactly as ``profile.canonical_city`` does, by
running that function on the file's distinct city values (a few hundred), not by a SQL
re-implementation of its Unicode whitespace rules.

Duplicate ``user_id``s are quarantined *all* copies: which copy is right cannot be known, and
keeping the first would be a silent choice.

User ids: control, format and edge-space characters are found by regular expressions whose
code-point classes come from Python's Unicode tables (so DuckDB and Spark agree with
``identifiers`` exactly); NFC is checked in Python on the distinct ids that contain a code
point that could break it (``id_candidates``: none at all in an ASCII or CJK id), like cities.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from creditgate.identifiers import (
    SUSPECT_PATTERN,
    edge_pattern,
    forbidden_pattern,
    maybe_not_nfc_pattern,
    not_nfc,
)
from creditgate.policy.nodes import Policy
from creditgate.population.regions import RegionTable
from creditgate.profile import canonical_city
from creditgate.schema import MONEY_PLACES, PROFILE_FIELDS, FieldSpec
from creditgate.validation_rules import (
    SEMANTIC_RULES,
    NotAfterAsOf,
    NotBefore,
    NotOlderThan,
    RequiredWhenPositive,
    Rule,
)

REASON_COLUMN = "quarantine_reason"
MONEY = dt.Decimal(14, MONEY_PLACES)
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


def id_candidates(table: ir.Table) -> ir.Table:
    """The distinct ids (contract-typed, column ``user_id``) that might not be NFC."""
    ids = typed(table, "user_id")
    maybe = ibis.ifelse(
        ids.re_search(SUSPECT_PATTERN), ids.re_search(maybe_not_nfc_pattern()), False
    )
    return table.select(user_id=ids).filter(maybe).distinct()


def not_nfc_ids(candidates: Iterable[str | None]) -> tuple[str, ...]:
    return tuple(not_nfc(candidates))


def _user_id_problems(value: ir.StringValue, not_nfc: Sequence[str]) -> list[Problem]:
    """``identifiers.user_id_problem``'s character rules (its length rule is the string one).

    A regular expression costs about the same per row whatever its class (RE2's per-call
    overhead dominates), so the two large classes are searched only in ids with a character
    outside printable, non-space ASCII (``SUSPECT_PATTERN``): one search per row, not two."""
    suspect = value.re_search(SUSPECT_PATTERN)
    out: list[Problem] = [
        (
            ibis.ifelse(suspect, value.re_search(forbidden_pattern()), False),
            "user_id: must not contain control or format characters",
        ),
        (
            ibis.ifelse(suspect, value.re_search(edge_pattern()), False),
            "user_id: must not start or end with whitespace",
        ),
    ]
    if not_nfc:
        out.append((value.isin(list(not_nfc)), "user_id: must be NFC-normalised"))
    return out


def missing_columns(table: ir.Table) -> list[str]:
    """Contract columns the input lacks (an optional one, ``schema.OPTIONAL_FIELDS``, may be
    left out: ``engines.ibis.with_optional_fields`` adds it as NULL)."""
    return [
        name
        for name, spec in PROFILE_FIELDS.items()
        if not spec.optional and name not in table.columns
    ]


def _typed(raw: ir.Value, spec: FieldSpec) -> ir.Value | None:
    """``raw`` in the contract type, or None when it already has that type."""
    target = _TYPES[spec.type]
    if raw.type() == target:
        return None
    if spec.type is Decimal:
        return raw.try_cast(WIDE).try_cast(MONEY)
    if raw.type().is_string() or spec.type is not str:
        return raw.try_cast(target)
    return raw.cast(target)


def typed(table: ir.Table, name: str) -> ir.Value:
    """Column ``name`` of ``table`` in the contract type (NULL where it does not convert)."""
    cast = _typed(table[name], PROFILE_FIELDS[name])
    return table[name] if cast is None else cast


def _unparsed(raw: ir.Value, value: ir.Value, spec: FieldSpec) -> ir.BooleanValue:
    """Present but not parseable, or changed by the conversion: a typed value the contract
    type cannot hold exactly is never rounded into it (584.5 is not a pay score, 2 is not a
    boolean, 05:00 on a day is not a date, money has at most 2 decimal places)."""
    lost = value.isnull()
    if spec.type is Decimal:
        lost = lost | (raw.try_cast(WIDE) != value.cast(WIDE))
    kind = raw.type()
    if kind.is_numeric() or kind.is_boolean() or kind.is_temporal():
        lost = lost | (value.cast(kind) != raw)
    if kind.is_floating():
        # NaN and infinities are never a contract value; said outright, because DuckDB may
        # cast NaN to a number when the column's statistics say the values fit (a NaN beside
        # a pay score of 300 was decided as one)
        lost = lost | raw.isnan() | raw.isinf()
    return raw.notnull() & lost


Problem = tuple[ir.BooleanValue, str | ir.StringValue]
"""A condition (NULL: not a problem) and the message naming it."""

BAD_COLUMN = "_cg_bad"  # True: the row goes to quarantine


def _field_problems(
    raw: ir.Value, value: ir.Value, bad: ir.Value | None, spec: FieldSpec
) -> list[Problem]:
    name = spec.name
    out: list[Problem] = []
    if not spec.nullable:
        out.append((raw.isnull(), f"{name}: required, got null"))
    if bad is not None:
        kind = (
            f"decimal with at most {MONEY_PLACES} places"
            if spec.type is Decimal
            else spec.type.__name__
        )
        out.append((bad, f"{name}: not a valid {kind}"))
    if spec.type is float:
        out.append((value.isnan() | value.isinf(), f"{name}: must be finite"))
    if spec.ge is not None:
        out.append((value < spec.ge, f"{name}: must be >= {spec.ge}"))
    if spec.le is not None:
        out.append((value > spec.le, f"{name}: must be <= {spec.le}"))
    if spec.choices:
        listed = ", ".join(spec.choices)
        out.append((~value.isin(list(spec.choices)), f"{name}: must be one of {listed}"))
    if spec.length is not None:
        lo, hi = spec.length
        length = value.length()
        out.append(((length < lo) | (length > hi), f"{name}: {lo}..{hi} characters"))
    return out


def _any(problems: list[Problem]) -> ir.BooleanValue:
    """TRUE when some condition holds (NULL conditions do not). One default for the whole
    disjunction rather than one per condition: under SQL's three-valued logic ``OR`` is TRUE
    when an operand is, else NULL or FALSE, so a single ``COALESCE(..., FALSE)`` gives the
    same flag with one COALESCE per row instead of one per condition."""
    if not problems:
        return ibis.literal(False)
    flag: ir.BooleanValue = problems[0][0]
    for condition, _ in problems[1:]:
        flag = flag | condition
    return flag.fill_null(False)


def _joined(problems: list[Problem]) -> ir.StringValue:
    """The messages of the conditions that hold, joined with '; ', NULL when none does."""
    texts = [
        ibis.ifelse(
            c.fill_null(False), ibis.literal(m) if isinstance(m, str) else m, ibis.null("string")
        )
        for c, m in problems
    ]
    joined: ir.StringValue = ibis.literal("; ").join(texts)
    return joined.nullif("")


def _violated(rule: Rule, typed: dict[str, ir.Value], as_of: date) -> ir.BooleanValue:
    """``validation_rules.violated`` as a column predicate (NULL: not a problem)."""
    as_of_lit = ibis.literal(as_of, type="date")
    if isinstance(rule, NotAfterAsOf):
        return typed[rule.field] > as_of_lit
    if isinstance(rule, NotOlderThan):
        return typed[rule.field] < ibis.literal(rule.oldest(as_of), type="date")
    if isinstance(rule, RequiredWhenPositive):
        return (typed[rule.when] > 0) & typed[rule.field].isnull()
    assert isinstance(rule, NotBefore)
    other = typed[rule.other]
    return (other > typed[rule.field]) & (other <= as_of_lit)


def _semantic_problems(typed: dict[str, ir.Value], as_of: date, cities: CityRules) -> list[Problem]:
    """``profile.check_semantics``, over the typed values (before city canonicalisation)."""
    out: list[Problem] = [
        (_violated(rule, typed, as_of), f"{rule.field}: {rule.message(as_of)}")
        for rule in SEMANTIC_RULES
    ]
    if cities.unknown:
        message = ibis.cases(
            *((typed["city"] == r, ibis.literal(m)) for r, m in cities.unknown.items()),
            else_=ibis.null("string"),
        )
        out.append((typed["city"].isin(list(cities.unknown)), message))
    return out


def checked(
    table: ir.Table,
    as_of: date,
    cities: CityRules,
    duplicates: ir.Table | None = None,
    not_nfc: Sequence[str] = (),
) -> ir.Table:
    """``table``'s raw columns, ``quarantine_reason`` (NULL: valid) and ``_v_<field>`` typed.

    ``duplicates`` (columns ``_dup_id``, ``_dup_count``) lists the ids seen more than once;
    ``not_nfc`` the ids that are not NFC (``not_nfc_ids(id_candidates(...))``).
    One projection of cheap boolean tests decides validity (``_cg_bad``); the reason text is
    built only for the bad rows, which are few, so a clean file pays for the tests alone.
    """
    raw_columns = list(table.columns)
    if duplicates is not None:
        # The ids were counted contract-typed (``_typed``: a string).
        ids = (
            table["user_id"]
            if table["user_id"].type().is_string()
            else table["user_id"].cast("string")
        )
        table = table.left_join(duplicates, ids == duplicates["_dup_id"])
    # Stage 1: contract-typed values, so later tests read a column, not a repeated cast.
    casts = {name: _typed(table[name], spec) for name, spec in PROFILE_FIELDS.items()}
    table = table.mutate(**{f"_v_{k}": table[k] if v is None else v for k, v in casts.items()})
    typed = {name: table[f"_v_{name}"] for name in PROFILE_FIELDS}
    problems: list[Problem] = []
    for name, spec in PROFILE_FIELDS.items():
        raw, value = table[name], typed[name]
        unparsed = None if casts[name] is None else _unparsed(raw, value, spec)
        problems.extend(_field_problems(raw, value, unparsed, spec))
    problems.extend(_user_id_problems(typed["user_id"], not_nfc))
    semantic = _semantic_problems(typed, as_of, cities)
    duplicate: list[Problem] = []
    if duplicates is not None:
        count = table["_dup_count"].cast("string")
        duplicate.append(
            (
                table["_dup_count"].notnull(),
                "user_id: duplicate (" + count + " rows with this id, all quarantined)",
            )
        )
    # As validate_profile: semantic rules are reported only once every field is valid.
    reason = ibis.coalesce(_joined(problems), _joined(semantic))
    if duplicate:
        reason = ibis.literal("; ").join([reason, _joined(duplicate)])
    bad = _any(problems) | _any(semantic) | _any(duplicate)
    city = typed["city"]
    if cities.canonical:
        city = ibis.cases(
            *((city == r, ibis.literal(c)) for r, c in cities.canonical.items()), else_=city
        )
    # Stage 2: the flag once, then the reason text only where it is set (a CASE branch).
    table = table.mutate(**{BAD_COLUMN: bad, "_v_city": city, "_cg_reason": reason})
    return table.select(
        *raw_columns,
        **{REASON_COLUMN: ibis.ifelse(table[BAD_COLUMN], table["_cg_reason"], ibis.null("string"))},
        **{f"_v_{k}": table[f"_v_{k}"] for k in PROFILE_FIELDS},
        **{BAD_COLUMN: table[BAD_COLUMN]},
    )


def profiles(checked_table: ir.Table) -> ir.Table:
    """Every row as contract-typed profile columns plus the ``_cg_bad`` flag (no filter)."""
    t = checked_table
    return t.select(
        **{name: t[f"_v_{name}"] for name in PROFILE_FIELDS}, **{BAD_COLUMN: t[BAD_COLUMN]}
    )


def valid_profiles(checked_table: ir.Table) -> ir.Table:
    """The rows without a problem, as contract-typed profile columns."""
    good = checked_table.filter(~checked_table[BAD_COLUMN])
    return good.select(**{name: good[f"_v_{name}"] for name in PROFILE_FIELDS})


def typed_profiles(table: ir.Table) -> ir.Table:
    """Every row of an input as contract-typed profile columns and nothing else: the profiles
    of an input known clean, without ``checked``'s tests (whose IN-list joins cost a pass and
    lose the input's row order, which ``batch.profiles.write_sorted_profiles`` can then not use)."""
    return table.select(**{name: typed(table, name) for name in PROFILE_FIELDS})


def quarantined(checked_table: ir.Table) -> ir.Table:
    """The rows with a problem: their input columns as read, plus the reason."""
    bad = checked_table.filter(checked_table[BAD_COLUMN])
    return bad.select(*(c for c in bad.columns if not c.startswith("_v_") and c != BAD_COLUMN))


def duplicate_ids(table: ir.Table) -> ir.Table:
    """Ids seen more than once (``_dup_id``, ``_dup_count``); a small table in practice."""
    counts = table.group_by(_dup_id=table["user_id"]).agg(_dup_count=table.count())
    return counts.filter((counts["_dup_count"] > 1) & counts["_dup_id"].notnull())
