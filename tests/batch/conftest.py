"""The batch tests' shared fixtures: one standalone Spark cluster and one in-process Spark
run (``shared_spark.py``) for the session."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from shared_spark import SharedRun, shared_run
from spark_cluster import NO_PYTHON, Cluster, standalone_cluster


@pytest.fixture(scope="session")
def spark_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A master and one worker (1 core, 1 GB) on 127.0.0.1, stopped by PID at the end (also
    when a test fails). Its worker's ``PYSPARK_PYTHON`` does not exist."""
    pytest.importorskip("pyspark")
    if shutil.which("java") is None:
        pytest.skip("Spark needs Java 17")
    root = tmp_path_factory.mktemp("spark-cluster")
    with standalone_cluster(root, worker_env={"PYSPARK_PYTHON": NO_PYTHON}) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def spark_run(tmp_path_factory: pytest.TempPathFactory) -> SharedRun:
    """One Spark batch (and DuckDB's of the same input) for every test that reads a run."""
    pytest.importorskip("pyspark")
    return shared_run(tmp_path_factory.mktemp("spark-run"))
