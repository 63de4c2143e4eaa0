"""Canonical JSON and hashes: the bytes the audit chain commits to."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson


def canonical(obj: Any) -> bytes:
    """Sorted keys, no whitespace: equal data gives equal bytes on every machine."""
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def record_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    """A record's hash commits to the previous one, so editing any record breaks the rest."""
    return sha256(prev_hash.encode() + canonical(fields))


def split_at_seq(fields: dict[str, Any]) -> tuple[bytes, bytes]:
    """``canonical(fields | {"seq": n})`` as the bytes before and after ``n``, so that a
    database can hash a record whose number it assigns itself (PostgreSQL appends):
    ``record_hash(prev, fields | {"seq": n}) == sha256(prev + before + str(n) + after)``."""
    below = {k: v for k, v in fields.items() if k < "seq"}
    above = {k: v for k, v in fields.items() if k > "seq"}
    before = canonical(below)[:-1] + (b"," if below else b"") + b'"seq":'
    after = b"," + canonical(above)[1:] if above else b"}"
    return before, after


def tombstone(erased_at: str) -> str:
    return canonical({"erased": True, "erased_at": erased_at}).decode()
