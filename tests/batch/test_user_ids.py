"""Issue 13, finding 7: user ids outside the character set are quarantined with a reason, the
same on DuckDB and Spark and the same as ``validate_profile``; so are birth dates more than
120 years back."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from shared_spark import BAD_IDS, GOOD_IDS, SharedRun, read_spark_dir

from creditgate.batch.backends import Backend, duckdb_backend
from creditgate.batch.run import run_batch
from creditgate.decider import Decider
from creditgate.population.synth import write_parquet

AS_OF = date(2025, 6, 30)
DECIDER = Decider()
QUARANTINED = pa.schema([("user_id", pa.string()), ("quarantine_reason", pa.string())])


def table_with(tmp: Path, ids: list[str], birth: list[date] | None = None) -> Path:
    template = tmp / "template.parquet"
    write_parquet(template, len(ids), seed=4, as_of=AS_OF)
    table = pq.read_table(template)
    table = table.set_column(table.schema.get_field_index("user_id"), "user_id", pa.array(ids))
    if birth is not None:
        table = table.set_column(
            table.schema.get_field_index("birth_date"), "birth_date", pa.array(birth)
        )
    source = tmp / "ids.parquet"
    pq.write_table(table, source)
    return source


def reasons(backend: Backend, tmp: Path, source: Path) -> dict[str, str]:
    out = tmp / "out" / "decisions.parquet"
    out.parent.mkdir()
    report = run_batch(backend, source, out, DECIDER.policy, DECIDER.regions, AS_OF)
    assert report.reconciles
    quarantine = pq.read_table(report.quarantine_path).to_pylist()  # type: ignore[arg-type]
    return {r["user_id"]: r["quarantine_reason"] for r in quarantine}


def test_bad_user_ids_are_quarantined_naming_the_rule(tmp_path: Path) -> None:
    ids = [*BAD_IDS, *GOOD_IDS]
    got = reasons(duckdb_backend("1GB", 1), tmp_path, table_with(tmp_path, ids))
    assert_quarantines_the_bad_ids(got)


def test_spark_quarantines_the_same_bad_ids(spark_run: SharedRun) -> None:
    """The session's shared Spark run holds one clean row per id of ``BAD_IDS`` and
    ``GOOD_IDS`` among its dirty population (``shared_spark.py``)."""
    table = read_spark_dir(Path(spark_run.spark.quarantine_path), QUARANTINED)
    odd = {*BAD_IDS, *GOOD_IDS}
    got = {r["user_id"]: r["quarantine_reason"] for r in table.to_pylist() if r["user_id"] in odd}
    assert_quarantines_the_bad_ids(got)


def assert_quarantines_the_bad_ids(got: dict[str, str]) -> None:
    """``got``: quarantine reasons by id, of the runs' odd ids."""
    assert set(got) == set(BAD_IDS)
    for user_id, rule in BAD_IDS.items():
        assert got[user_id].startswith("user_id: ") and rule in got[user_id], got[user_id]


def test_python_refuses_exactly_the_ids_the_batch_quarantines(tmp_path: Path) -> None:
    from creditgate.identifiers import user_id_problem

    assert {i for i in [*BAD_IDS, *GOOD_IDS] if user_id_problem(i)} == set(BAD_IDS)


def test_a_birth_date_more_than_120_years_back_is_quarantined(tmp_path: Path) -> None:
    births = [date(1905, 6, 30), date(1905, 6, 29), date(1, 1, 1)]
    got = reasons(duckdb_backend("1GB", 1), tmp_path, table_with(tmp_path, ["a", "b", "c"], births))
    assert set(got) == {"b", "c"}
    assert all("birth_date: is more than 120 years" in r for r in got.values())
