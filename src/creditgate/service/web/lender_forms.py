"""The page's lender forms: agree to share a lender's fields, withdraw that, send them.

Each calls the same function as its API route (``service/referrals.py``) for the session's
user, after the session and CSRF checks of every form, and answers 303 to ``/`` with a flash.
The consent form always names every field the lender asks for: the page records consent to
all of them (the API may record fewer, which then cannot be used for a referral).
"""

from __future__ import annotations

import anyio
from fastapi import APIRouter, Request, Response

from creditgate.service import referrals
from creditgate.service.deps import ServicesDep
from creditgate.service.web.routes import _back, _posted, _principal

router = APIRouter(include_in_schema=False)


@router.post("/self-check/lender-consent")
async def agree(request: Request, services: ServicesDep) -> Response:
    posted = await _posted(request, services)
    if isinstance(posted, Response):
        return posted
    session, form = posted
    principal = _principal(services, session)
    try:
        lender = referrals.lender(form.get("lender_id", ""))
        await anyio.to_thread.run_sync(
            referrals.grant, services, principal, session.user_id, lender.id, list(lender.fields)
        )
    except referrals.ReferralRefusedError:
        return _back(request, "referral_refused")
    return _back(request, "lender_consent_recorded")


@router.post("/self-check/lender-consent-withdrawal")
async def withdraw(request: Request, services: ServicesDep) -> Response:
    posted = await _posted(request, services)
    if isinstance(posted, Response):
        return posted
    session, form = posted
    principal = _principal(services, session)
    try:
        await anyio.to_thread.run_sync(
            referrals.withdraw, services, principal, session.user_id, form.get("consent_id", "")
        )
    except referrals.ReferralRefusedError:
        return _back(request)
    return _back(request, "lender_consent_withdrawn")


@router.post("/self-check/referral")
async def refer(request: Request, services: ServicesDep) -> Response:
    posted = await _posted(request, services)
    if isinstance(posted, Response):
        return posted
    session, form = posted
    principal = _principal(services, session)
    try:
        await anyio.to_thread.run_sync(
            referrals.refer, services, principal, session.user_id, form.get("lender_id", "")
        )
    except (referrals.ReferralRefusedError, referrals.ConsentMissingError):
        return _back(request, "referral_refused")
    return _back(request, "referral_sent")
