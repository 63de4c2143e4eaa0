"""The suite's xdist groups hold (``--dist loadgroup``, scripts/test): every in-process Spark
test on one worker (one JVM, one shared Spark run), the browser tests on one. pytest-xdist
marks a grouped test by suffixing its id with ``@<group>``; under pytest 9.2 that suffix was
silently lost (pyproject pins pytest below it), scattering every group over both workers."""

from __future__ import annotations

import pytest


def under_loadgroup(request: pytest.FixtureRequest) -> None:
    if not hasattr(request.config, "workerinput"):
        pytest.skip("a property of the xdist run (scripts/test), not of a plain one")
    assert request.config.getvalue("loadgroup"), "scripts/test runs --dist loadgroup"


def test_a_spark_test_is_scheduled_with_the_spark_group(request: pytest.FixtureRequest) -> None:
    under_loadgroup(request)  # "spark" in the id: tests/conftest.py adds the group's mark
    assert request.node.nodeid.endswith("@spark"), request.node.nodeid


@pytest.mark.xdist_group("browser")
def test_a_marked_test_is_scheduled_with_its_group(request: pytest.FixtureRequest) -> None:
    under_loadgroup(request)
    assert request.node.nodeid.endswith("@browser"), request.node.nodeid
