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


@pytest.fixture(scope="session")
def decider() -> Decider:
    return Decider()
