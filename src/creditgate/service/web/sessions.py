"""The page's session: a signed cookie naming the user, the link that opened it and its
expiry (``CREDITGATE_SESSION_TTL_S``), plus the CSRF token derived from its random id.

Stateless, so every worker reads it; revoking the link's id ends the session too.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass

from creditgate.identifiers import user_id_problem
from creditgate.service.web.signed import BadSealError, b64, keyed_digest, seal, unb64, unseal

SESSION_KIND = "cgs"
COOKIE = "cg_session"


@dataclass(frozen=True, slots=True)
class Session:
    session_id: str
    user_id: str
    link_id: str
    expires: int


def open_session(
    secret: bytes, user_id: str, link_id: str, ttl_s: int, now: float | None = None
) -> str:
    """A fresh session cookie value for ``user_id`` (opened by link ``link_id``)."""
    expires = int((now if now is not None else time.time()) + ttl_s)
    fields = [secrets.token_hex(16), b64(user_id.encode()), str(expires), link_id]
    return seal(secret, SESSION_KIND, fields)


def read_session(
    keys: Sequence[bytes], value: str | None, revoked: frozenset[str], now: float | None = None
) -> Session | None:
    """The session a cookie carries, or None (absent, forged, expired, link revoked)."""
    if not value:
        return None
    try:
        sid, uid, expires, link_id = unseal(keys, SESSION_KIND, value, 4)
        user_id, deadline = unb64(uid).decode(), int(expires)
    except (BadSealError, ValueError):
        return None
    moment = now if now is not None else time.time()
    if deadline < moment or link_id in revoked or user_id_problem(user_id) is not None:
        return None
    return Session(sid, user_id, link_id, deadline)


def csrf_token(secret: bytes, session: Session) -> str:
    """The token every form of this session carries."""
    return keyed_digest(secret, "csrf", session.session_id)


def csrf_ok(keys: Sequence[bytes], session: Session, token: str | None) -> bool:
    """Whether ``token`` is this session's CSRF token (under any current key)."""
    if not token:
        return False
    found = False
    for key in keys:  # no early exit
        found |= hmac.compare_digest(keyed_digest(key, "csrf", session.session_id), token)
    return found
