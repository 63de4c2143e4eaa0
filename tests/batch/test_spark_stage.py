"""``Backend.stage`` on Spark: the staged table is a checkpoint whose plan is a leaf, so the
queries that read it later do not carry (and plan again) the program that computed it; with a
checkpoint directory the rows are files there; ``release`` frees either."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pytest

from creditgate.batch.backends import Backend, spark_backend

LEVELS = 12  # bindings reading each other, as a program's do


@pytest.fixture(scope="module")
def spark() -> Backend:
    pytest.importorskip("pyspark")
    return spark_backend()


def program(rows: int) -> ir.Table:
    """A chain of CASE bindings over a small table: the shape of a staged policy program."""
    t = ibis.memtable(pa.table({"user_id": [f"u{i}" for i in range(rows)], "x": range(rows)}))
    t = t.mutate(b0=t["x"])
    for i in range(1, LEVELS):
        prev = t[f"b{i - 1}"]
        t = t.mutate(**{f"b{i}": ibis.cases((prev % 3 == 0, prev + i), else_=prev * 2 % 1000)})
    return t.select("user_id", outcome=ibis.ifelse(t[f"b{LEVELS - 1}"] > 500, "high", "low"))


def plan_of(backend: Backend, staged: ir.Table) -> str:
    """The analysed plan of a query that reads the staged view."""
    session = backend.con._session
    query = session.sql(f"SELECT outcome, count(*) AS n FROM `{staged.get_name()}` GROUP BY 1")
    return str(query._jdf.queryExecution().analyzed().toString())


def kept_rdds(backend: Backend) -> set[int]:
    """The ids of the RDDs whose blocks Spark keeps now."""
    infos = backend.con._session.sparkContext._jsc.sc().getRDDStorageInfo()
    return {int(info.id()) for info in infos}


def lineage(backend: Backend, staged: ir.Table) -> Any:
    """The JVM RDD a staged view's checkpoint holds its rows in."""
    return backend.cached[staged.get_name()]._jdf.queryExecution().analyzed().rdd()


def test_a_staged_spark_table_is_a_leaf_and_release_frees_its_blocks(spark: Backend) -> None:
    expr = program(200)
    want = spark.fetch(expr).sort_by("user_id")
    staged = spark.stage(expr)
    plan = plan_of(spark, staged)
    # A cached view kept the program (every CASE) in every later query's plan.
    assert "CASE WHEN" not in plan and "LogicalRDD" in plan, plan
    assert spark.fetch(staged).sort_by("user_id") == want
    rdd = lineage(spark, staged)
    assert rdd.isCheckpointed() and rdd.getCheckpointFile().isEmpty()  # local: no files
    assert int(rdd.id()) in kept_rdds(spark)
    spark.release(staged)
    assert int(rdd.id()) not in kept_rdds(spark)
    assert not spark.con._session.catalog.tableExists(staged.get_name())


@pytest.fixture
def checkpoint_dir(spark: Backend, tmp_path: Path) -> Iterator[Path]:
    """The session's checkpoint directory set to ``tmp_path`` for one test, then unset (the
    JVM is shared with the worker's other Spark tests, which stage locally)."""
    sc = spark.con._session.sparkContext
    sc.setCheckpointDir(str(tmp_path))
    try:
        yield tmp_path
    finally:
        getattr(sc._jsc.sc(), "checkpointDir_$eq")(sc._jvm.scala.Option.apply(None))
    assert sc.getCheckpointDir() is None


def test_with_a_spark_checkpoint_dir_staged_rows_are_files_until_released(
    spark: Backend, checkpoint_dir: Path
) -> None:
    expr = program(200)
    want = spark.fetch(expr).sort_by("user_id")
    staged = spark.stage(expr)
    assert "CASE WHEN" not in plan_of(spark, staged)
    rdd = lineage(spark, staged)
    written = Path(str(rdd.getCheckpointFile().get()).removeprefix("file:"))
    assert written.is_relative_to(checkpoint_dir) and any(written.glob("part-*"))
    assert spark.fetch(staged).sort_by("user_id") == want
    assert kept_rdds(spark).isdisjoint({int(rdd.id())})  # the files, not executor blocks
    spark.release(staged)
    assert not written.exists()
