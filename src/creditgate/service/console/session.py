"""A staff member's console session: a sealed cookie naming the principal, with an idle
timeout and an absolute lifetime, and the CSRF token every form of the session carries.

Signing in exchanges a role token (``CREDITGATE_TOKENS``, the same the API takes) typed into a
form for this cookie; the token itself is never stored, echoed or put in a URL. The cookie
holds the principal's *name*: each request resolves the name against the configured staff
again, so removing a token from the configuration ends its sessions at once, and a role
change applies on the next click. Stateless, so every worker reads it.

Sign-in itself carries a CSRF token too (a double-submit of a random pre-session cookie), so a
third-party page cannot sign a browser into someone else's console session.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from creditgate.service.security import STAFF_ROLES, Principal
from creditgate.service.web.signed import BadSealError, b64, keyed_digest, seal, unb64, unseal

KIND = "cgc"
COOKIE = "cg_console"
PRE_COOKIE = "cg_console_pre"  # the sign-in form's double-submit value
PATH = "/console"
CONSOLE_ROLES = frozenset({"viewer", "operator", "admin"})  # not "service": a machine's token


@dataclass(frozen=True, slots=True)
class StaffSession:
    session_id: str
    name: str  # the principal's configured name
    started: int  # absolute lifetime counts from here
    seen: int  # idle timeout counts from here


def open_session(secret: bytes, principal: Principal, now: float | None = None) -> str:
    """A fresh session cookie for ``principal`` (a console role)."""
    moment = int(now if now is not None else time.time())
    return _sealed(secret, StaffSession(secrets.token_hex(16), principal.name, moment, moment))


def renewed(secret: bytes, session: StaffSession, now: float | None = None) -> str:
    """The cookie after a request: same session, idle clock restarted."""
    moment = int(now if now is not None else time.time())
    return _sealed(secret, StaffSession(session.session_id, session.name, session.started, moment))


def _sealed(secret: bytes, s: StaffSession) -> str:
    return seal(secret, KIND, [s.session_id, b64(s.name.encode()), str(s.started), str(s.seen)])


def read_session(
    keys: Sequence[bytes],
    value: str | None,
    staff: Mapping[str, Principal],
    idle_s: int,
    ttl_s: int,
    now: float | None = None,
) -> tuple[StaffSession, Principal] | None:
    """The session a cookie carries and its principal as configured now, or None (absent,
    forged, idle too long, past its lifetime, or its name no longer configured)."""
    if not value:
        return None
    try:
        sid, name, started, seen = unseal(keys, KIND, value, 4)
        session = StaffSession(sid, unb64(name).decode(), int(started), int(seen))
    except (BadSealError, ValueError):
        return None
    moment = now if now is not None else time.time()
    if moment - session.seen > idle_s or moment - session.started > ttl_s:
        return None
    principal = next((p for p in staff.values() if p.name == session.name), None)
    if principal is None or principal.role not in CONSOLE_ROLES:
        return None
    return session, principal


def csrf_token(secret: bytes, session_id: str) -> str:
    """The token every form of the session with ``session_id`` carries."""
    return keyed_digest(secret, "console-csrf", session_id)


def csrf_ok(keys: Sequence[bytes], session_id: str, token: str | None) -> bool:
    """Whether ``token`` is the CSRF token of ``session_id`` under any current key."""
    if not token:
        return False
    found = False
    for key in keys:  # no early exit
        found |= hmac.compare_digest(keyed_digest(key, "console-csrf", session_id), token)
    return found


def new_pre_value() -> str:
    """A random value for the sign-in form's double-submit cookie."""
    return secrets.token_hex(16)


assert set(STAFF_ROLES) >= CONSOLE_ROLES
