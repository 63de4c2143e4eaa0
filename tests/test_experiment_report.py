"""The report's statistics and its performance file reader (no database)."""

from __future__ import annotations

import math
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from creditgate.experiment_report import PerformanceError, difference, read_performance, wilson


def test_wilson_and_newcombe_match_the_published_example() -> None:
    """Newcombe (1998), example (a): 56/70 vs 48/80, difference 0.2000, 95% CI 0.0524 to
    0.3339 (method 10, from the Wilson intervals without continuity correction; that of
    56/70 is 0.6918 to 0.8770)."""
    low, high = wilson(56, 70)
    assert math.isclose(low, 0.6918, abs_tol=1e-4) and math.isclose(high, 0.8770, abs_tol=1e-4)
    found = difference(champion=(48, 80), challenger=(56, 70))
    assert found is not None
    assert math.isclose(found["difference"], 0.2, abs_tol=1e-12)
    assert math.isclose(found["low"], 0.0524, abs_tol=1e-4)
    assert math.isclose(found["high"], 0.3339, abs_tol=1e-4)
    assert difference((0, 0), (1, 10)) is None  # an arm without outcomes


def test_performance_files_csv_and_parquet(tmp_path: Path) -> None:
    csv = tmp_path / "p.csv"
    csv.write_text("user_id,defaulted,extra\n007,1,x\nb,0,y\n")
    assert read_performance(csv) == {"007": 1, "b": 0}  # ids stay text
    parquet = tmp_path / "p.parquet"
    pq.write_table(pa.table({"user_id": ["a", "b"], "defaulted": [0, 1]}), parquet)
    assert read_performance(parquet) == {"a": 0, "b": 1}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("user_id,defaulted\na,2\n", "defaulted must be 0 or 1"),
        ("user_id,defaulted\na,1\na,0\n", "more than once"),
        ("user_id,bad\na,1\n", "not a table with columns user_id and defaulted"),
        ("user_id,defaulted\na,\n", "may not be empty"),
    ],
)
def test_bad_performance_files_are_refused(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "p.csv"
    path.write_text(text)
    with pytest.raises(PerformanceError, match=message):
        read_performance(path)
