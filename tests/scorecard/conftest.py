from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

GERMAN = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "german_credit.csv"


@pytest.fixture(scope="session")
def german() -> pd.DataFrame:
    return pd.read_csv(GERMAN)


@pytest.fixture(scope="session")
def german_trainer(german: pd.DataFrame):
    from creditgate.scorecard.train import ScorecardTrainer

    return ScorecardTrainer().fit(german, "creditability", "bad")


def messy_frame(n: int = 2000, seed: int = 3) -> pd.DataFrame:
    """Another lender's data: an id, NaNs, strings, a special code, a numeric 0/1 label."""
    rng = np.random.default_rng(seed)
    income = rng.lognormal(8, 0.5, n)
    util = rng.uniform(0, 1.2, n)
    months = rng.integers(0, 120, n).astype(float)
    region = rng.choice(["north", "south", "east", "west"], n)
    risk = -2.5 + 3.0 * util - 1.5 * (np.log(income) - 8) - 0.015 * months
    risk += np.where(region == "south", 0.6, 0.0)
    guarantor = rng.random(n) < 0.3
    risk -= 1.0 * guarantor
    bad = rng.random(n) < 1 / (1 + np.exp(-risk))
    util[rng.random(n) < 0.08] = np.nan
    months[rng.random(n) < 0.05] = -99  # special code: "not reported"
    region_col = region.astype(object)
    region_col[rng.random(n) < 0.05] = None
    return pd.DataFrame(
        {
            "loan_id": [f"L{i:06d}" for i in range(n)],
            "income": income.round(2),
            "utilisation": util,
            "months_on_book": months,
            "region": region_col,
            "has_guarantor": guarantor,
            "gender": rng.choice(["f", "m"], n),
            "default_flag": bad.astype(int),
        }
    )
