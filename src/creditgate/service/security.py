"""Who is calling: staff tokens with roles, and signed, expiring user tokens.

Staff tokens come from ``CREDITGATE_TOKENS`` and are compared with ``hmac.compare_digest``
against every configured token (no early exit that would leak which prefix matched). A user
token is ``cgu.<user id, base64url>.<expiry, unix seconds>.<HMAC-SHA256>``: it lets a user read
their own entry and decisions and nothing else.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass

USER_PREFIX = "cgu."
STAFF_ROLES = ("service", "viewer", "operator", "admin")


@dataclass(frozen=True, slots=True)
class Principal:
    role: str  # one of STAFF_ROLES, or "user"
    user_id: str | None = None  # set for role "user"
    name: str = ""  # who: recorded with every change an operator makes


class AuthError(Exception):
    """Missing, unknown, forged or expired credentials (HTTP 401)."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: bytes, payload: str) -> str:
    return _b64(hmac.new(secret, payload.encode(), hashlib.sha256).digest())


def issue_user_token(secret: bytes, user_id: str, ttl_s: int, now: float | None = None) -> str:
    """A token for ``user_id`` valid for ``ttl_s`` seconds."""
    expires = int((now if now is not None else time.time()) + ttl_s)
    payload = f"{USER_PREFIX}{_b64(user_id.encode())}.{expires}"
    return f"{payload}.{_sign(secret, payload)}"


def check_user_token(secret: bytes, token: str, now: float | None = None) -> str:
    """The user id of a valid token, else ``AuthError``."""
    payload, _, signature = token.rpartition(".")
    if not hmac.compare_digest(_sign(secret, payload), signature):
        raise AuthError("invalid token")
    try:
        uid_b64, expires = payload.removeprefix(USER_PREFIX).split(".")
        user_id, deadline = _unb64(uid_b64).decode(), int(expires)
    except ValueError:
        raise AuthError("invalid token") from None
    if deadline < (now if now is not None else time.time()):
        raise AuthError("token expired")
    return user_id


def authenticate(header: str | None, tokens: dict[str, str], secret: bytes) -> Principal:
    """Resolve an ``Authorization: Bearer ...`` header to a principal."""
    if not header:
        raise AuthError("missing bearer token")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise AuthError("missing bearer token")
    if token.startswith(USER_PREFIX):
        return Principal("user", check_user_token(secret, token))
    role = None
    for known, known_role in tokens.items():  # no short-circuit: constant in the match position
        if hmac.compare_digest(known.encode(), token.encode()):
            role = known_role
    if role is None:
        raise AuthError("invalid token")
    return Principal(role)


def pseudonym(secret: bytes, user_id: str) -> str:
    """Keyed hash of a user id for logs: joinable by operators with the key, not reversible."""
    return "u~" + hmac.new(secret, user_id.encode(), hashlib.sha256).hexdigest()[:16]
