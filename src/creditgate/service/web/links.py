"""One-time sign-in links: ``BASE/?t=cgl.<key id>.<link id>.<user id>.<expiry>.<mac>``.

A link is short-lived (``CREDITGATE_LINK_TTL_S``, default 15 minutes, never beyond
``CREDITGATE_MAX_TOKEN_TTL_S``), used once (``store.used_links``) and revocable by its id like
a user token (``creditgate token revoke``). It is not an API token: the API accepts ``cgu.``
tokens only, and a ``cgu.`` token does not open the page.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass

from creditgate.identifiers import user_id_problem
from creditgate.service.web.signed import BadSealError, b64, seal, unb64, unseal

LINK_KIND = "cgl"


@dataclass(frozen=True, slots=True)
class Link:
    user_id: str
    link_id: str  # 16 hex digits, like a user token's id (the revocation list's format)
    expires: int


class LinkError(Exception):
    """Not a valid, current link (the page says only: ask for a new one)."""


def issue_link(secret: bytes, user_id: str, ttl_s: int, now: float | None = None) -> str:
    expires = int((now if now is not None else time.time()) + ttl_s)
    return seal(secret, LINK_KIND, [secrets.token_hex(8), b64(user_id.encode()), str(expires)])


def link_url(base: str, token: str) -> str:
    return f"{base.rstrip('/')}/?t={token}"


def check_link(keys: Sequence[bytes], token: str, max_ttl_s: int, now: float | None = None) -> Link:
    """The claims of a link signed by one of ``keys``, unexpired, not valid for longer than
    ``max_ttl_s``; else ``LinkError`` (single use and revocation are checked by the caller)."""
    try:
        link_id, uid, expires = unseal(keys, LINK_KIND, token, 3)
        user_id, deadline = unb64(uid).decode(), int(expires)
    except (BadSealError, ValueError):
        raise LinkError("invalid link") from None
    moment = now if now is not None else time.time()
    if user_id_problem(user_id) is not None or len(link_id) != 16:
        raise LinkError("invalid link")
    if deadline < moment or deadline > moment + max_ttl_s:
        raise LinkError("expired link")
    return Link(user_id, link_id, deadline)


def link_id_of(token: str) -> str:
    """The id of a link (for revocation), unchecked; ``LinkError`` when it is no link."""
    parts = token.strip().split(".")
    if len(parts) != 6 or parts[0] != LINK_KIND:
        raise LinkError("not a link")
    return parts[2]
