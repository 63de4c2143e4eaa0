"""Replay builds a policy's deciders once, not per record (the console's decision page replays
on every view: a policy load per view cost ~300 ms at 100k users), and the kept deciders never
hide a record decided at other cutoffs (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from test_api import STRONG, decide, services
from test_snapshot_decisions import TIGHT, activate, snapshot

from creditgate.store import replay as replay_module
from creditgate.store.replay import replay


def counting(monkeypatch: pytest.MonkeyPatch, name: str) -> list[int]:
    """Count the calls of ``creditgate.store.replay.<name>`` (still called through)."""
    calls: list[int] = []
    real: Callable[..., Any] = getattr(replay_module, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(replay_module, name, counted)
    return calls


def test_replay_loads_a_policy_once_for_many_records(
    client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    activate(client, snapshot(tmp_path, "tight", TIGHT))
    ids = [decide(client, STRONG | {"user_id": f"u-cache-{i}"})["decision_id"] for i in range(3)]
    for kept in ("policy_decider", "cut_decider"):  # what other tests left kept
        getattr(replay_module, kept).cache_clear()
    parsed = counting(monkeypatch, "parse_policy")
    cut = counting(monkeypatch, "decider_with_cutoffs")
    svc = services(client)
    for _ in range(3):
        for decision_id in ids:
            assert replay(svc.log, svc.catalog, decision_id).status == "identical"
    assert (len(parsed), len(cut)) == (1, 1)


def test_a_record_cut_at_other_cutoffs_is_not_replayed_with_kept_deciders(
    client: TestClient, tmp_path: Path
) -> None:
    activate(client, snapshot(tmp_path, "tight", TIGHT))
    svc = services(client)
    stored = svc.log.get(decide(client, STRONG)["decision_id"])
    assert replay(svc.log, svc.catalog, stored.decision_id).status == "identical"  # now kept
    assert stored.inputs is not None
    looser = {**stored.inputs["snapshot"], "cutoffs": {**TIGHT, "tier1": 700}}
    forged = stored.decision | {"decision_id": "d_" + "2" * 24}
    forged["review"] = stored.decision["review"] | {"decision_id": forged["decision_id"]}
    svc.log.append(forged, stored.inputs | {"snapshot": looser}, None, False)
    result = replay(svc.log, svc.catalog, forged["decision_id"])
    assert result.status == "different" and any("outcome" in d for d in result.differences)
