"""Decide and store, idempotently: the body of ``POST /v1/decisions`` without the HTTP.

Runs on the event loop: validation and the decision are microseconds of CPU, and the only I/O
(the append, with the idempotency and consent checks made under the chain lock) is awaited
from the group-commit writer thread.
"""

from __future__ import annotations

import os
import random
from datetime import date
from typing import Any

import orjson

from creditgate.profile import ProfileError, unencodable, validate_profile
from creditgate.service.deps import Services
from creditgate.store.repo import Pending, Stored
from creditgate.timeutil import today_shanghai

CONSENT_FIELDS = ("consent_credit_data", "consent_behaviour_data")
# Ids need uniqueness, not secrecy (reads are authorised by role and owner). os.urandom releases
# the GIL, and re-taking it behind the writer thread costs milliseconds on the event loop.
_IDS = random.Random(os.urandom(32))


def new_decision_id() -> str:
    return f"d_{_IDS.getrandbits(96):024x}"


def public(decision: dict[str, Any]) -> dict[str, Any]:
    """What a caller may see: the contract, never the operator-only ``_internal`` facts."""
    return {k: v for k, v in decision.items() if k != "_internal"}


def decision_json(stored: Stored) -> bytes:
    """The response body of a stored decision."""
    return orjson.dumps(public(stored.decision))


async def decide_and_store(
    services: Services, profile: dict[str, Any], as_of: date | None, key: str | None
) -> tuple[Stored, bool]:
    """Validate (``ProfileError`` on bad input), decide with the active policy and snapshot
    cutoffs, append to the log. A user who withdrew consent is decided as without consent
    and their inputs are not kept (the record stores a tombstone; its hash still commits to
    the inputs)."""
    when = as_of or today_shanghai()
    live = services.state.live()
    decider = live.decider
    if problems := unencodable(profile):  # e.g. an integer beyond 64 bits: 422, not 500
        raise ProfileError(problems)
    row = validate_profile(orjson.dumps(profile), when, decider.policy, decider.regions)
    withdrawn = row["user_id"] in services.state.withdrawn  # the writer re-checks under lock
    inputs: dict[str, Any] = {"profile": profile, "as_of": when.isoformat()}
    if live.snapshot is not None:  # replay cuts at the same scores
        inputs["snapshot"] = live.snapshot
    while True:
        if withdrawn:
            row.update(dict.fromkeys(CONSENT_FIELDS, False))
        decision = decider.decide(row, when, decision_id=new_decision_id())
        stored_decision = decision.to_dict()
        if decision.internal:
            stored_decision["_internal"] = decision.internal
        appended = await services.writer.submit(
            Pending.of(stored_decision, inputs, key, erase=withdrawn)
        )
        if appended is not None:
            return appended
        withdrawn = True  # withdrawn meanwhile (another worker): decide again without consent
