"""Realistic bad rows for the synthetic population, to exercise batch quarantine.

Real profile feeds carry typos, impossible values and broken joins; the batch path must
quarantine such rows with a reason instead of crashing or deciding on garbage. A dirty file
keeps every column as a string (``schema.DIRTY_SCHEMA``): an int column must be able to hold
"N/A". Each damaged row has exactly one defect, named in ``_dirty_kind`` (null on clean rows),
so tests can compare quarantine reasons with what was injected.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from enum import StrEnum
from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from creditgate.population.schema import (
    DIRTY_KIND_COLUMN,
    DIRTY_SCHEMA,
    PROFILE_SCHEMA,
    SYNTH_SCHEMA,
)

__all__ = ["DirtyKind", "make_dirty", "to_strings"]

Ints = npt.NDArray[np.int64]
Edit = Callable[[str, Ints, pa.Array], None]  # record "these rows of this column get these values"
Values = Callable[[int], pa.Array]  # k replacement values


class DirtyKind(StrEnum):
    """The one defect a dirty row carries (value of ``_dirty_kind``)."""

    WRONG_TYPE = "wrong_type"  # text in an int column
    PAY_SCORE_OUT_OF_RANGE = "pay_score_out_of_range"  # outside 300..850
    NEGATIVE_COUNT = "negative_count"
    BIRTH_DATE_IN_FUTURE = "birth_date_in_future"
    REGISTERED_AFTER_AS_OF = "registered_after_as_of"
    UNKNOWN_CITY = "unknown_city"  # not in the region table
    NULL_REQUIRED = "null_required"  # null in a non-nullable contract field
    DUPLICATE_USER_ID = "duplicate_user_id"  # repeats the id of another (clean) row


_INT_COLUMNS: Final = (
    "pay_score",
    "overdue_count_24m",
    "current_overdue_days",
    "ecosystem_active_products",
    "accounts_on_device",
    "applications_7d",
)
_NOT_NUMBERS: Final = ("N/A", "七百二十", "abc", "1e3x", "", "--", "null")
_BAD_PAY_SCORES: Final = ("9999", "0", "1200", "299", "851", "-1")
# Districts, out-of-scope regions, a province, pinyin and typos users really type.
_UNKNOWN_CITIES: Final = (
    "火星",
    "深圳湾",
    "浦东新区",
    "香港",
    "台北",
    "海南",
    "Shenzhen",
    "哈尔冰",
)
# Profile fields only: the label is not input, so a null there says nothing about quarantine.
_REQUIRED: Final = tuple(f.name for f in PROFILE_SCHEMA if not f.nullable)


def to_strings(table: pa.Table) -> pa.Table:
    """A clean synthetic chunk as ``DIRTY_SCHEMA`` (ISO dates, "true"/"false", decimal text)."""
    arrays = [pc.cast(table[f.name], pa.string()).combine_chunks() for f in SYNTH_SCHEMA]
    arrays.append(pa.nulls(table.num_rows, pa.string()))
    return pa.Table.from_arrays(arrays, schema=DIRTY_SCHEMA)


def make_dirty(table: pa.Table, count: int, rng: np.random.Generator, as_of: date) -> pa.Table:
    """Return ``table`` as strings with ``count`` distinct rows damaged, one defect each."""
    strings = to_strings(table)
    n = table.num_rows
    if count <= 0:
        return strings
    kinds = list(DirtyKind) if n > 1 else [k for k in DirtyKind if k != DirtyKind.DUPLICATE_USER_ID]
    rows = np.sort(rng.choice(n, size=count, replace=False)).astype(np.int64)
    kind = rng.integers(0, len(kinds), size=count)
    edits: dict[str, list[tuple[Ints, pa.Array]]] = {}

    def edit(column: str, where: Ints, values: pa.Array) -> None:
        edits.setdefault(column, []).append((where, values))

    for i, dirty_kind in enumerate(kinds):
        where = rows[kind == i]
        if where.size:
            _inject(dirty_kind, where, rng, as_of, strings, rows, edit)
    columns = {name: strings[name].combine_chunks() for name in strings.column_names}
    for name, parts in edits.items():
        columns[name] = _apply(columns[name], parts)
    labels = pc.take(pa.array([k.value for k in kinds], pa.string()), pa.array(kind))
    columns[DIRTY_KIND_COLUMN] = _apply(columns[DIRTY_KIND_COLUMN], [(rows, labels)])
    return pa.Table.from_arrays(list(columns.values()), schema=DIRTY_SCHEMA)


def _inject(
    kind: DirtyKind,
    where: Ints,
    rng: np.random.Generator,
    as_of: date,
    strings: pa.Table,
    dirty_rows: Ints,
    edit: Edit,
) -> None:
    m = where.size
    if kind is DirtyKind.WRONG_TYPE:
        _per_column(where, rng, _INT_COLUMNS, lambda k: _pick(rng, _NOT_NUMBERS, k), edit)
    elif kind is DirtyKind.PAY_SCORE_OUT_OF_RANGE:
        edit("pay_score", where, _pick(rng, _BAD_PAY_SCORES, m))
    elif kind is DirtyKind.NEGATIVE_COUNT:
        _per_column(where, rng, _INT_COLUMNS[1:], lambda k: _negatives(rng, k), edit)
    elif kind is DirtyKind.BIRTH_DATE_IN_FUTURE:
        edit("birth_date", where, _dates_after(as_of, rng.integers(1, 3650, m)))
    elif kind is DirtyKind.REGISTERED_AFTER_AS_OF:
        edit("registered_at", where, _dates_after(as_of, rng.integers(1, 400, m)))
    elif kind is DirtyKind.UNKNOWN_CITY:
        edit("city", where, _pick(rng, _UNKNOWN_CITIES, m))
    elif kind is DirtyKind.NULL_REQUIRED:
        _per_column(where, rng, _REQUIRED, lambda k: pa.nulls(k, pa.string()), edit)
    else:  # DUPLICATE_USER_ID: copy the id of a row that is not itself damaged
        clean = np.setdiff1d(np.arange(strings.num_rows), dirty_rows)
        n = strings.num_rows
        source = rng.choice(clean, m) if clean.size else (where + rng.integers(1, n, m)) % n
        edit("user_id", where, pc.take(strings["user_id"].combine_chunks(), source))


def _per_column(
    where: Ints, rng: np.random.Generator, columns: tuple[str, ...], values: Values, edit: Edit
) -> None:
    """Spread the rows over ``columns`` so every column sees the defect."""
    target = rng.integers(0, len(columns), where.size)
    for i, column in enumerate(columns):
        chosen = where[target == i]
        if chosen.size:
            edit(column, chosen, values(chosen.size))


def _negatives(rng: np.random.Generator, k: int) -> pa.Array:
    return pc.cast(pa.array(-rng.integers(1, 10, k)), pa.string())


def _pick(rng: np.random.Generator, choices: tuple[str, ...], k: int) -> pa.Array:
    return pc.take(pa.array(choices, pa.string()), pa.array(rng.integers(0, len(choices), k)))


def _dates_after(as_of: date, days: Ints) -> pa.Array:
    start = (as_of - date(1970, 1, 1)).days
    return pc.cast(pa.array((start + days).astype(np.int32), pa.date32()), pa.string())


def _apply(column: pa.Array, parts: list[tuple[Ints, pa.Array]]) -> pa.Array:
    """Replace the rows in ``parts`` (disjoint row sets) in one vectorised pass."""
    where = np.concatenate([w for w, _ in parts])
    values = pa.concat_arrays([v for _, v in parts])
    order = np.argsort(where, kind="stable")
    mask = np.zeros(len(column), dtype=np.bool_)
    mask[where] = True
    return pc.replace_with_mask(column, pa.array(mask), values.take(pa.array(order)))
