"""The decision log's batch append (group commit) on SQLite and PostgreSQL: idempotency keys
repeated within a batch or already stored, consent withdrawn meanwhile, erasure, the chain."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, insert

from creditgate.store.canonical import canonical, record_hash, sha256, split_at_seq
from creditgate.store.db import make_engine, migrate
from creditgate.store.models import consent_withdrawals
from creditgate.store.repo import DecisionLog, Pending, verify


@pytest.mark.parametrize(
    "fields",
    [
        {"as_of": "2026-11-28", "idempotency_key": None, "seq": 0, "user_id": 'ü"\\x'},
        {"a": 1, "seq": 0},
        {"seq": 0, "z": "深圳"},
        {"seq": 0},
    ],
)
@pytest.mark.parametrize("seq", [1, 9, 1234567890123])
def test_split_at_seq_gives_the_canonical_bytes(fields: dict[str, Any], seq: int) -> None:
    before, after = split_at_seq({k: v for k, v in fields.items() if k != "seq"})
    assert before + str(seq).encode() + after == canonical(fields | {"seq": seq})
    prev = "ab" * 32
    whole = fields | {"seq": seq}
    assert sha256(prev.encode() + before + str(seq).encode() + after) == record_hash(prev, whole)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    found = make_engine(db_url)
    migrate(found)
    yield found
    found.dispose()


def pending(i: int, user: str = "u", key: str | None = None, erase: bool = False) -> Pending:
    decision = {
        "decision_id": f"d_{i}",
        "user_id": user,
        "policy": {"version": "v1"},
        "as_of": "2026-11-28",
        "note": "é" * i,
    }
    return Pending.of(decision, {"profile": {"i": i}}, key, erase)


def test_batch_append_numbers_links_and_replays(engine: Engine) -> None:
    log = DecisionLog(engine)
    first = log.append_many([pending(i, user=f'用户"{i}') for i in range(5)])
    assert [r[0].seq for r in first if r is not None] == [1, 2, 3, 4, 5]
    assert all(r is not None and r[1] for r in first)
    with engine.begin() as conn:
        conn.execute(insert(consent_withdrawals).values(user_id="gone", withdrawn_at="now"))
    out = log.append_many(
        [
            pending(10, key="k1"),
            pending(11, key="k1"),  # the same key later in the batch: the first one's record
            pending(12, user="gone"),  # withdrawn: decide again
            pending(13, user="gone", key="k2"),
            pending(14, user="gone", erase=True),  # decided as withdrawn: stored, erased
            pending(15),
        ]
    )
    assert out[0] is not None and out[0][1] and out[0][0].seq == 6
    assert out[1] is not None and not out[1][1] and out[1][0].decision_id == "d_10"
    assert out[2] is None and out[3] is None
    assert out[4] is not None and out[4][0].seq == 7 and out[4][0].inputs is None
    assert out[5] is not None and out[5][0].seq == 8
    again = log.append_many([pending(20, key="k1"), pending(21, key="k3")])
    assert again[0] is not None and again[0][0].decision_id == "d_10" and not again[0][1]
    assert again[1] is not None and again[1][0].seq == 9 and again[1][1]
    stored = log.get("d_14")
    assert stored is not None and stored.inputs is None
    assert verify(log) == (9, None)
    assert log.erase_user('用户"1') == 1
    assert verify(log) == (9, None)
