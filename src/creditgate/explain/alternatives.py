"""Where else to turn, for everyone left out (how to ask for a human: ``Decision.review``)."""

from __future__ import annotations

from functools import lru_cache

from creditgate.decision import Alternative
from creditgate.explain.catalogue import text
from creditgate.policy.nodes import Outcome

_GENERAL = ("bank_app", "licensed_cfc")


@lru_cache(maxsize=16)
def alternatives(outcome: str, referred: bool) -> tuple[Alternative, ...]:
    """Business needs first go to business loans; then bank apps and licensed companies."""
    if outcome == Outcome.INVITED:
        return ()
    kinds = (("business_loan",) if referred else ()) + _GENERAL
    return tuple(Alternative(k, text("alternatives", k)) for k in kinds)
