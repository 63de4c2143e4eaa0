"""Anchors: the heads of both chains, signed with a key the database never sees.

Anyone with write access to the database can recompute SHA-256 chains, so the chains alone
prove nothing against that attacker. An anchor is one JSON line (``seq`` and ``hash`` of the
decision and event chains, the time, a key id) with an HMAC-SHA256 over its canonical JSON,
appended to a file outside the database. Keys come from ``CREDITGATE_ANCHOR_KEYS``
(``kid:hexkey,kid:hexkey``): the first signs, every one verifies, so a key is rotated by
putting the new one first and dropping the old one once its anchors no longer matter.
``check_anchors`` then finds a rewrite (the record at an anchored seq has another hash), a
truncation (the chain ends before an anchored seq) and a wipe (the chain is empty).
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, Table, func, select

from creditgate.store.canonical import canonical
from creditgate.store.models import audit_events, chain_head, decisions, event_head

ENV = "CREDITGATE_ANCHOR_KEYS"
MIN_KEY_BYTES = 16
# chain name in the anchor -> (records table, head table)
CHAINS: dict[str, tuple[Table, Table]] = {
    "decisions": (decisions, chain_head),
    "events": (audit_events, event_head),
}


class AnchorKeyError(ValueError):
    """``CREDITGATE_ANCHOR_KEYS`` is missing or malformed (the message names no key)."""


def parse_keys(spec: str | None) -> dict[str, bytes]:
    """``kid:hexkey,...`` in order (the first signs); at least 16 bytes per key."""
    keys: dict[str, bytes] = {}
    for item in filter(None, (p.strip() for p in (spec or "").split(","))):
        kid, sep, hexkey = item.partition(":")
        try:
            key = bytes.fromhex(hexkey)
        except ValueError:
            key = b""
        if not sep or not kid or len(key) < MIN_KEY_BYTES or kid in keys:
            raise AnchorKeyError(
                f"{ENV}: entry {len(keys) + 1}: expected kid:hexkey with a unique key id and "
                f"a key of at least {MIN_KEY_BYTES} bytes in hex"
            )
        keys[kid] = key
    if not keys:
        raise AnchorKeyError(f"{ENV} is not set: anchors need a key kept outside the database")
    return keys


def _mac(key: bytes, anchor: dict[str, Any]) -> str:
    unsigned = {k: v for k, v in anchor.items() if k != "mac"}
    return hmac.new(key, canonical(unsigned), hashlib.sha256).hexdigest()


def heads(engine: Engine) -> dict[str, dict[str, Any]]:
    """The committed head (seq, hash) of each chain."""
    out = {}
    with engine.connect() as conn:
        for name, (_, head) in CHAINS.items():
            row = conn.execute(select(head.c.seq, head.c.hash).where(head.c.id == 1)).one()
            out[name] = {"seq": int(row.seq), "hash": str(row.hash)}
    return out


def make_anchor(engine: Engine, keys: dict[str, bytes]) -> dict[str, Any]:
    kid, key = next(iter(keys.items()))
    anchor: dict[str, Any] = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "kid": kid,
        **heads(engine),
    }
    anchor["mac"] = _mac(key, anchor)
    return anchor


def append_line(path: Path, anchor: dict[str, Any]) -> None:
    """Append one line under an exclusive ``flock`` (several workers anchor to one file), and
    fsync it: an anchor is worth something only once it is on disk."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, orjson.dumps(anchor) + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)  # releases the lock


def anchor(engine: Engine, keys: dict[str, bytes], path: Path) -> dict[str, Any]:
    """Sign the current heads and append them to ``path``; returns the anchor."""
    made = make_anchor(engine, keys)
    append_line(path, made)
    return made


def read_anchors(path: Path) -> Iterator[tuple[int, dict[str, Any] | None]]:
    """(line number, anchor or None when the line is not a JSON object) for each line."""
    with path.open("rb") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                parsed = orjson.loads(line)
            except orjson.JSONDecodeError:
                parsed = None
            yield number, parsed if isinstance(parsed, dict) else None


def check_anchors(engine: Engine, path: Path, keys: dict[str, bytes]) -> tuple[int, list[str]]:
    """(anchors checked, problems): each line's MAC, then each chain against it."""
    problems: list[str] = []
    checked = 0
    lines = list(read_anchors(path))  # before the database: a live server anchors meanwhile
    with engine.connect() as conn:
        ends = {
            name: conn.execute(select(func.coalesce(func.max(table.c.seq), 0))).scalar_one()
            for name, (table, _) in CHAINS.items()
        }
        for number, found in lines:
            where = f"anchor line {number}"
            if found is None:
                problems.append(f"{where}: not a JSON object")
                continue
            key = keys.get(str(found.get("kid")))
            if key is None:
                problems.append(f"{where}: unknown key id (not in {ENV})")
                continue
            if not hmac.compare_digest(_mac(key, found), str(found.get("mac", ""))):
                problems.append(f"{where}: signature does not verify (forged or altered anchor)")
                continue
            checked += 1
            for name, (table, _) in CHAINS.items():
                problem = _chain_problem(conn, table, ends[name], found.get(name))
                if problem is not None:
                    problems.append(f"{name} chain {problem}, {where} of {found.get('at')}")
    return checked, problems


def _chain_problem(conn: Any, table: Table, end: int, anchored: Any) -> str | None:
    if not isinstance(anchored, dict):
        return "missing from the anchor"
    seq, digest = int(anchored["seq"]), str(anchored["hash"])
    if seq == 0:
        return None
    if end == 0:
        return f"WIPED: it holds no records but seq {seq} was anchored"
    if end < seq:
        return f"TRUNCATED: it ends at seq {end} but seq {seq} was anchored"
    stored = conn.execute(select(table.c.record_hash).where(table.c.seq == seq)).scalar()
    if stored != digest:
        return f"REWRITTEN: record seq={seq} no longer has the anchored hash"
    return None
