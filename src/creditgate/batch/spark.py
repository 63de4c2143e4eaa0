"""The Spark session of ``--engine spark``, configured the way Spark users configure it.

Precedence, highest first: ``--conf key=value`` and ``--master URL`` on the command line,
then what ``spark-submit`` was given (when the CLI runs under it), then
``spark-defaults.conf`` (``$SPARK_CONF_DIR``, else ``$SPARK_HOME/conf``), then creditgate's
own defaults below, then Spark's. With no master anywhere Spark runs ``local[*]``: every
local core.

creditgate's defaults are applied only to keys nobody set: a 2 GB driver and no UI (both only
when this process starts the JVM; under ``spark-submit`` the JVM is already running), Arrow for
handing the compiler's small lookup tables to Spark (without it PySpark ships them as a Python
RDD, and executors would need a Python with creditgate's dependencies), UTC session time,
and two optimizer rules off that only cost planning time on its queries (``PLANNING_DEFAULTS``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

PROPERTY = re.compile(r"(?P<key>[^\s=:]+)\s*(?:[=:]\s*|\s)?(?P<value>.*)")
LAUNCH_DEFAULTS = {"spark.driver.memory": "2g", "spark.ui.enabled": "false"}
# Two optimizer rules that look for a join to prune by (dynamic partition pruning, runtime
# bloom filters) never fire on the program (its joins are against small lookup tables) but
# walk its plan (about a hundred nested projections) at length: measured on the default
# policy's one-query program, 6 of 9 s of Catalyst's rule time, optimising 10-14 s -> 1 s.
PLANNING_DEFAULTS = {
    "spark.sql.optimizer.dynamicPartitionPruning.enabled": "false",
    "spark.sql.optimizer.runtime.bloomFilter.enabled": "false",
}
SESSION_DEFAULTS = {
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.execution.arrow.pyspark.fallback.enabled": "false",
    "spark.sql.session.timeZone": "UTC",
    **PLANNING_DEFAULTS,
}


class SparkConfError(ValueError):
    """A ``--conf`` item that is not ``key=value``."""


def parse_conf(items: Sequence[str]) -> dict[str, str]:
    """``["spark.executor.memory=4g", ...]`` as a dict (a later key wins, as in spark-submit)."""
    conf: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise SparkConfError(f"--conf {item!r}: expected key=value")
        conf[key.strip()] = value
    return conf


def defaults_file(env: Mapping[str, str] | None = None) -> Path | None:
    """``spark-defaults.conf`` where Spark looks for it, if there is one."""
    env = os.environ if env is None else env
    if conf_dir := env.get("SPARK_CONF_DIR"):
        path = Path(conf_dir) / "spark-defaults.conf"
    elif home := env.get("SPARK_HOME"):
        path = Path(home) / "conf" / "spark-defaults.conf"
    else:
        return None
    return path if path.is_file() else None


def spark_defaults(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The keys ``spark-defaults.conf`` sets (Java properties syntax: ``key value`` or
    ``key=value``, ``#`` comments)."""
    path = defaults_file(env)
    if path is None:
        return {}
    found: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith(("#", "!")):
            continue
        if m := PROPERTY.match(line):
            found[m["key"]] = m["value"].strip()
    return found


def under_spark_submit(env: Mapping[str, str] | None = None) -> bool:
    """True when a JVM gateway is already running for this process (``spark-submit``)."""
    env = os.environ if env is None else env
    return "PYSPARK_GATEWAY_PORT" in env


def spark_session(master: str | None = None, conf: Mapping[str, str] | None = None) -> Any:
    """A SparkSession honouring the standard configuration (module docstring)."""
    from pyspark.sql import SparkSession

    given = dict(conf or {})
    configured = spark_defaults() | given
    builder = SparkSession.builder.appName(given.get("spark.app.name", "creditgate"))
    if master is not None:
        builder = builder.master(master)
    if not under_spark_submit():
        for key, value in LAUNCH_DEFAULTS.items():
            if key not in configured:
                builder = builder.config(key, value)
    for key, value in given.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    context_conf = session.sparkContext.getConf()
    for key, value in SESSION_DEFAULTS.items():
        if key not in configured and not context_conf.contains(key):
            session.conf.set(key, value)
    return session
