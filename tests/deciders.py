"""Deciders built once per policy: a ``Decider`` compiles its policy (about 30 ms), so a
property test that built one per example spent most of its time compiling the same code."""

from __future__ import annotations

from functools import lru_cache

from creditgate.decider import Decider
from creditgate.policy.nodes import Policy


@lru_cache(maxsize=16)
def decider_for(policy: Policy | None = None) -> Decider:
    """The decider of ``policy`` (the packaged default when None), compiled on first use.

    Keyed on the policy's value (a frozen dataclass), so equal policies share one decider;
    callers must not mutate what it returns (no test does: deciding is read-only)."""
    return Decider(policy)
