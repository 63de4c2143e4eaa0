"""Who is calling: named staff tokens with roles, and signed, expiring, revocable user tokens.

Staff tokens come from ``CREDITGATE_TOKENS`` (``name:role:token``) and are compared with
``hmac.compare_digest`` against every configured token (no early exit that would leak which
prefix matched). A user token is ``cgu.<key id>.<token id>.<user id, base64url>.<expiry, unix
seconds>.<HMAC-SHA256>``: it lets a user read their own entry and decisions and nothing else.
``CREDITGATE_SECRET`` may hold several comma-separated keys: the first signs, every one
verifies (the key id says which), so keys rotate without cutting off live tokens.

``Authenticator`` caches verified tokens (a bounded dict keyed by the token string) so that the
rate-limit guard, the fast lane and FastAPI can each authenticate a request for the price of a
lookup; expiry and revocation are still checked on every use.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from creditgate.identifiers import user_id_problem

USER_PREFIX = "cgu."
STAFF_ROLES = ("service", "viewer", "operator", "admin")
MAX_HEADER = 2048  # longer Authorization headers are rejected before any hashing
CACHE_SIZE = 4096
_SPACES = re.compile(r"[ \t]+")  # HTTP's whitespace, not Unicode's


@dataclass(frozen=True, slots=True)
class Principal:
    role: str  # one of STAFF_ROLES, or "user"
    name: str  # who: the configured staff name, or "user~<pseudonym>" (never a raw user id)
    user_id: str | None = None  # set for role "user"


@dataclass(frozen=True, slots=True)
class UserToken:
    user_id: str
    token_id: str
    expires: int


class AuthError(Exception):
    """Missing, unknown, forged, expired or revoked credentials (HTTP 401)."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: bytes, payload: str) -> bytes:
    return _b64(hmac.new(secret, payload.encode(), hashlib.sha256).digest()).encode()


def key_id(secret: bytes) -> str:
    """A short public name for a signing key (a keyed hash: it reveals nothing of the key)."""
    return hmac.new(secret, b"creditgate key id", hashlib.sha256).hexdigest()[:8]


def issue_user_token(
    secret: bytes, user_id: str, ttl_s: int, now: float | None = None, token_id: str | None = None
) -> str:
    """A token for ``user_id`` valid for ``ttl_s`` seconds, signed with ``secret``."""
    expires = int((now if now is not None else time.time()) + ttl_s)
    tid = token_id or secrets.token_hex(8)
    payload = f"{USER_PREFIX}{key_id(secret)}.{tid}.{_b64(user_id.encode())}.{expires}"
    return f"{payload}.{_sign(secret, payload).decode()}"


def token_id_of(token: str) -> str:
    """The id of a user token (for revocation); ``AuthError`` when it has none."""
    parts = token.strip().split(".")
    if len(parts) != 6 or f"{parts[0]}." != USER_PREFIX:
        raise AuthError("not a user token")
    return parts[2]


def check_user_token(
    keys: bytes | Sequence[bytes], token: str, now: float | None = None, max_ttl_s: int = 0
) -> UserToken:
    """The claims of a token signed by one of ``keys``, unexpired and (when ``max_ttl_s``) not
    valid for longer than allowed; else ``AuthError``. Any malformed part is an ``AuthError``."""
    ring = [keys] if isinstance(keys, bytes) else list(keys)
    try:
        raw = token.encode("ascii")
    except UnicodeEncodeError:
        raise AuthError("invalid token") from None
    payload, _, signature = raw.decode().rpartition(".")
    parts = payload.split(".")
    if len(parts) != 5 or f"{parts[0]}." != USER_PREFIX:
        raise AuthError("invalid token")
    _, kid, tid, uid_b64, expires = parts
    key = next((k for k in ring if hmac.compare_digest(key_id(k), kid)), None)
    if key is None or not hmac.compare_digest(_sign(key, payload), signature.encode()):
        raise AuthError("invalid token")
    try:
        user_id, deadline = _unb64(uid_b64).decode(), int(expires)
    except ValueError:
        raise AuthError("invalid token") from None
    if user_id_problem(user_id) is not None:  # signed before ids were checked, or by hand
        raise AuthError("invalid token")
    moment = now if now is not None else time.time()
    if deadline < moment:
        raise AuthError("token expired")
    if max_ttl_s and deadline > moment + max_ttl_s:
        raise AuthError("token lifetime exceeds the configured maximum")
    return UserToken(user_id, tid, deadline)


def bearer(header: str | None) -> str:
    """The token of an ``Authorization: Bearer ...`` header (any case, any spacing)."""
    if not header or len(header) > MAX_HEADER:
        raise AuthError("missing bearer token")
    parts = _SPACES.split(header.strip(" \t"))
    if len(parts) != 2 or parts[0].lower() != "bearer":
        raise AuthError("missing bearer token")
    return parts[1]


def staff_principal(token: str, staff: dict[str, Principal]) -> Principal:
    found = None
    encoded = token.encode("utf-8", "surrogatepass")
    for known, principal in staff.items():  # no short-circuit: constant in the match position
        if hmac.compare_digest(known.encode(), encoded):
            found = principal
    if found is None:
        raise AuthError("invalid token")
    return found


def user_name(secret: bytes, user_id: str) -> str:
    """A user principal's name: a keyed pseudonym, never the raw id."""
    return "user~" + pseudonym(secret, user_id).removeprefix("u~")


class Authenticator:
    """Resolves headers to principals with a bounded cache of verified tokens."""

    def __init__(
        self,
        staff: dict[str, Principal],
        keys: Sequence[bytes],
        max_ttl_s: int = 0,
        revoked: Callable[[], frozenset[str]] = frozenset,
    ) -> None:
        self.staff, self.keys, self.max_ttl_s = staff, tuple(keys), max_ttl_s
        self.revoked = revoked  # the current revocation list (refreshed elsewhere)
        self.cache: dict[str, tuple[Principal, float, str | None]] = {}

    def __call__(self, header: str | None) -> Principal:
        # keyed by the whole header: a hit costs one lookup, no parsing (the guard and the
        # route each ask); a spelling variant is one more entry for the same principal
        if header is None:
            raise AuthError("missing bearer token")
        hit = self.cache.get(header)
        if hit is None:
            hit = self._verify(bearer(header))
            if len(self.cache) >= CACHE_SIZE:
                del self.cache[next(iter(self.cache))]  # the oldest entry
            self.cache[header] = hit
        principal, expires, tid = hit
        if time.time() > expires:
            self.cache.pop(header, None)
            raise AuthError("token expired")
        if tid is not None and tid in self.revoked():
            raise AuthError("token revoked")
        return principal

    def _verify(self, token: str) -> tuple[Principal, float, str | None]:
        if not token.startswith(USER_PREFIX):
            return staff_principal(token, self.staff), float("inf"), None
        claims = check_user_token(self.keys, token, max_ttl_s=self.max_ttl_s)
        name = user_name(self.keys[0], claims.user_id)
        return Principal("user", name, claims.user_id), float(claims.expires), claims.token_id


def authenticate(
    header: str | None, staff: dict[str, Principal], keys: bytes | Sequence[bytes]
) -> Principal:
    """Resolve an ``Authorization: Bearer ...`` header to a principal (no cache)."""
    ring = (keys,) if isinstance(keys, bytes) else tuple(keys)
    return Authenticator(staff, ring)(header)


def pseudonym(secret: bytes, user_id: str) -> str:
    """Keyed hash of a user id for logs: joinable by operators with the key, not reversible."""
    return "u~" + hmac.new(secret, user_id.encode(), hashlib.sha256).hexdigest()[:16]
