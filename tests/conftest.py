from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

from creditgate.decider import Decider

settings.register_profile(
    "ci", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that starts Spark in the test process runs in one xdist worker (``--dist
    loadgroup`` in scripts/test): a worker's first Spark test starts a JVM (20-90 s on the
    two-core machine, 2 GB of driver heap) that the worker then keeps, so spreading them over
    both workers paid for two. They are the tests with ``spark`` in their id; the standalone
    cluster's tests keep their own group (their drivers are processes of their own)."""
    for item in items:
        if "spark" in item.nodeid.lower() and item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group("spark"))


@pytest.fixture(scope="session")
def decider() -> Decider:
    return Decider()
