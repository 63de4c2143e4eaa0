"""Decide and store, idempotently: the body of ``POST /v1/decisions`` without the HTTP."""

from __future__ import annotations

from datetime import date
from typing import Any

import orjson

from creditgate.profile import validate_profile
from creditgate.service.deps import Services
from creditgate.store.repo import Pending, Stored
from creditgate.timeutil import today_shanghai

CONSENT_FIELDS = ("consent_credit_data", "consent_behaviour_data")


def public(decision: dict[str, Any]) -> dict[str, Any]:
    """What a caller may see: the contract, never the operator-only ``_internal`` facts."""
    return {k: v for k, v in decision.items() if k != "_internal"}


def decide_and_store(
    services: Services, profile: dict[str, Any], as_of: date | None, key: str | None
) -> tuple[Stored, bool]:
    """Validate (``ProfileError`` on bad input), decide with the active policy, append to the
    log. A user who withdrew consent is decided as without consent and their inputs are not
    kept (the record stores a tombstone; its hash still commits to the inputs)."""
    if key is not None:
        stored = services.log.by_key(key)
        if stored is not None:
            return stored, False
    when = as_of or today_shanghai()
    decider = services.state.decider()
    row = validate_profile(orjson.dumps(profile), when, decider.policy, decider.regions)
    withdrawn = services.catalog.consent_withdrawn(row["user_id"])
    if withdrawn:
        row.update(dict.fromkeys(CONSENT_FIELDS, False))
    decision = decider.decide(row, when)
    stored_decision = decision.to_dict()
    if decision.internal:
        stored_decision["_internal"] = decision.internal
    inputs = {"profile": profile, "as_of": when.isoformat()}
    return services.writer.submit(Pending.of(stored_decision, inputs, key, erase=withdrawn))
