"""Arrow schemas for profile data: the profile contract (docs/architecture.md, "Contracts")
as columns.

Synthetic files, batch input and the quarantine checks all read these definitions, so a field
is added or retyped in one place. Required fields are non-nullable; only ``last_overdue_on``
(never overdue) and ``sim_changed_days_ago`` (no SIM change seen) may be null.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Final

import pyarrow as pa

from creditgate.schema import PROFILE_FIELDS, Occupation

__all__ = [
    "DIRTY_KIND_COLUMN",
    "DIRTY_SCHEMA",
    "MONEY_TYPE",
    "OCCUPATIONS",
    "PROFILE_SCHEMA",
    "SYNTH_SCHEMA",
    "TARGET_COLUMN",
]

OCCUPATIONS: Final = tuple(o.value for o in Occupation)
# Yuan with fen: 12 integer digits is far beyond any monthly spend, and exact decimal keeps
# thresholds like "> 2,000 yuan" free of float rounding.
MONEY_TYPE: Final = pa.decimal128(14, 2)
TARGET_COLUMN: Final = "defaulted"
DIRTY_KIND_COLUMN: Final = "_dirty_kind"

_ARROW_TYPES: Final[dict[type, pa.DataType]] = {
    str: pa.string(),
    date: pa.date32(),
    bool: pa.bool_(),
    int: pa.int64(),
    float: pa.float64(),
    Decimal: MONEY_TYPE,
}


def _required(name: str, type_: pa.DataType) -> pa.Field:
    return pa.field(name, type_, nullable=False)


# Derived from ``creditgate.schema.PROFILE_FIELDS``: the contract is written down once.
PROFILE_SCHEMA: Final = pa.schema(
    [pa.field(f.name, _ARROW_TYPES[f.type], nullable=f.nullable) for f in PROFILE_FIELDS.values()]
)

# The synthetic population adds the ground-truth label the scorecard is trained on.
SYNTH_SCHEMA: Final = PROFILE_SCHEMA.append(_required(TARGET_COLUMN, pa.bool_()))

# Dirty files must be able to hold "N/A" in an int column, so every column is a nullable
# string there (ISO dates, "true"/"false", decimal text); ``_dirty_kind`` names the defect.
DIRTY_SCHEMA: Final = pa.schema(
    [pa.field(f.name, pa.string()) for f in SYNTH_SCHEMA]
    + [pa.field(DIRTY_KIND_COLUMN, pa.string())]
)
