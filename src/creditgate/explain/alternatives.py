"""Where else to turn, and how to ask for a human (PIPL Art. 24): for everyone left out."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from creditgate.decision import Alternative
from creditgate.explain.catalogue import text

_GENERAL = ("bank_app", "licensed_cfc")


@lru_cache(maxsize=16)
def alternatives(outcome: str, referred: bool) -> tuple[Alternative, ...]:
    """Business needs first go to business loans; then bank apps and licensed companies."""
    if outcome == "invited":
        return ()
    kinds = (("business_loan",) if referred else ()) + _GENERAL
    return tuple(Alternative(k, text("alternatives", k)) for k in kinds)


def review_info(decision_id: str) -> dict[str, Any]:
    """Every automated decision can be explained and reviewed by a person on request."""
    return {
        "right": "PIPL Art. 24",
        "endpoint": "POST /v1/reviews",
        "decision_id": decision_id,
        "message": review_message(),
    }


@lru_cache(maxsize=1)
def review_message() -> dict[str, str]:
    return text("review", "")
