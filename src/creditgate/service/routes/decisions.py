"""``POST /v1/decisions``, ``GET /v1/decisions/{id}``, consent withdrawal."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Response

from creditgate.service.consent import withdraw_consent as withdraw
from creditgate.service.deciding import decide_and_store, decision_json
from creditgate.service.deps import Decider, Reader, ServicesDep, UserFacing, own_user
from creditgate.service.schemas import ConsentWithdrawal, DecisionOut, DecisionRequest

router = APIRouter(prefix="/v1", tags=["decisions"])
JSON = "application/json"
DECISION_DOC: dict[int | str, dict[str, Any]] = {
    200: {"description": "The decision (docs/architecture.md, 'Contracts')."}
}
CREATE_DOC: dict[int | str, dict[str, Any]] = {
    200: {"description": "The decision (docs/architecture.md, 'Contracts').", "model": DecisionOut},
    409: {"description": "This Idempotency-Key was used by this caller for another request."},
}


@router.post("/decisions", responses=CREATE_DOC)
async def create_decision(
    body: DecisionRequest,
    caller: Decider,
    services: ServicesDep,
    idempotency_key: Annotated[str | None, Header(min_length=1, max_length=128)] = None,
) -> Response:
    """Decide a profile with the active policy and store it in the audit log.

    Repeating a request with the same ``Idempotency-Key`` (from the same caller) returns the
    stored decision; the same key with a different body is refused with 409.
    """
    stored, created = await decide_and_store(
        services, body.profile, body.as_of, idempotency_key, caller.name
    )
    headers = {"Idempotent-Replayed": "false" if created else "true"}
    return Response(decision_json(stored), media_type=JSON, headers=headers)


@router.get("/decisions/{decision_id}", responses=DECISION_DOC)
def get_decision(decision_id: str, caller: Reader, services: ServicesDep) -> Response:
    """A stored decision; a user token sees only its own (others are "not found")."""
    stored = services.log.get(decision_id)
    if stored is None or (caller.role == "user" and caller.user_id != stored.user_id):
        raise HTTPException(404, "no such decision")
    return Response(decision_json(stored), media_type=JSON)


@router.post("/users/{user_id}/consent-withdrawal")
def withdraw_consent(user_id: str, caller: UserFacing, services: ServicesDep) -> ConsentWithdrawal:
    """The user withdraws consent: later decisions say CONSENT_MISSING, the entry disappears,
    the stored inputs and personal fields of their decisions and their review texts are erased,
    recorded as an ``erasure`` event (the audit chain still verifies)."""
    own_user(caller, user_id)
    erased = withdraw(services, caller, user_id)
    return ConsentWithdrawal(user_id=user_id, erased_decisions=erased)
