"""``creditgate batch --engine spark`` on a real standalone cluster (master and worker from the
installed pyspark, on loopback), directly and under ``spark-submit``: the same decisions,
quarantine and snapshot as ``--engine duckdb``, row for row. The cluster's executors have no
usable Python (``PYSPARK_PYTHON`` points nowhere), so a run proves the program is Spark SQL
only: a Python UDF, or a lookup table shipped as a Python RDD, would fail the job."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from spark_cluster import NO_PYTHON, Cluster

import creditgate.cli.main
import creditgate.submit.creditgate_main
from creditgate.batch.backends import duckdb_backend
from creditgate.batch.run import run_batch
from creditgate.decider import Decider
from creditgate.population.synth import write_parquet
from creditgate.snapshot import read_meta

pytestmark = [pytest.mark.xdist_group("spark_cluster"), pytest.mark.population]

AS_OF = date(2026, 11, 28)
USERS = 2_000
SRC = Path(creditgate.cli.main.__file__).parents[2]


@dataclass(frozen=True)
class Reference:
    users: Path
    decisions: Path
    quarantine: Path
    snapshot: Path


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI in a process of its own: its own JVM, whatever master it is given."""
    return subprocess.run(
        [sys.executable, "-m", "creditgate.cli.main", *args],
        env=env or driver_env(),
        capture_output=True,
        text=True,
        timeout=900,
    )


def driver_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), env.get("PYTHONPATH", "")])
    env["PYSPARK_PYTHON"] = NO_PYTHON  # what the driver tells executors to start, if anything
    env["SPARK_LOCAL_IP"] = "127.0.0.1"
    return env


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Reference:
    """A small dirty population (5 % bad rows, duplicates among them) decided by DuckDB, in
    this process (what ``creditgate batch`` without ``--engine`` runs; the CLI's own tests
    cover the command)."""
    root = tmp_path_factory.mktemp("duckdb")
    users = root / "users.parquet"
    write_parquet(users, USERS, seed=11, as_of=AS_OF, dirty_fraction=0.05)
    decider = Decider()
    report = run_batch(
        duckdb_backend(), users, root / "decisions.parquet", decider.policy, decider.regions,
        AS_OF, snapshot=root / "snapshot.parquet",
    )  # fmt: skip
    assert report.reconciles and report.duplicate_rows > 0
    return Reference(
        users,
        root / "decisions.parquet",
        root / "decisions.quarantine.parquet",
        root / "snapshot.parquet",
    )


def read_dir(path: Path, like: pa.Schema) -> pa.Table:
    """A Spark output directory (hive-partitioned) as ``like``'s columns and types."""
    table = ds.dataset(path, format="parquet", partitioning="hive").to_table()
    return table.select(like.names).cast(like)


def assert_same_run(ref: Reference, out: Path, snapshot: Path) -> None:
    want = pq.read_table(ref.decisions)
    got = read_dir(out / "decisions", want.schema)
    assert got.num_rows > 0
    assert got.sort_by("user_id").to_pylist() == want.sort_by("user_id").to_pylist()
    want_q = pq.read_table(ref.quarantine)
    assert want_q.num_rows > 0
    got_q = read_dir(out / "decisions.quarantine.parquet", want_q.schema)
    order = [("user_id", "ascending"), ("quarantine_reason", "ascending")]
    assert got_q.sort_by(order).to_pylist() == want_q.sort_by(order).to_pylist()
    assert pq.read_table(snapshot).to_pylist() == pq.read_table(ref.snapshot).to_pylist()
    got_meta, want_meta = read_meta(snapshot), read_meta(ref.snapshot)
    assert (got_meta.cutoffs, got_meta.city_cutoffs, got_meta.counts) == (
        want_meta.cutoffs,
        want_meta.city_cutoffs,
        want_meta.counts,
    )


def test_batch_on_a_standalone_cluster_equals_duckdb(
    spark_cluster: Cluster, reference: Reference, tmp_path: Path
) -> None:
    """The issue's command, with the output as a ``file://`` URI: partitioned by region class."""
    done = cli(
        "batch", reference.users.as_uri(), "--engine", "spark",
        "--master", spark_cluster.master_url, "--conf", "spark.sql.shuffle.partitions=4",
        "--out", (tmp_path / "decisions").as_uri(),
        "--snapshot", str(tmp_path / "snapshot.parquet"), "--as-of", AS_OF.isoformat(),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"input {USERS:,} = decided" in done.stdout
    assert (tmp_path / "decisions" / "region_class=tier1").is_dir()
    assert_same_run(reference, tmp_path, tmp_path / "snapshot.parquet")


def test_batch_under_spark_submit_equals_duckdb(
    spark_cluster: Cluster, reference: Reference, tmp_path: Path
) -> None:
    """The same command, unchanged but for ``--master``, run by ``spark-submit`` (client
    mode: the driver is this machine's Python with creditgate; the executors get none).
    With a checkpoint directory, as a cluster that may lose executors sets: the staged
    tables are written there by the executors and deleted when released (the direct run
    above keeps them on the executors, ``localCheckpoint``)."""
    env = driver_env() | {"PYSPARK_DRIVER_PYTHON": sys.executable}
    checkpoints = tmp_path / "checkpoints"
    done = subprocess.run(
        [
            str(spark_cluster.spark_submit), "--master", spark_cluster.master_url,
            "--conf", "spark.sql.shuffle.partitions=4",
            "--conf", f"spark.checkpoint.dir={checkpoints.as_uri()}",
            creditgate.submit.creditgate_main.__file__,
            "batch", str(reference.users), "--engine", "spark",
            "--out", str(tmp_path / "decisions"),
            "--snapshot", str(tmp_path / "snapshot.parquet"), "--as-of", AS_OF.isoformat(),
        ],
        env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"input {USERS:,} = decided" in done.stdout
    assert_same_run(reference, tmp_path, tmp_path / "snapshot.parquet")
    [session_dir] = checkpoints.iterdir()  # Spark's directory for this application
    assert list(session_dir.iterdir()) == []  # every staged table's files released
