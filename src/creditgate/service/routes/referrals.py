"""Licensed lenders for a refused user, consent to share named fields with one, referral.

``GET /v1/users/{id}/lenders``, ``GET|POST /v1/users/{id}/referral-consents``,
``POST /v1/users/{id}/referral-consent-withdrawal``, ``POST /v1/users/{id}/referrals``: the
service, an admin or the user themself (``UserFacing`` + ``own_user``), as every user route.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from creditgate.service import referrals as r
from creditgate.service.answers import answer
from creditgate.service.deps import ServicesDep, UserFacing, own_user
from creditgate.store.referrals import ReferralConsent

router = APIRouter(prefix="/v1", tags=["referrals"])


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ConsentRequest(_In):
    lender_id: str = Field(min_length=1, max_length=40)
    fields: list[str] = Field(min_length=1, max_length=32, description="Profile field names.")


class WithdrawalRequest(_In):
    consent_id: str = Field(min_length=1, max_length=40)


class ReferralRequest(_In):
    lender_id: str = Field(min_length=1, max_length=40)


class ConsentOut(BaseModel):
    consent_id: str
    lender_id: str
    fields: list[str]
    granted_at: str = Field(description="Asia/Shanghai time with its offset.")
    withdrawn_at: str | None
    active: bool


class ConsentList(BaseModel):
    user_id: str
    consents: list[ConsentOut]


class LendersOut(BaseModel):
    user_id: str
    lenders: list[dict[str, Any]] = Field(
        description="The lenders the user's refusal names, cheapest first (docs/lenders.md)."
    )


class ReferralOut(BaseModel):
    referral_id: str
    lender_id: str
    fields: list[str]
    shared: dict[str, Any] = Field(
        description="What is handed to the lender's mini-program: exactly the consented fields."
    )
    shared_hmac: str
    consent_ids: list[str]
    mini_program: dict[str, str]
    created_at: str


MISSING_DOC: dict[int | str, dict[str, Any]] = {
    403: {"description": "No unwithdrawn consent covers these fields for this lender."},
    404: {"description": "No such lender."},
    409: {"description": "Not possible for this user (no refusal naming this lender)."},
}


def _consent(c: ReferralConsent) -> ConsentOut:
    return ConsentOut(
        consent_id=c.consent_id,
        lender_id=c.lender_id,
        fields=list(c.fields),
        granted_at=c.granted_at,
        withdrawn_at=c.withdrawn_at,
        active=c.active,
    )


def _refused(exc: r.ReferralRefusedError) -> HTTPException:
    return HTTPException(exc.status, str(exc))


@router.get("/users/{user_id}/lenders")
def lenders(user_id: str, caller: UserFacing, services: ServicesDep) -> LendersOut:
    """The licensed lenders whose published criteria the user's refusal met (none for an
    invitation), with licence and APR range; nothing is shared by asking."""
    own_user(caller, user_id)
    return LendersOut(user_id=user_id, lenders=r.named_lenders(answer(services, user_id)))


@router.get("/users/{user_id}/referral-consents")
def list_consents(user_id: str, caller: UserFacing, services: ServicesDep) -> ConsentList:
    """Every consent the user gave to share fields with a lender, withdrawn ones included."""
    own_user(caller, user_id)
    found = r.store(services).consents(user_id)
    return ConsentList(user_id=user_id, consents=[_consent(c) for c in found])


@router.post("/users/{user_id}/referral-consents", status_code=201, responses=MISSING_DOC)
def grant_consent(
    user_id: str, body: ConsentRequest, caller: UserFacing, services: ServicesDep
) -> ConsentOut:
    """Record the user's separate consent (PIPL Art. 23) to share the named fields (some or
    all of those the lender asks for) with the named lender."""
    own_user(caller, user_id)
    try:
        return _consent(r.grant(services, caller, user_id, body.lender_id, body.fields))
    except r.ReferralRefusedError as exc:
        raise _refused(exc) from None


@router.post("/users/{user_id}/referral-consent-withdrawal", responses=MISSING_DOC)
def withdraw_consent(
    user_id: str, body: WithdrawalRequest, caller: UserFacing, services: ServicesDep
) -> ConsentOut:
    """Withdraw one consent: no referral relies on it from now on (repeating it is harmless)."""
    own_user(caller, user_id)
    try:
        return _consent(r.withdraw(services, caller, user_id, body.consent_id))
    except r.ReferralRefusedError as exc:
        raise _refused(exc) from None


@router.post(
    "/users/{user_id}/referrals",
    status_code=201,
    responses=MISSING_DOC,
    response_model=ReferralOut,
)
def make_referral(
    user_id: str, body: ReferralRequest, caller: UserFacing, services: ServicesDep
) -> Any:
    """Share the fields the lender asks for with it, if the user consented to every one of
    them (403 naming the missing fields otherwise: nothing is shared in part)."""
    own_user(caller, user_id)
    try:
        shared = r.refer(services, caller, user_id, body.lender_id)
    except r.ReferralRefusedError as exc:
        raise _refused(exc) from None
    except r.ConsentMissingError as exc:
        return JSONResponse(
            {
                "detail": str(exc),
                "lender_id": exc.lender_id,
                "missing_fields": list(exc.missing),
            },
            status_code=403,
        )
    made = shared.referral
    return ReferralOut(
        referral_id=made.referral_id,
        lender_id=made.lender_id,
        fields=list(made.fields),
        shared=shared.values,
        shared_hmac=made.shared_hmac,
        consent_ids=list(made.consent_ids),
        mini_program=shared.lender.public()["mini_program"],
        created_at=made.created_at,
    )
