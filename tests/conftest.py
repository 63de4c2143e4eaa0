from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from creditgate.decider import Decider

# Every Spark JVM the suite starts (in process, the CLI's, spark-submit's, a cluster's
# executors) reads the suite's spark-defaults.conf (short-lived JVM settings, see that file),
# never the developer's own Spark configuration.
os.environ["SPARK_CONF_DIR"] = str(Path(__file__).parent / "spark-conf")

settings.register_profile(
    "ci", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.hookimpl(tryfirst=True)  # before xdist groups by the marks (test_xdist_groups.py)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test that starts Spark in the test process runs in one xdist worker (``--dist
    loadgroup`` in scripts/test): a worker's first Spark test starts a JVM (2 GB of driver
    heap, kept for the worker's life) and plans cold (184 s on the loaded two-core machine,
    the next ones 40-44 s), so spreading them over both workers paid that twice. They are the
    tests with ``spark`` in their id; the standalone cluster's tests keep their own group
    (their drivers are processes of their own). Without xdist (``-p no:xdist``) the mark is
    unknown, so it is not set."""
    if not config.pluginmanager.hasplugin("xdist"):
        return
    for item in items:
        if "spark" in item.nodeid.lower() and item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group("spark"))


@pytest.fixture(scope="session")
def decider() -> Decider:
    return Decider()
