"""One in-process Spark batch that several tests read (``spark_run`` in conftest.py).

A Spark run of even a few rows costs tens of seconds, mostly planning the program's queries,
so the tests that assert different things about a Spark run read the same one: its decisions
and counts against DuckDB's on the same input (test_batch_run), every query's plan without a
Python node (test_spark_options), the quarantine of odd user ids (test_user_ids). The input is
a dirty synthetic population (bad rows, duplicate ids) plus one clean row per id of
``BAD_IDS`` and ``GOOD_IDS``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from creditgate.batch.backends import duckdb_backend, spark_backend
from creditgate.batch.run import BatchReport, run_batch
from creditgate.batch.spark import spark_session
from creditgate.decider import Decider
from creditgate.population.synth import write_parquet
from creditgate.population.synth_dirty import to_strings

AS_OF = date(2025, 6, 30)
USERS = 3_000
PARTITION_BY = ("region_class", "province")
# user ids the batch quarantines, with the words of the rule its reason names
BAD_IDS = {
    "user ": "whitespace",
    "\u3000user": "whitespace",
    "user\u200b": "control or format",
    "us\x07er": "control or format",
    "u\u2028ser": "control or format",
    "x" * 65: "1..64",
    "cafe\u0301": "NFC",
    "\uac00\u11a8x": "NFC",
}
GOOD_IDS = ["user_ok", "张三", "caf\u00e9", "a b", "\u0101\u0302"]


@dataclass(frozen=True)
class SharedRun:
    """The same input decided by DuckDB (one file) and by Spark (``out``, a directory
    partitioned by ``PARTITION_BY``), and the executed plan of every query Spark was sent."""

    source: Path
    decider: Decider
    duck: BatchReport
    duck_decisions: Path
    spark: BatchReport
    out: Path
    plans: tuple[str, ...]
    session: Any


def with_ids(source: Path, tmp: Path) -> None:
    """Append one clean row per odd id to the dirty population at ``source``."""
    template = tmp / "ids-template.parquet"
    ids = [*BAD_IDS, *GOOD_IDS]
    write_parquet(template, len(ids), seed=4, as_of=AS_OF)
    rows = to_strings(pq.read_table(template))
    rows = rows.set_column(rows.schema.get_field_index("user_id"), "user_id", pa.array(ids))
    population = pq.read_table(source)
    pq.write_table(pa.concat_tables([population, rows.cast(population.schema)]), source)


def read_spark_dir(path: Path, like: pa.Schema) -> pa.Table:
    """A Spark output directory (hive-partitioned or not) as ``like``'s columns and types."""
    table = ds.dataset(path, format="parquet", partitioning="hive").to_table()
    return table.select(like.names).cast(like)


def shared_run(tmp: Path) -> SharedRun:
    source = tmp / "users.parquet"
    write_parquet(source, USERS, seed=11, as_of=AS_OF, dirty_fraction=0.05, chunk_size=5_000)
    with_ids(source, tmp)
    decider = Decider()
    duck_decisions = tmp / "decisions.parquet"
    duck = run_batch(
        duckdb_backend("1GB", 2),
        source,
        duck_decisions,
        decider.policy,
        decider.regions,
        AS_OF,
        snapshot=tmp / "snapshot.parquet",
    )
    backend = spark_backend(spark_session("local[1]", {"spark.sql.shuffle.partitions": "2"}))
    session = backend.con._session
    plans: list[str] = []
    real_sql = session.sql

    def recording_sql(query: str, *args: object, **kwargs: object) -> object:
        frame = real_sql(query, *args, **kwargs)
        plans.append(str(frame._jdf.queryExecution().executedPlan().toString()))
        return frame

    out = tmp / "spark"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(session, "sql", recording_sql)
        spark = run_batch(
            backend,
            source,
            out / "decisions",
            decider.policy,
            decider.regions,
            AS_OF,
            snapshot=out / "snapshot.parquet",
            partition_by=PARTITION_BY,
        )
    return SharedRun(source, decider, duck, duck_decisions, spark, out, tuple(plans), session)
