"""Small signed strings for the page: ``<kind>.<key id>.<field>....<HMAC-SHA256>``.

The kind is inside the signed payload, so a value of one kind (a sign-in link, a session, a
what-if cookie) never verifies as another, and none of them is an API user token (``cgu.``).
The first key signs, every key of ``CREDITGATE_SECRET`` verifies (rotation, as for tokens).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence

from creditgate.service.security import key_id

MAX_LENGTH = 4096


class BadSealError(Exception):
    """Malformed, of another kind, or signed by no known key."""


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError:
        raise BadSealError("bad encoding") from None


def _mac(key: bytes, payload: str) -> str:
    return b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())


def seal(key: bytes, kind: str, fields: Sequence[str]) -> str:
    """``fields`` (no dots in them) signed as ``kind`` with ``key``."""
    payload = ".".join([kind, key_id(key), *fields])
    return f"{payload}.{_mac(key, payload)}"


def unseal(keys: Sequence[bytes], kind: str, value: str, count: int) -> list[str]:
    """The ``count`` fields of a ``kind`` value signed by one of ``keys``; else ``BadSealError``."""
    if len(value) > MAX_LENGTH or not value.isascii():
        raise BadSealError("malformed")
    payload, _, mac = value.rpartition(".")
    parts = payload.split(".")
    if len(parts) != count + 2 or parts[0] != kind:
        raise BadSealError("malformed")
    key = next((k for k in keys if hmac.compare_digest(key_id(k), parts[1])), None)
    if key is None or not hmac.compare_digest(_mac(key, payload), mac):
        raise BadSealError("bad signature")
    return parts[2:]


def keyed_digest(key: bytes, purpose: str, value: str) -> str:
    """An HMAC of ``value`` for one ``purpose`` (e.g. a CSRF token from a session id)."""
    return _mac(key, f"{purpose}\n{value}")
