"""What a batch row and a decision must agree on: shared by ``tests/service/test_agreement.py``
and ``benchmarks/agreement.py`` (the same check at full size)."""

from __future__ import annotations

import random
from datetime import date
from decimal import Decimal
from typing import Any

from creditgate.schema import PROFILE_FIELDS


def client_json(row: dict[str, Any]) -> dict[str, Any]:
    """An input row (typed, or all text in a dirty file) as the JSON a client would send:
    booleans and numbers typed, dates and money as text."""
    out: dict[str, Any] = {}
    for name, spec in PROFILE_FIELDS.items():
        value = row[name]
        if isinstance(value, str) and spec.type is bool:
            value = {"true": True, "false": False}[value]
        elif isinstance(value, str) and spec.type in (int, float):
            value = spec.type(value)
        elif isinstance(value, date | Decimal):
            value = str(value) if isinstance(value, Decimal) else value.isoformat()
        out[name] = value
    return out


def facts(decision: dict[str, Any]) -> tuple[Any, ...]:
    """What the batch row and a decision must agree on."""
    codes = [r["code"] for r in decision["reasons"]]
    return (decision["outcome"], decision["score"], decision["limit_cny"], decision["apr"], codes)


def batch_facts(row: dict[str, Any]) -> tuple[Any, ...]:
    return (row["outcome"], row["score"], row["limit_cny"], row["apr"], list(row["reason_codes"]))


def comparable(decision: dict[str, Any]) -> dict[str, Any]:
    """A decision without what is per decision (its id and the review note naming it)."""
    return {k: v for k, v in decision.items() if k not in ("decision_id", "review")}


def sample(
    batch: dict[str, dict[str, Any]], size: int, rng: random.Random, per_reason: int
) -> list[str]:
    """Users of every outcome and every refusal reason (up to ``per_reason`` each), then
    random others up to ``size``."""
    ids = sorted(batch)
    rng.shuffle(ids)
    groups: dict[str, list[str]] = {}
    for uid in ids:
        row = batch[uid]
        for key in [f"outcome:{row['outcome']}", *row["reason_codes"]]:
            found = groups.setdefault(key, [])
            if len(found) < per_reason:
                found.append(uid)
    chosen = list(dict.fromkeys(uid for found in groups.values() for uid in found))[:size]
    taken = set(chosen)
    return chosen + [uid for uid in ids if uid not in taken][: size - len(chosen)]
