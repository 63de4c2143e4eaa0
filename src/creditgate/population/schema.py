"""Arrow schemas for profile data: the profile contract (ARCHITECTURE section 3) as columns.

Synthetic files, batch input and the quarantine checks all read these definitions, so a field
is added or retyped in one place. Required fields are non-nullable; only ``last_overdue_on``
(never overdue) and ``sim_changed_days_ago`` (no SIM change seen) may be null.
"""

from __future__ import annotations

from typing import Final

import pyarrow as pa

__all__ = [
    "DIRTY_KIND_COLUMN",
    "DIRTY_SCHEMA",
    "MONEY_TYPE",
    "OCCUPATIONS",
    "PROFILE_SCHEMA",
    "SYNTH_SCHEMA",
    "TARGET_COLUMN",
]

OCCUPATIONS: Final = (
    "salaried",
    "self_employed",
    "small_business_owner",
    "student",
    "retired",
    "other",
)
# Yuan with fen: 12 integer digits is far beyond any monthly spend, and exact decimal keeps
# thresholds like "> 2,000 yuan" free of float rounding.
MONEY_TYPE: Final = pa.decimal128(14, 2)
TARGET_COLUMN: Final = "defaulted"
DIRTY_KIND_COLUMN: Final = "_dirty_kind"


def _required(name: str, type_: pa.DataType) -> pa.Field:
    return pa.field(name, type_, nullable=False)


PROFILE_SCHEMA: Final = pa.schema(
    [
        _required("user_id", pa.string()),
        _required("birth_date", pa.date32()),
        _required("registered_at", pa.date32()),
        _required("real_name_verified", pa.bool_()),
        _required("bank_card_bound", pa.bool_()),
        _required("is_student", pa.bool_()),
        _required("occupation", pa.string()),
        _required("city", pa.string()),
        _required("is_county_area", pa.bool_()),
        _required("consent_credit_data", pa.bool_()),
        _required("consent_behaviour_data", pa.bool_()),
        _required("pay_score", pa.int64()),
        _required("overdue_count_24m", pa.int64()),
        _required("current_overdue_days", pa.int64()),
        pa.field("last_overdue_on", pa.date32(), nullable=True),
        _required("ecosystem_repayment_score", pa.int64()),
        _required("ecosystem_active_products", pa.int64()),
        _required("avg_daily_opens_90d", pa.float64()),
        _required("monthly_spend_cny_6m", MONEY_TYPE),
        _required("monthly_flow_cv_6m", pa.float64()),
        _required("blacklist_hit", pa.bool_()),
        _required("accounts_on_device", pa.int64()),
        pa.field("sim_changed_days_ago", pa.int64(), nullable=True),
        _required("applications_7d", pa.int64()),
    ]
)

# The synthetic population adds the ground-truth label the scorecard is trained on.
SYNTH_SCHEMA: Final = PROFILE_SCHEMA.append(_required(TARGET_COLUMN, pa.bool_()))

# Dirty files must be able to hold "N/A" in an int column, so every column is a nullable
# string there (ISO dates, "true"/"false", decimal text); ``_dirty_kind`` names the defect.
DIRTY_SCHEMA: Final = pa.schema(
    [pa.field(f.name, pa.string()) for f in SYNTH_SCHEMA]
    + [pa.field(DIRTY_KIND_COLUMN, pa.string())]
)
