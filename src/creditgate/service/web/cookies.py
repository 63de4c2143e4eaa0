"""The page's cookies: the session, the language, a one-shot flash, the last "what if".

All are ``HttpOnly`` (the page has no script), ``SameSite=Lax``, ``Path=/``, and ``Secure``
when the request came over https. The flash holds a message key (and a field name), never a
submitted value; the "what if" cookie is signed and bound to the session.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import orjson
from fastapi import Request, Response

from creditgate.service.web import i18n, sessions
from creditgate.service.web.signed import BadSealError, b64, seal, unb64, unseal
from creditgate.service.web.view import SHOWN

FLASH = "cg_flash"
WHATIF = "cg_whatif"
WHATIF_KIND = "cgw"
WHATIF_TTL_S = 600
YEAR_S = 365 * 24 * 3600
OK_FLASHES = frozenset(
    {
        "review_requested",
        "dispute_sent",
        "consent_withdrawn",
        "lender_consent_recorded",
        "lender_consent_withdrawn",
        "referral_sent",
    }
)
ERROR_FLASHES = frozenset(
    {"whatif_bad_field", "whatif_unavailable", "dispute_bad", "referral_refused"}
)


def _set(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


def set_session(request: Request, response: Response, value: str, ttl_s: int) -> None:
    _set(request, response, sessions.COOKIE, value, ttl_s)


def set_lang(request: Request, response: Response, lang: str) -> None:
    _set(request, response, i18n.COOKIE, lang, YEAR_S)


def set_flash(request: Request, response: Response, key: str, field: str | None = None) -> None:
    _set(request, response, FLASH, f"{key}:{field}" if field else key, 60)


def read_flash(request: Request) -> tuple[str, str | None] | None:
    """The flash to show once (unknown keys and fields are ignored)."""
    key, _, field = request.cookies.get(FLASH, "").partition(":")
    if key not in OK_FLASHES | ERROR_FLASHES:
        return None
    return key, (field if field in SHOWN else None)


def set_whatif(
    request: Request, response: Response, secret: bytes, session_id: str, changes: dict[str, Any]
) -> None:
    expires = str(int(time.time()) + WHATIF_TTL_S)
    value = seal(secret, WHATIF_KIND, [session_id, b64(orjson.dumps(changes)), expires])
    _set(request, response, WHATIF, value, WHATIF_TTL_S)


def read_whatif(request: Request, keys: Sequence[bytes], session_id: str) -> dict[str, Any] | None:
    """The changes last tried in this session (within ``WHATIF_TTL_S``), or None."""
    try:
        sid, body, expires = unseal(keys, WHATIF_KIND, request.cookies.get(WHATIF, ""), 3)
        changes = orjson.loads(unb64(body))
        fresh = int(expires) >= time.time()
    except (BadSealError, ValueError):
        return None
    if sid != session_id or not fresh or not isinstance(changes, dict):
        return None
    return {k: v for k, v in changes.items() if isinstance(k, str)}


def forget(response: Response, *names: str) -> None:
    for name in names:
        response.delete_cookie(name, path="/")
