"""Parquet columns typed other than the contract: converted when the value survives exactly,
quarantined when it would have to change (584.5 is not a pay score, 2 is not a boolean, 05:00
on a day is not a date). Nothing is rounded into shape; an empty file is a run of nothing."""

from __future__ import annotations

import math
import tempfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from creditgate.batch.backends import duckdb_backend
from creditgate.batch.run import BatchReport, run_batch
from creditgate.decider import Decider
from creditgate.population.synth import write_parquet
from creditgate.profile import validate_profile

AS_OF = date(2025, 6, 30)
DECIDER = Decider()


def rows(tmp: Path, n: int) -> pa.Table:
    """``n`` clean synthetic profiles with distinct ids."""
    source = tmp / "template.parquet"
    write_parquet(source, n, seed=4, as_of=AS_OF)
    return pq.read_table(source)


def with_column(table: pa.Table, name: str, values: list[Any], kind: pa.DataType) -> pa.Table:
    table = table.slice(0, len(values))
    return table.set_column(table.schema.get_field_index(name), name, pa.array(values, kind))


def batch(
    tmp: Path, table: pa.Table | Path
) -> tuple[BatchReport, dict[str, dict[str, Any]], dict[str, str]]:
    """Run a batch of ``table`` (or of a Parquet file or directory): the report, decisions by
    id, quarantine reasons by id."""
    source = table if isinstance(table, Path) else tmp / "typed.parquet"
    if isinstance(table, pa.Table):
        pq.write_table(table, source)
    report = run_batch(
        duckdb_backend("1GB", 1),
        source,
        tmp / "decisions.parquet",
        DECIDER.policy,
        DECIDER.regions,
        AS_OF,
        snapshot=tmp / "snapshot.parquet",
    )
    assert report.reconciles
    decided = {r["user_id"]: r for r in pq.read_table(tmp / "decisions.parquet").to_pylist()}
    reasons = {
        str(r["user_id"]): r["quarantine_reason"]
        for r in pq.read_table(report.quarantine_path).to_pylist()
    }
    return report, decided, reasons


def realtime_score(row: dict[str, Any]) -> int | None:
    """The row engine's score for ``row`` as a contract-typed profile."""
    profile = {k: v for k, v in row.items() if k != "defaulted"}
    valid = validate_profile(profile, AS_OF, DECIDER.policy, DECIDER.regions)
    return DECIDER.decide(valid, AS_OF).score


MIDNIGHT, FIVE_AM = datetime(1990, 5, 17), datetime(1990, 5, 17, 5)


@pytest.mark.parametrize(
    ("name", "kind", "values", "exact"),
    [
        ("pay_score", pa.float64(), [700.0, 700.5, math.nan, 650.0], [700, None, None, 650]),
        ("pay_score", pa.int16(), [720, 640], [720, 640]),
        ("is_student", pa.int8(), [0, 1, 2, -1], [False, True, None, None]),
        ("birth_date", pa.timestamp("us"), [MIDNIGHT, FIVE_AM], [MIDNIGHT.date(), None]),
        (
            "monthly_spend_cny_6m",
            pa.float64(),
            [1234.5, 1234.567, 0.1 + 0.2, 99.99],
            [Decimal("1234.50"), None, None, Decimal("99.99")],
        ),
        ("user_id", pa.int64(), [17, 18], ["17", "18"]),
    ],
)
def test_a_typed_value_is_converted_only_when_it_survives_exactly(
    tmp_path: Path, name: str, kind: pa.DataType, values: list[Any], exact: list[Any]
) -> None:
    table = with_column(rows(tmp_path, len(values)), name, values, kind)
    report, decided, reasons = batch(tmp_path, table)
    assert report.input_rows == len(values)
    ids = [str(i) for i in table["user_id"].to_pylist()]
    template = pq.read_table(tmp_path / "template.parquet").to_pylist()
    for user_id, converted, original in zip(ids, exact, template, strict=True):
        if converted is None:
            assert reasons[user_id].startswith(f"{name}: not a valid"), reasons.get(user_id)
            continue
        assert user_id not in reasons, reasons[user_id]
        typed = dict(original, **{name: converted, "user_id": user_id})
        assert decided[user_id]["score"] == realtime_score(typed)


def test_a_number_in_the_city_column_is_an_unknown_city(tmp_path: Path) -> None:
    table = with_column(rows(tmp_path, 3), "city", [42, 42, 7], pa.int64())
    report, _, reasons = batch(tmp_path, table)
    assert report.quarantined == 3
    assert all(r.startswith("city: unknown city") for r in reasons.values())


def test_an_empty_file_decides_nothing_and_writes_every_output(tmp_path: Path) -> None:
    report, decided, reasons = batch(tmp_path, rows(tmp_path, 5).slice(0, 0))
    assert (report.input_rows, report.decided, report.quarantined) == (0, 0, 0)
    assert decided == {} and reasons == {}
    assert pq.read_table(tmp_path / "snapshot.parquet").num_rows == 0


PAY_SCORES = st.one_of(
    st.integers(250, 900).map(float),
    st.floats(250, 900),
    st.sampled_from([math.nan, math.inf, -math.inf, 300.0, 850.0, 299.5, 850.5, -0.0]),
)


# Each score is its own row, decided independently of the others in the list: a few long
# lists check as many scores as many short ones, in fewer batch runs (about 2 s each).
@settings(max_examples=3, deadline=None)
@given(st.lists(PAY_SCORES, min_size=40, max_size=120))
@example([300.0, math.nan])  # DuckDB cast this NaN to a pay score: it was decided
@example([math.nan, 250.0])
def test_a_float_pay_score_is_decided_iff_it_is_a_whole_number_in_range(
    scores: list[float],
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        template = rows(Path(tmp), len(scores))
        _, decided, reasons = batch(
            Path(tmp), with_column(template, "pay_score", scores, pa.float64())
        )
    for user_id, score in zip(template["user_id"].to_pylist(), scores, strict=True):
        whole = math.isfinite(score) and score == int(score)
        if whole and 300 <= score <= 850:
            assert user_id in decided, (score, reasons.get(user_id))
        else:
            assert reasons[user_id].startswith("pay_score: "), (score, reasons.get(user_id))
            wanted = "not a valid int" if not whole else "must be"
            assert wanted in reasons[user_id], (score, reasons[user_id])


def test_a_directory_whose_files_lack_a_column_quarantines_their_rows(tmp_path: Path) -> None:
    table = rows(tmp_path, 6)
    folder = tmp_path / "users"
    folder.mkdir()
    pq.write_table(table.slice(0, 4), folder / "a.parquet")
    pq.write_table(table.slice(4).drop_columns(["pay_score"]), folder / "b.parquet")
    report, _, reasons = batch(tmp_path, folder)
    assert (report.input_rows, report.decided, report.quarantined) == (6, 4, 2)
    assert list(reasons.values()) == ["pay_score: required, got null"] * 2
