"""The page's lender forms: agree to share a lender's fields, withdraw that, send them.

Each calls the same function as its API route (``service/referrals.py``) for the session's
user, after the session and CSRF checks of every form, and answers 303 to ``/`` with a flash.
The consent form always names every field the lender asks for: the page records consent to
all of them (the API may record fewer, which then cannot be used for a referral).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import anyio
from fastapi import APIRouter, Request, Response

from creditgate.service import referrals
from creditgate.service.deps import Services, ServicesDep
from creditgate.service.security import Principal
from creditgate.service.web.routes import _back, _posted, _principal

router = APIRouter(include_in_schema=False)


Act = Callable[[Services, Principal, str, Mapping[str, str]], object]


async def _act(
    request: Request, services: Services, act: Act, done: str, refused: str | None
) -> Response:
    """Run ``act`` for the session's user after the form checks; 303 with ``done``, or with
    ``refused`` (no flash when None) when the referral service refuses it."""
    posted = await _posted(request, services)
    if isinstance(posted, Response):
        return posted
    session, form = posted
    principal = _principal(services, session)
    try:
        await anyio.to_thread.run_sync(act, services, principal, session.user_id, form)
    except (referrals.ReferralRefusedError, referrals.ConsentMissingError):
        return _back(request, refused)
    return _back(request, done)


def _agree(services: Services, caller: Principal, user_id: str, form: Mapping[str, str]) -> None:
    lender = referrals.lender(form.get("lender_id", ""))
    referrals.grant(services, caller, user_id, lender.id, list(lender.fields))


def _withdraw(services: Services, caller: Principal, user_id: str, form: Mapping[str, str]) -> None:
    referrals.withdraw(services, caller, user_id, form.get("consent_id", ""))


def _refer(services: Services, caller: Principal, user_id: str, form: Mapping[str, str]) -> None:
    referrals.refer(services, caller, user_id, form.get("lender_id", ""))


@router.post("/self-check/lender-consent")
async def agree(request: Request, services: ServicesDep) -> Response:
    return await _act(request, services, _agree, "lender_consent_recorded", "referral_refused")


@router.post("/self-check/lender-consent-withdrawal")
async def withdraw(request: Request, services: ServicesDep) -> Response:
    return await _act(request, services, _withdraw, "lender_consent_withdrawn", None)


@router.post("/self-check/referral")
async def refer(request: Request, services: ServicesDep) -> Response:
    return await _act(request, services, _refer, "referral_sent", "referral_refused")
