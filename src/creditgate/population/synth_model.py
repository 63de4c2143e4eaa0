"""The statistical model behind the synthetic population: one chunk of feature columns.

Kept apart from ``synth`` (chunking, Arrow, Parquet) so the distributions and the ground-truth
default model can be read, and re-tuned, in one place. Every draw is vectorised over the chunk;
``synth``'s module docstring states the resulting shares and the calibration.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from functools import cache
from types import MappingProxyType
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from creditgate.population.regions import RegionClass, load_regions
from creditgate.population.schema import OCCUPATIONS

__all__ = [
    "DEFAULT_MODEL",
    "PLATFORM_LAUNCH",
    "CityPools",
    "city_pools",
    "default_probability",
    "draw_columns",
]

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

PLATFORM_LAUNCH: Final = date(2011, 1, 21)  # no account can be older than the app
_EPOCH: Final = date(1970, 1, 1)

DEFAULT_MODEL: Final[Mapping[str, float]] = MappingProxyType(
    {
        "intercept": -4.55,
        "pay_score_per_100": -0.80,
        "log1p_overdue_count_24m": 0.50,
        "currently_overdue": 1.00,
        "flow_cv_above_0_4": 0.80,
        "repayment_score_per_10": -0.22,
        # engagement lowers the default odds: the seed platform's ASSUMPTION (``synth``'s
        # docstring), not a finding
        "log_opens_vs_5": -0.40,
        "log_products_vs_4": -0.35,
        "log_spend_vs_2000": -0.15,
        "age_under_23": 0.35,
        "student": 0.45,
        "account_under_1y": 0.30,
        "blacklist_hit": 1.60,
        "shared_device": 0.30,
        "applications_7d_capped_10": 0.12,
        "county_area": 0.20,
    }
)

# Segments: tier1, new_tier1, capital, prefecture, county-level area.
_SEGMENT_SHARE = np.array([0.10, 0.20, 0.15, 0.35, 0.20])
_URBANITY = np.array([1.0, 0.8, 0.6, 0.4, 0.2])
# Per occupation, in schema.OCCUPATIONS order.
_OCCUPATION_SHARE = np.array([0.42, 0.13, 0.07, 0.10, 0.08, 0.20])
_AGE = np.array(  # mean, sd, min, max of a reflected normal (students drawn separately)
    [[34, 9, 19, 62], [39, 10, 20, 68], [42, 9, 22, 70], [20, 2, 18, 30], [63, 5, 50, 80],
     [33, 12, 18, 75]],
    dtype=np.float64,
)  # fmt: skip
_MINOR_SHARE = np.array([0.0, 0.0, 0.0, 0.04, 0.0, 0.01])
_HEALTH_SHIFT = np.array([0.15, 0.0, 0.1, -0.35, 0.05, -0.3])
_SPEND_SHIFT = np.array([0.0, 0.15, 0.35, -0.7, -0.35, -0.2])
_CV_MEDIAN = np.array([0.28, 0.50, 0.60, 0.45, 0.22, 0.55])  # salaried and pensions are steady
_STUDENT = OCCUPATIONS.index("student")


def default_probability(features: Mapping[str, Any]) -> Floats:
    """Ground-truth default probability (``DEFAULT_MODEL``) for arrays of profile features.

    Needs the profile columns of the logit in ``synth``'s docstring as numpy arrays (spend in
    yuan as float) plus ``age_years`` and ``account_age_days``; lets tests and notebooks compare a
    trained scorecard with the truth.
    """
    f, m = features, DEFAULT_MODEL
    logit = (
        m["intercept"]
        + m["pay_score_per_100"] * (np.asarray(f["pay_score"]) - 650) / 100
        + m["log1p_overdue_count_24m"] * np.log1p(f["overdue_count_24m"])
        + m["currently_overdue"] * (np.asarray(f["current_overdue_days"]) > 0)
        + m["flow_cv_above_0_4"] * (np.asarray(f["monthly_flow_cv_6m"]) - 0.4)
        + m["repayment_score_per_10"] * (np.asarray(f["ecosystem_repayment_score"]) - 75) / 10
        + m["log_opens_vs_5"] * (np.log1p(f["avg_daily_opens_90d"]) - math.log(5))
        + m["log_products_vs_4"] * (np.log1p(f["ecosystem_active_products"]) - math.log(4))
        + m["log_spend_vs_2000"] * np.log(np.maximum(f["monthly_spend_cny_6m"], 1.0) / 2000)
        + m["age_under_23"] * (np.asarray(f["age_years"]) < 23)
        + m["student"] * np.asarray(f["is_student"])
        + m["account_under_1y"] * (np.asarray(f["account_age_days"]) < 365)
        + m["blacklist_hit"] * np.asarray(f["blacklist_hit"])
        + m["shared_device"] * (np.asarray(f["accounts_on_device"]) > 1)
        + m["applications_7d_capped_10"] * np.minimum(f["applications_7d"], 10)
        + m["county_area"] * np.asarray(f["is_county_area"])
    )
    return _sigmoid(np.asarray(logit, dtype=np.float64))


def _sigmoid(x: Floats) -> Floats:
    return 1.0 / (1.0 + np.exp(-x))


@dataclass(frozen=True)
class CityPools:
    """All segment pools concatenated, so one vectorised ``take`` picks every row's city."""

    names: pa.Array
    consumption_index: Floats
    offsets: Ints
    sizes: Ints


@cache
def city_pools() -> CityPools:
    """Cities per segment from the packaged region table (built once per process)."""
    table = load_regions()
    pools = [table.in_class(c) for c in (RegionClass.TIER1, RegionClass.NEW_TIER1)]
    pools += [table.in_class(RegionClass.CAPITAL), table.in_class(RegionClass.PREFECTURE)]
    pools.append(pools[2] + pools[3])  # county-level areas sit under capitals and prefectures
    flat = [city for pool in pools for city in pool]
    sizes = np.array([len(pool) for pool in pools], dtype=np.int64)
    return CityPools(
        names=pa.array([c.name for c in flat], pa.string()),
        consumption_index=np.array([table.consumption_index(c.name) for c in flat]),
        offsets=np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64),
        sizes=sizes,
    )


def draw_columns(rng: np.random.Generator, n: int, as_of: date) -> dict[str, Any]:
    """Draw ``n`` users' columns; ``city`` holds indices into ``city_pools().names``.

    Helper columns start with ``_`` (null masks, exact cents) or are derived features
    (``age_years``, ``account_age_days``) that the table builder ignores.
    """
    today = (as_of - _EPOCH).days
    cities = city_pools()
    segment = rng.choice(len(_SEGMENT_SHARE), size=n, p=_SEGMENT_SHARE)
    pick = cities.offsets[segment] + (rng.random(n) * cities.sizes[segment]).astype(np.int64)
    urban = _URBANITY[segment]
    occupation = rng.choice(len(OCCUPATIONS), size=n, p=_OCCUPATION_SHARE)
    age = _age(rng, occupation)
    z = (
        _HEALTH_SHIFT[occupation]
        + 0.3 * (urban - 0.5)
        + np.select([age < 23, (age >= 30) & (age < 55)], [-0.25, 0.1], 0.0)
        + 0.9 * rng.standard_normal(n)
    )
    account_age = _account_age(rng, age, today)
    cols: dict[str, Any] = {
        # +1 day: an age of exactly 18.0 must be 18 by the calendar whatever the leap years.
        "birth_date": today - np.floor(age * 365.2425).astype(np.int64) - 1,
        "registered_at": today - account_age,
        "occupation": occupation,
        "is_student": occupation == _STUDENT,
        "city": pick,
        "is_county_area": segment == len(_SEGMENT_SHARE) - 1,
        "age_years": age,
        "account_age_days": account_age,
    }
    credit = 0.8 * z + 0.6 * rng.standard_normal(n)
    cols |= _credit(rng, credit, account_age, today)
    cols |= _ecosystem(rng, z, credit, urban, age, cols)
    cols |= _money(rng, z, occupation, urban, age, cities.consumption_index[pick])
    cols |= _flags(rng, z, age, cols["is_student"])
    cols |= _fraud(rng, credit)
    cols["defaulted"] = rng.random(n) < default_probability(cols)
    return cols


def _age(rng: np.random.Generator, occupation: Ints) -> Floats:
    n = occupation.size
    mean, sd, low, high = _AGE[occupation].T
    age = rng.normal(mean, sd)
    # Reflect instead of clipping: clipping would pile users up on exactly the bounds.
    age = np.clip(high - np.abs(high - (low + np.abs(age - low))), low, high)
    student_age = np.minimum(18.0 + rng.gamma(1.8, 1.5, n), 35.0)  # mostly 18-24
    age = np.where(occupation == _STUDENT, student_age, age)
    minor = rng.random(n) < _MINOR_SHARE[occupation]
    return np.where(minor, rng.uniform(16.0, 17.99, n), age)


def _account_age(rng: np.random.Generator, age: Floats, today: int) -> Ints:
    n = age.size
    span = today - (PLATFORM_LAUNCH - _EPOCH).days
    established = 365 + (span - 365) * rng.beta(2.2, 1.5, n)
    days = np.where(rng.random(n) < 0.12, rng.random(n) * 365, established)
    registered_at_12 = np.maximum((age - 12) * 365.2425, 0)  # nobody registered as a child
    return np.minimum(np.minimum(days, registered_at_12), span).astype(np.int64)


def _credit(
    rng: np.random.Generator, credit: Floats, account_age: Ints, today: int
) -> dict[str, Any]:
    n = credit.size
    seasoned = account_age >= 30  # no bill has fallen due on a brand-new account
    history = np.clip(account_age / 730, 0, 1) * seasoned
    count = rng.poisson(np.exp(-2.0 - 1.0 * credit) * history).astype(np.int64)
    p_current = _sigmoid(-4.3 - 1.2 * credit + 1.0 * (count > 0)) * seasoned
    current = rng.random(n) < p_current
    days_overdue = 1 + rng.exponential(20.0, n).astype(np.int64)
    days_overdue = np.where(current, np.minimum(days_overdue, np.minimum(account_age, 720)), 0)
    count = np.where(current, np.maximum(count, 1), count)
    window = np.clip(np.minimum(account_age, 730), 1, None)  # inside 24 months, after sign-up
    days_ago = np.where(current, days_overdue, 1 + (rng.random(n) * window).astype(np.int64))
    pay_score = (
        650 + 62 * credit - 22 * np.minimum(count, 5) - 45 * current + 12 * rng.standard_normal(n)
    )
    return {
        "pay_score": np.clip(np.rint(pay_score), 300, 850).astype(np.int64),
        "overdue_count_24m": count,
        "current_overdue_days": days_overdue,
        "last_overdue_on": today - days_ago,
        "_never_overdue": count == 0,
    }


def _ecosystem(
    rng: np.random.Generator,
    z: Floats,
    credit: Floats,
    urban: Floats,
    age: Floats,
    cols: Mapping[str, Any],
) -> dict[str, Any]:
    n = z.size
    activity = (
        0.45 * z
        + 0.4 * (urban - 0.5)
        + np.select([age < 30, age >= 60], [0.3, -0.3], 0.0)
        + 0.8 * rng.standard_normal(n)
    )
    dormant = np.where(rng.random(n) < 0.04, 0.05, 1.0)
    opens_rate = np.exp(1.45 + 0.55 * activity) * dormant
    overdue = np.minimum(cols["overdue_count_24m"], 3)
    repayment = _sigmoid(
        1.3
        + 0.9 * credit
        + 0.25 * activity
        - 0.5 * overdue
        - 1.5 * (cols["current_overdue_days"] > 0)
        + 0.5 * rng.standard_normal(n)
    )
    return {
        "avg_daily_opens_90d": np.round(rng.poisson(opens_rate * 90) / 90, 2),
        "ecosystem_active_products": np.minimum(rng.poisson(np.exp(0.95 + 0.45 * activity)), 15),
        "ecosystem_repayment_score": np.rint(100 * repayment).astype(np.int64),
    }


def _money(
    rng: np.random.Generator,
    z: Floats,
    occupation: Ints,
    urban: Floats,
    age: Floats,
    consumption_index: Floats,
) -> dict[str, Any]:
    n = z.size
    log_spend = (
        math.log(2300)
        + 0.35 * z
        + 0.5 * np.log(consumption_index)
        + 0.25 * (urban - 0.5)
        + _SPEND_SHIFT[occupation]
        + np.select([age < 23, (age >= 28) & (age < 50), age >= 60], [-0.25, 0.1, -0.15], 0.0)
        + 0.55 * rng.standard_normal(n)
    )
    cv = _CV_MEDIAN[occupation] * np.exp(-0.12 * z + 0.45 * rng.standard_normal(n))
    cents = np.rint(np.exp(log_spend) * 100).astype(np.int64)
    return {
        "_spend_cents": cents,
        "monthly_spend_cny_6m": cents / 100,
        "monthly_flow_cv_6m": np.round(np.minimum(cv, 5.0), 3),
    }


def _flags(rng: np.random.Generator, z: Floats, age: Floats, student: Bools) -> dict[str, Any]:
    n = z.size
    minor = age < 18
    real_name = rng.random(n) < _sigmoid(3.6 + 0.4 * z - 1.5 * minor)
    # Binding a card requires real-name verification on the platform.
    card = real_name & (rng.random(n) < _sigmoid(2.9 + 0.5 * z - 0.8 * student - 1.5 * minor))
    consent = rng.random(n)  # 2.5 % refuse both, 1.5 % refuse each one only
    return {
        "real_name_verified": real_name,
        "bank_card_bound": card,
        "consent_credit_data": consent >= 0.04,
        "consent_behaviour_data": (consent >= 0.025) & ((consent < 0.04) | (consent >= 0.055)),
    }


def _fraud(rng: np.random.Generator, credit: Floats) -> dict[str, Any]:
    n = credit.size
    blacklist = rng.random(n) < _sigmoid(-5.6 - 0.6 * credit)
    u = rng.random(n)
    devices = np.where(u < 0.90, 1, np.where(u < 0.97, 2, rng.integers(3, 7, n)))
    farmed = blacklist & (rng.random(n) < 0.5)
    return {
        "blacklist_hit": blacklist,
        "accounts_on_device": np.where(farmed, rng.integers(2, 7, n), devices).astype(np.int64),
        "sim_changed_days_ago": np.minimum(rng.exponential(120.0, n), 3650).astype(np.int64),
        "_sim_never_changed": (rng.random(n) >= 0.15) & ~farmed,  # farms swap SIMs
        "applications_7d": np.minimum(
            rng.negative_binomial(0.35 + 0.4 * (credit < -1), 0.62), 50
        ).astype(np.int64),
    }
