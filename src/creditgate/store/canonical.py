"""Canonical JSON and hashes: the bytes the audit chain commits to."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import orjson

from creditgate.store.models import GENESIS


def canonical(obj: Any) -> bytes:
    """Sorted keys, no whitespace: equal data gives equal bytes on every machine."""
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def record_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    """A record's hash commits to the previous one, so editing any record breaks the rest."""
    return sha256(prev_hash.encode() + canonical(fields))


def walk_chain(
    rows: Iterable[Any],
    head: tuple[int, str],
    chained: Sequence[str],
    noun: str,
    describe: Callable[[Any], str],
    content: Callable[[Any], str | None],
) -> tuple[int, str | None]:
    """Check a hash chain (the decisions' or the events'): numbering, links, record hashes and
    each row's ``content`` check; returns (rows checked, first problem or None). ``head`` is
    the (seq, hash) read *before* the rows, so rows appended meanwhile are checked but never
    reported as a mismatch. Problems start with ``describe(row)``; ``noun`` names a row."""
    prev, n, at_head = GENESIS, 0, GENESIS
    for row in rows:
        n += 1
        where = describe(row)
        if row.seq != n:
            return n, f"{where}: sequence gap (expected seq {n})"
        if row.prev_hash != prev:
            return n, f"{where}: prev_hash does not match the previous {noun}"
        if record_hash(prev, {name: getattr(row, name) for name in chained}) != row.record_hash:
            return n, f"{where}: record_hash does not match its fields"
        problem = content(row)
        if problem is not None:
            return n, f"{where}: {problem}"
        prev = row.record_hash
        if n == head[0]:
            at_head = prev
    if head[0] > n or at_head != head[1]:
        label = "chain head" if noun == "record" else f"{noun} head"
        return n, f"{label} (seq {head[0]}) does not match the {noun}s (last seq {n})"
    return n, None


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
