"""Which columns may become scorecard features, and why the others may not.

Protected attributes (sex, marital status, nationality, ethnicity, religion...) are excluded
unless the caller names them explicitly; row identifiers carry no information about risk and
would only let the card memorise rows. Both are detected by name and by content, and every
exclusion is recorded with its reason in the artefact.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pandas as pd

PROTECTED = re.compile(
    r"(^|_)(sex|gender|marital|personal_status|married|nationality|foreign|citizenship|"
    r"ethnic|ethnicity|race|religion|religious|caste)(_|$)",
    re.IGNORECASE,
)
IDENTIFIER = re.compile(r"(^|_)(id|uuid|guid|key|index)$|^(id|uid|user_?id)$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ColumnChoice:
    features: tuple[str, ...]
    categorical: tuple[str, ...]
    excluded: tuple[tuple[str, str], ...]  # (column, reason)
    protected_included: tuple[str, ...]


def is_protected(name: str) -> bool:
    return PROTECTED.search(name) is not None


MAX_CATEGORIES = 1000  # more distinct values than this: a text column would memorise rows


def is_decimal(series: pd.Series) -> bool:
    """Object columns of ``Decimal`` (how Parquet decimals such as money arrive): numbers."""
    if series.dtype != object:
        return False
    values = series.dropna()
    return len(values) > 0 and all(isinstance(v, Decimal) for v in values.head(1000))


def is_categorical(series: pd.Series) -> bool:
    if is_decimal(series):
        return False
    return not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)


def is_date(series: pd.Series) -> bool:
    """datetime64 columns, and object columns of ``datetime.date`` (how Parquet dates arrive)."""
    if pd.api.types.is_datetime64_any_dtype(series):
        return True
    if series.dtype != object:
        return False
    values = series.dropna()
    return len(values) > 0 and all(isinstance(v, date) for v in values.head(1000))


def looks_like_id(name: str, series: pd.Series) -> bool:
    """Named like an identifier, or a string/integer column unique on every row."""
    if IDENTIFIER.search(name):
        return True
    if pd.api.types.is_float_dtype(series) or len(series) < 20:
        return False
    return bool(series.notna().all() and series.nunique() == len(series))


def choose_columns(
    frame: pd.DataFrame,
    target: str,
    include_protected: Iterable[str] = (),
    exclude: Iterable[str] = (),
) -> ColumnChoice:
    """Split ``frame``'s columns into features and recorded exclusions."""
    allowed = set(include_protected)
    dropped = set(exclude)
    features: list[str] = []
    categorical: list[str] = []
    excluded: list[tuple[str, str]] = []
    protected_in: list[str] = []
    for name in frame.columns:
        series = frame[name]
        if name == target:
            continue
        if name in dropped:
            excluded.append((name, "excluded by the caller"))
        elif is_protected(name) and name not in allowed:
            excluded.append((name, "protected attribute (include with --include-protected)"))
        elif looks_like_id(name, series):
            excluded.append((name, "row identifier"))
        elif is_date(series):
            excluded.append((name, "date/time column: derive a numeric feature first"))
        elif series.nunique(dropna=True) < 2:
            excluded.append((name, "constant"))
        elif is_categorical(series) and series.nunique(dropna=True) > MAX_CATEGORIES:
            # one bin per value would fit the training rows' labels, not a risk pattern
            excluded.append((name, f"text column with over {MAX_CATEGORIES} distinct values"))
        else:
            features.append(name)
            if is_categorical(series):
                categorical.append(name)
            if is_protected(name):
                protected_in.append(name)
    return ColumnChoice(tuple(features), tuple(categorical), tuple(excluded), tuple(protected_in))
