"""Real-time validation and the batch quarantine compile one set of rules: a differential test.

Generated rows, each a valid profile with one to three contract-typed faults or edges (out of range,
too long, not a choice, NULL where required, NaN, too many decimal places, dates against the
evaluation date and each other, a bad user id, an unknown city), go through both validators:
``profile.validate_profile`` and ``batch.validate.checked`` on DuckDB. They must agree on
which rows are bad and on which fields each names, and where only the rules between fields
(``validation_rules.SEMANTIC_RULES``) fail, on the words too (the batch adds the date).
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import ibis
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from creditgate.batch.backends import duckdb_backend
from creditgate.batch.validate import REASON_COLUMN, checked, city_rules, not_nfc_ids
from creditgate.population.regions import load_regions
from creditgate.profile import ProfileError, profile_model, validate_profile
from creditgate.schema import PROFILE_FIELDS, TEXT_LENGTH
from creditgate.validation_rules import (
    SEMANTIC_RULES,
    NotAfterAsOf,
    NotBefore,
    NotOlderThan,
    RequiredWhenPositive,
    violated,
)
from strategies import AS_OF, DEFAULT_POLICY, profiles, strong_profile

REGIONS = load_regions()
_ARROW = {
    str: pa.string(),
    date: pa.date32(),
    bool: pa.bool_(),
    int: pa.int64(),
    float: pa.float64(),
    Decimal: pa.decimal128(20, 4),  # room for a third decimal place, which must be refused
}
BACKEND = duckdb_backend("512MB", 1)


def _numeric_faults(name: str) -> list[Any]:
    spec = PROFILE_FIELDS[name]
    step = {int: 1, float: 0.5, Decimal: Decimal("0.01")}[spec.type]
    out: list[Any] = []  # the edges themselves too: valid, and must stay so in both
    if spec.ge is not None:
        out += [spec.type(spec.ge) - step, spec.type(spec.ge)]
    if spec.le is not None:
        out += [spec.type(spec.le) + step, spec.type(spec.le)]
    if spec.type is float:
        out += [math.nan, math.inf]
    if spec.type is Decimal:
        out.append(Decimal("12.345"))
    return out


FAULTS: dict[str, list[Any]] = {
    name: _numeric_faults(name)
    for name, spec in PROFILE_FIELDS.items()
    if spec.type in (int, float, Decimal)
}
FAULTS["occupation"] = ["pilot", ""]
FAULTS["city"] = ["", "x" * (TEXT_LENGTH[1] + 1), "Atlantis"]
FAULTS["user_id"] = [
    "",
    "u" * TEXT_LENGTH[1],
    "u" * (TEXT_LENGTH[1] + 1),
    "u\x07",
    " u1",
    "u1\u3000",
    "e\u0301",
]
DATE_FAULTS = {
    "birth_date": [AS_OF + timedelta(days=1), date(1900, 1, 1)],
    "last_overdue_on": [AS_OF + timedelta(days=3)],
    "invited_since": [AS_OF + timedelta(days=1)],
    "registered_at": [AS_OF + timedelta(days=2)],
}


@st.composite
def faulty_rows(draw: st.DrawFn) -> dict[str, Any]:
    row = dict(draw(profiles()))
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["value", "null", "date", "registered_first", "no_last"]))
        if kind == "value":
            name = draw(st.sampled_from(sorted(FAULTS)))
            row[name] = draw(st.sampled_from(FAULTS[name]))
        elif kind == "null":
            name = draw(st.sampled_from([n for n, s in PROFILE_FIELDS.items() if not s.nullable]))
            row[name] = None
        elif kind == "date":
            name = draw(st.sampled_from(sorted(DATE_FAULTS)))
            row[name] = draw(st.sampled_from(DATE_FAULTS[name]))
        elif kind == "registered_first" and row["birth_date"] is not None:
            row["registered_at"] = row["birth_date"] - timedelta(days=1)
        elif kind == "no_last":
            row["overdue_count_24m"], row["last_overdue_on"] = 2, None
    return row


def _named(problems: str) -> set[str]:
    """The contract fields a '; '-joined reason names (a city's hint may hold '; ' too)."""
    return {p.split(": ", 1)[0] for p in problems.split("; ")} & set(PROFILE_FIELDS)


def realtime(row: dict[str, Any]) -> str | None:
    try:
        validate_profile(dict(row), AS_OF, DEFAULT_POLICY, REGIONS)
    except ProfileError as exc:
        return str(exc)
    return None


def batch(rows: list[dict[str, Any]]) -> list[str | None]:
    columns = {
        name: pa.array([r.get(name) for r in rows], _ARROW[spec.type])
        for name, spec in PROFILE_FIELDS.items()
    }
    table = pa.table({**columns, "_row": pa.array(range(len(rows)), pa.int64())})
    cities = city_rules({r["city"] for r in rows}, DEFAULT_POLICY, REGIONS)
    not_nfc = not_nfc_ids(r["user_id"] for r in rows)
    out = checked(ibis.memtable(table), AS_OF, cities, not_nfc=not_nfc)
    got = BACKEND.fetch(out.select("_row", REASON_COLUMN)).to_pylist()
    return [r[REASON_COLUMN] for r in sorted(got, key=lambda r: r["_row"])]


def fields_valid(row: dict[str, Any]) -> bool:
    try:
        profile_model().model_validate(row)
    except Exception:
        return False
    return True


@settings(max_examples=25, deadline=None)
@given(st.lists(faulty_rows(), min_size=1, max_size=20))
def test_batch_quarantine_and_realtime_validation_agree(rows: list[dict[str, Any]]) -> None:
    _agree(rows)


def _agree(rows: list[dict[str, Any]]) -> None:
    for row, reason in zip(rows, batch(rows), strict=True):
        expected = realtime(row)
        assert (reason is None) == (expected is None), (row, expected, reason)
        if expected is None or reason is None:
            continue
        assert _named(reason) == _named(expected), (row, expected, reason)
        if fields_valid(row) and "city" not in _named(expected):
            assert reason.replace(f"evaluation date {AS_OF}", "evaluation date") == expected


def test_each_fault_and_edge_alone_is_judged_alike() -> None:
    """Every listed value, one at a time in an otherwise strong profile: all in one batch."""
    rows = [
        {**strong_profile(), name: value}
        for name, values in {**FAULTS, **DATE_FAULTS}.items()
        for value in values
    ]
    rows += [{**strong_profile(), name: None} for name in PROFILE_FIELDS]
    _agree(rows)


def test_every_rule_kind_is_generated_and_fires() -> None:
    """The generator reaches every declared rule (so the agreement above covers each)."""
    base = {"birth_date": date(1990, 1, 1), "registered_at": date(2020, 1, 1)}
    hits = {
        NotAfterAsOf: {**base, "last_overdue_on": DATE_FAULTS["last_overdue_on"][0]},
        NotOlderThan: {**base, "birth_date": DATE_FAULTS["birth_date"][1]},
        RequiredWhenPositive: {**base, "overdue_count_24m": 2, "last_overdue_on": None},
        NotBefore: {"birth_date": date(1990, 1, 2), "registered_at": date(1990, 1, 1)},
    }
    fired = {
        type(rule)
        for rule in SEMANTIC_RULES
        if violated(rule, {"overdue_count_24m": 0, **hits[type(rule)]}, AS_OF)
    }
    assert fired == set(hits)
