"""Decide and store, idempotently: the body of ``POST /v1/decisions`` without the HTTP.

Runs on the event loop: validation and the decision are microseconds of CPU, and the only I/O
(the append, with the idempotency and consent checks made under the chain lock) is awaited
from the group-commit writer thread. The decision's ``"cutoffs"`` field (which cutoffs it was
cut at) is built once per ``Live`` by ``state`` and shared by every decision made with it.
"""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Any

import anyio
import orjson

from creditgate.identifiers import new_decision_id
from creditgate.policy.nodes import Outcome
from creditgate.profile import ProfileError, unencodable, validate_profile
from creditgate.service.deps import Services
from creditgate.service.review_queue import queue_manual_review
from creditgate.service.state import ActiveSnapshot, Live
from creditgate.snapshot_decider import cutoffs_for
from creditgate.store.canonical import canonical
from creditgate.store.repo import Pending, Stored
from creditgate.timeutil import today_shanghai

CONSENT_FIELDS = ("consent_credit_data", "consent_behaviour_data")


class IdempotencyConflictError(Exception):
    """The caller used this ``Idempotency-Key`` before for a different request (HTTP 409)."""


def scoped_key(caller: str, key: str) -> str:
    """An idempotency key as stored: one caller's key never meets another's."""
    return hashlib.sha256(f"{caller}\n{key}".encode()).hexdigest()


def request_hash(profile: dict[str, Any], as_of: date | None) -> str:
    """What an idempotency key is bound to: the request body, parsed (spacing and key order
    do not matter), with ``as_of`` as sent (absent stays absent)."""
    body = {"profile": profile, "as_of": as_of.isoformat() if as_of else None}
    return hashlib.sha256(canonical(body)).hexdigest()


def public(decision: dict[str, Any]) -> dict[str, Any]:
    """What a caller may see: the contract, never the operator-only ``_internal`` facts."""
    return {k: v for k, v in decision.items() if k != "_internal"}


def decision_json(stored: Stored) -> bytes:
    """The response body of a stored decision."""
    return orjson.dumps(public(stored.decision))


def held_invitation(
    snap: ActiveSnapshot | None, live: Live, user_id: Any, when: date
) -> dict[str, Any]:
    """``invited_since`` and ``invited_limit_cny`` as the user's arm's snapshot ``snap`` (the
    active one when no experiment runs) holds them for ``user_id`` (both None when it does not
    invite them, or when no snapshot is live, or when the invitation would begin after
    ``when``)."""
    none: dict[str, Any] = {"invited_since": None, "invited_limit_cny": None}
    if (
        live.snapshot is None
        or snap is None
        or snap.held is None
        or snap.snapshot_id != live.snapshot["snapshot_id"]
        or not isinstance(user_id, str)
    ):
        return none
    found = snap.held.get(user_id)
    if found is None or found[0] > when:
        return none
    return {"invited_since": found[0].isoformat(), "invited_limit_cny": found[1]}


async def decide_and_store(
    services: Services,
    profile: dict[str, Any],
    as_of: date | None,
    key: str | None,
    caller: str,
    hold: bool = True,
) -> tuple[Stored, bool]:
    """Validate (``ProfileError`` on bad input), decide with the active policy and snapshot
    cutoffs, append to the log. An idempotency ``key`` is scoped to the ``caller`` (a
    principal's name) and bound to the request: reused for another, ``IdempotencyConflictError``.
    A user who withdrew consent is decided as without consent and their inputs are not kept
    (the record stores a tombstone and the redacted decision, see ``Pending.of``).

    With ``hold`` the profile's held invitation (``invited_since``, ``invited_limit_cny``) is
    the active snapshot's, whatever the caller sent: the whitelist in force is the authority
    on who holds an invitation (``held_invitation``); the stored inputs carry those values,
    so ``replay`` decides alike. A snapshot answer being stored (``answers.materialise``)
    keeps the batch's own values instead (``hold=False``).

    While an experiment runs, the user's arm (``state.view``) decides: its policy, snapshot
    cutoffs and held invitation; the decision and its stored inputs record
    ``experiment: {"id", "arm"}`` (``replay`` checks the arm and uses the same pair)."""
    when = as_of or today_shanghai()
    view = services.state.view(profile.get("user_id"))
    live = view.live
    decider = live.decider
    try:
        encoded = orjson.dumps(profile)
    except orjson.JSONEncodeError:  # e.g. an integer beyond 64 bits: 422 naming it, not 500
        raise ProfileError(unencodable(profile)) from None
    bound = request_hash(profile, as_of) if key is not None else None
    if hold:
        profile = {**profile, **held_invitation(view.snapshot, live, profile.get("user_id"), when)}
        encoded = orjson.dumps(profile)
    row = validate_profile(encoded, when, decider.policy, decider.regions)
    withdrawn = row["user_id"] in services.state.withdrawn  # the writer re-checks under lock
    inputs: dict[str, Any] = {"profile": profile, "as_of": when.isoformat()}
    if live.snapshot is not None:  # replay cuts at the same scores
        inputs["snapshot"] = live.snapshot
    if view.experiment is not None:
        inputs["experiment"] = view.experiment
    stored_key = scoped_key(caller, key) if key is not None else None
    while True:
        if withdrawn:
            row.update(dict.fromkeys(CONSENT_FIELDS, False))
        decision = decider.decide(row, when, decision_id=new_decision_id())
        stored_decision = decision.to_dict()
        stored_decision["cutoffs"] = cutoffs_for(live.cutoffs, decider, row)
        if view.experiment is not None:
            stored_decision["experiment"] = view.experiment
        if decision.internal:
            stored_decision["_internal"] = decision.internal
        appended = await services.writer.submit(
            Pending.of(stored_decision, inputs, stored_key, withdrawn, bound)
        )
        if isinstance(appended, str):  # KEY_CONFLICT
            raise IdempotencyConflictError("this Idempotency-Key was used for a different request")
        if appended is not None:
            stored, created = appended
            if created and view.realtime.key == live.key:  # this worker knows now
                view.realtime.note(stored)
            if created and stored.decision.get("outcome") == Outcome.MANUAL_REVIEW:
                await anyio.to_thread.run_sync(queue_manual_review, services, stored)
            return appended
        withdrawn = True  # withdrawn meanwhile (another worker): decide again without consent
