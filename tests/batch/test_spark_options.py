"""How ``--engine spark`` is configured (``batch.spark``), where its data may live
(``batch.locations``), and the CLI's one-line exit 2 for options and URIs it cannot use."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from shared_spark import SharedRun
from typer.testing import CliRunner

import creditgate.cli.main
from creditgate.batch.locations import is_remote, local_path, location_of, sibling
from creditgate.batch.run import quarantine_path, report_path
from creditgate.batch.spark import SparkConfError, parse_conf, spark_defaults
from creditgate.cli.main import app
from creditgate.population.synth import write_parquet

runner = CliRunner()
SRC = Path(creditgate.cli.main.__file__).parents[2]


def test_conf_items_are_key_value_and_a_later_key_wins() -> None:
    got = parse_conf(["spark.executor.memory=4g", "a.b=x=y", "spark.executor.memory=8g"])
    assert got == {"spark.executor.memory": "8g", "a.b": "x=y"}
    with pytest.raises(SparkConfError, match="key=value"):
        parse_conf(["spark.executor.memory"])


def test_spark_defaults_is_read_where_spark_reads_it(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "spark-defaults.conf").write_text(
        "# comment\nspark.master   spark://h:7077\nspark.executor.memory=4g\n\n"
        "spark.eventLog.dir hdfs://nn:8020/logs\n"
    )
    want = {
        "spark.master": "spark://h:7077",
        "spark.executor.memory": "4g",
        "spark.eventLog.dir": "hdfs://nn:8020/logs",
    }
    assert spark_defaults({"SPARK_HOME": str(tmp_path)}) == want
    assert spark_defaults({"SPARK_CONF_DIR": str(tmp_path / "conf")}) == want
    assert spark_defaults({"SPARK_CONF_DIR": str(tmp_path)}) == {}
    assert spark_defaults({}) == {}


def test_uris_stay_text_and_file_uris_are_local_paths() -> None:
    s3 = location_of("s3a://bucket/runs/2026-11-30/decisions/")
    assert s3 == "s3a://bucket/runs/2026-11-30/decisions/"  # Path would drop a slash
    assert is_remote(s3) and local_path(s3) is None
    assert (
        sibling(s3, ".quarantine.parquet")
        == "s3a://bucket/runs/2026-11-30/decisions.quarantine.parquet"
    )
    assert quarantine_path("hdfs://nn:8020/d.parquet") == "hdfs://nn:8020/d.quarantine.parquet"
    assert report_path("hdfs://nn:8020/d.parquet") == "hdfs://nn:8020/d.report.json"
    assert local_path("file:///tmp/a%20b/x.parquet") == Path("/tmp/a b/x.parquet")
    assert not is_remote("file:///tmp/x") and not is_remote(Path("s3a-looking:name"))
    assert location_of("out/d.parquet") == Path("out/d.parquet")
    assert quarantine_path(Path("out/d.parquet")) == Path("out/d.quarantine.parquet")


@pytest.fixture(scope="module")
def users(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("users") / "users.parquet"
    write_parquet(path, 40, seed=3, as_of=date(2026, 11, 28))
    return path


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--master", "local[2]"], "--master: only with --engine spark"),
        (["--conf", "spark.x=1"], "--conf: only with --engine spark"),
        (["--partition-by", "province"], "--partition-by province: only with --engine spark"),
        (["--engine", "spark", "--conf", "spark.executor.memory"], "expected key=value"),
        (["--snapshot", "s3a://bucket/snap.parquet"], "a local file (the service loads it)"),
    ],
)
def test_options_that_cannot_apply_exit_2_in_a_line(
    users: Path, tmp_path: Path, extra: list[str], message: str
) -> None:
    done = runner.invoke(app, ["batch", str(users), "--out", str(tmp_path / "d.parquet"), *extra])
    assert done.exit_code == 2, done.output
    assert message in done.output
    assert not (tmp_path / "d.parquet").exists()


def test_a_remote_uri_needs_spark(users: Path, tmp_path: Path) -> None:
    done = runner.invoke(app, ["batch", "s3a://bucket/users/", "--out", str(tmp_path / "d")])
    assert done.exit_code == 2
    assert "s3a://bucket/users/: a remote URI needs --engine spark" in done.output
    done = runner.invoke(app, ["batch", str(users), "--out", "hdfs://nn:8020/d"])
    assert done.exit_code == 2
    assert "a remote URI needs --engine spark" in done.output


def session_facts(tmp_path: Path, defaults: str | None, *conf: str) -> list[str]:
    """master, time zone and driver memory of ``spark_session`` in a fresh process (a JVM of
    its own) with ``defaults`` as its ``spark-defaults.conf``."""
    conf_dir = tmp_path / "conf"
    conf_dir.mkdir()
    if defaults is not None:
        (conf_dir / "spark-defaults.conf").write_text(defaults)
    env = dict(os.environ, SPARK_CONF_DIR=str(conf_dir), SPARK_LOCAL_IP="127.0.0.1")
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), env.get("PYTHONPATH", "")])
    script = (
        "import sys\n"
        "from creditgate.batch.spark import PLANNING_DEFAULTS, parse_conf, spark_session\n"
        "s = spark_session(None, parse_conf(sys.argv[1:]))\n"
        "c = s.sparkContext.getConf()\n"
        "print(s.sparkContext.master, s.conf.get('spark.sql.session.timeZone'),"
        " c.get('spark.driver.memory'), c.get('spark.executor.memory', '-'),"
        " *(s.conf.get(k) for k in sorted(PLANNING_DEFAULTS)))\n"
        "s.stop()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, *conf], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.split()


# Each probe starts a JVM of its own in a child process: nothing they do needs the in-process
# Spark group's JVM, so they run beside that group (on the other xdist worker), not after it.
OWN_JVM = pytest.mark.xdist_group("spark_own_jvm")


@OWN_JVM
@pytest.mark.population
def test_nothing_configured_is_every_local_core(tmp_path: Path) -> None:
    # then the planning defaults, by key: dynamic partition pruning, runtime bloom filters
    assert session_facts(tmp_path, None) == ["local[*]", "UTC", "2g", "-", "false", "false"]


@OWN_JVM
@pytest.mark.population
def test_spark_defaults_conf_is_honoured_and_conf_wins_over_it(tmp_path: Path) -> None:
    defaults = (
        "spark.master local[2]\nspark.sql.session.timeZone Asia/Shanghai\n"
        "spark.driver.memory 1g\nspark.executor.memory 3g\n"
        "spark.sql.optimizer.runtime.bloomFilter.enabled true\n"
    )
    got = session_facts(tmp_path, defaults, "spark.executor.memory=5g")
    assert got == ["local[2]", "Asia/Shanghai", "1g", "5g", "false", "true"]


PYTHON_NODES = ("PythonUDF", "BatchEvalPython", "ArrowEvalPython", "MapInPandas", "MapInArrow")


@pytest.mark.population
def test_every_spark_query_of_a_run_is_sql_without_python(spark_run: SharedRun) -> None:
    """Each query a run sends to Spark plans with no Python node: executors need no
    creditgate (the cluster tests run a worker whose Python does not exist). The run is the
    session's shared one (``shared_spark.py``: dirty rows, partitioned by region class and
    province), each query's executed plan recorded as it was sent."""
    report, plans, out = spark_run.spark, spark_run.plans, spark_run.out
    assert report.reconciles and report.quarantined > 0
    assert len(plans) > 5
    assert [p for p in plans if any(node in p for node in PYTHON_NODES)] == []
    assert any((out / "decisions").glob("region_class=*/province=*/*.parquet"))
    session = spark_run.session
    session.udf.register("cg_probe", lambda x: x, "int")  # the check does see a Python UDF
    probe = session.sql("SELECT cg_probe(id) FROM range(1)")._jdf.queryExecution().executedPlan()
    assert "BatchEvalPython" in str(probe.toString())


def test_the_lab_commands_take_the_same_spark_options(users: Path, tmp_path: Path) -> None:
    policy = str(Path(creditgate.cli.main.__file__).parents[1] / "policy/defaults/default.yaml")
    pop = ["--population", str(users)]
    for command in (
        ["simulate", policy, *pop, "--out", str(tmp_path / "lab")],
        ["compare", policy, policy, *pop],
        [
            "calibrate",
            policy,
            *pop,
            "--bad-rate-ceiling",
            "0.01",
            "--out",
            str(tmp_path / "c.yaml"),
        ],
    ):
        done = runner.invoke(app, [*command, "--master", "local[2]"])
        assert done.exit_code == 2, done.output
        assert "--master: only with --engine spark" in done.output
        done = runner.invoke(app, [*command, "--engine", "spark", "--conf", "oops"])
        assert done.exit_code == 2, done.output
        assert "expected key=value" in done.output
