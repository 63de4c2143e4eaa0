"""Who did it, for the event chain: a principal's name, or a user's keyed pseudonym."""

from __future__ import annotations

from creditgate.service.security import Principal, pseudonym


def actor_of(principal: Principal, secret: bytes) -> str:
    """The actor to record: never a raw user id. Staff principals are recorded by name
    (their role where the token has none)."""
    if principal.role == "user" and principal.user_id is not None:
        return pseudonym(secret, principal.user_id)
    return str(getattr(principal, "name", None) or principal.role)
