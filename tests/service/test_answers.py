"""One truth per user: the entry lookup, a real-time decision and the explained answer agree,
whichever worker took the decision (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from fastapi.testclient import TestClient
from test_api import AS_OF, PROFILES, STRONG, decide, services
from test_snapshot_decisions import TIGHT, activate, snapshot

from conftest import auth, make_settings
from creditgate.decider import Decider
from creditgate.policy.loader import load_policy
from creditgate.profile import validate_profile
from creditgate.schema import PROFILE_FIELDS
from creditgate.service.answers import answer
from creditgate.service.app import create_app
from creditgate.snapshot import SnapshotMeta, write_snapshot
from creditgate.snapshot_profiles import write_profiles

NEWCOMER = STRONG | {"user_id": "joined-after-the-batch"}


def entry(client: TestClient, user_id: str) -> bool:
    r = client.get(f"/v1/users/{user_id}/entry", headers=auth("service"))
    assert r.status_code == 200, r.text
    visible: bool = r.json()["entry_visible"]
    return visible


def test_a_user_decided_after_the_snapshot_sees_what_the_decision_said(
    client: TestClient, tmp_path: Path
) -> None:
    """The issue's 30 of 30: invited in real time, yet the lookup said hidden."""
    activate(client, snapshot(tmp_path, "loose", {"tier1": 600}))
    assert not entry(client, NEWCOMER["user_id"])  # not in the snapshot: not assessed yet
    decided = decide(client, NEWCOMER)
    assert decided["outcome"] == "invited"
    assert entry(client, NEWCOMER["user_id"])
    found = answer(services(client), NEWCOMER["user_id"])
    assert (found.source, found.entry_visible, found.decision_id) == (
        "decision",
        True,
        decided["decision_id"],
    )


def test_a_real_time_refusal_hides_an_invited_user(client: TestClient, tmp_path: Path) -> None:
    activate(client, snapshot(tmp_path, "tight", TIGHT))  # invites "someone" only
    assert entry(client, "someone")
    # under TIGHT anyone new is cut for CAPACITY; the invitation "someone" holds stands
    kept = decide(client, STRONG | {"user_id": "someone"})
    assert (kept["outcome"], kept["retained"]) == ("invited", True)
    assert entry(client, "someone")
    refused = decide(client, STRONG | {"user_id": "someone", "blacklist_hit": True})
    assert (
        refused["outcome"] == "not_invited" and refused["reasons"][0]["code"] == "FRAUD_SUSPECTED"
    )
    assert [n["code"] for n in refused["notices"]] == ["INVITATION_WITHDRAWN"]
    assert not entry(client, "someone")
    assert answer(services(client), "someone").decision == refused


def test_another_workers_decision_is_seen_after_one_refresh(db_url: str, tmp_path: Path) -> None:
    settings = make_settings(db_url, snapshot_dir=str(tmp_path / "snapshots"))
    with (
        TestClient(create_app(settings), raise_server_exceptions=False) as first,
        TestClient(create_app(settings), raise_server_exceptions=False) as second,
    ):
        activate(first, snapshot(tmp_path, "loose", {"tier1": 600}))
        services(second).state.refresh()
        assert not entry(second, NEWCOMER["user_id"])
        decide(first, NEWCOMER)
        services(second).state.refresh()  # what every worker does each state_refresh_s
        assert entry(second, NEWCOMER["user_id"])
        assert answer(services(second), NEWCOMER["user_id"]).source == "decision"


def test_decisions_under_another_snapshot_do_not_count(client: TestClient, tmp_path: Path) -> None:
    activate(client, snapshot(tmp_path, "loose", {"tier1": 600}))
    decide(client, NEWCOMER)
    activate(client, snapshot(tmp_path, "tight", TIGHT))  # a refresh: the batch is the truth
    assert not entry(client, NEWCOMER["user_id"])
    assert answer(services(client), NEWCOMER["user_id"]).source == "none"


def test_withdrawn_consent_hides_the_entry_whatever_was_decided(
    client: TestClient, tmp_path: Path
) -> None:
    activate(client, snapshot(tmp_path, "loose", {"tier1": 600}))
    decide(client, NEWCOMER)
    user = NEWCOMER["user_id"]
    r = client.post(f"/v1/users/{user}/consent-withdrawal", headers=auth("service"))
    assert r.status_code == 200
    assert not entry(client, user)
    assert answer(services(client), user).source == "withdrawn"


# A snapshot with its decided profiles: a refused user's answer is explained -----------------


def typed_rows(profiles: list[dict[str, Any]]) -> pa.Table:
    policy = load_policy(None)
    decider = Decider(policy)
    import orjson

    rows = [
        validate_profile(orjson.dumps(p), date.fromisoformat(AS_OF), policy, decider.regions)
        for p in profiles
    ]
    rows.sort(key=lambda r: r["user_id"])
    table = pa.Table.from_pylist([{k: r[k] for k in PROFILE_FIELDS} for r in rows])
    return table


def snapshot_with_profiles(tmp_path: Path, profiles: list[dict[str, Any]]) -> Path:
    """A snapshot as the batch writes it: the decided profiles beside it, named in its meta;
    invited are those the default policy invites at the policy's own cutoffs."""
    directory = tmp_path / "snapshots"
    table = typed_rows(profiles)
    ref = write_profiles(directory, table.to_batches(max_chunksize=2))
    decider = Decider(load_policy(None))
    invited = [
        row["user_id"]
        for row in table.to_pylist()
        if decider.decide(row, date.fromisoformat(AS_OF)).outcome == "invited"
    ]
    n = len(invited)
    meta = SnapshotMeta(
        "default",
        "2026.12.2",
        date.fromisoformat(AS_OF),
        {"tier1": 600},
        0.15,
        "fp",
        datetime.now(UTC),
        {"invited": n},
        ref.to_json(),
    )
    columns = {
        "user_id": invited,
        "region_class": ["tier1"] * n,
        "score": [700] * n,
        "limit_cny": [1000] * n,
        "apr": ["0.073"] * n,
    }
    path = directory / "with-profiles.parquet"
    write_snapshot(path, meta, pa.table(columns))
    return path


def test_a_refused_user_of_the_batch_gets_the_batchs_explained_answer(
    client: TestClient, tmp_path: Path
) -> None:
    everyone = list(PROFILES.values())
    activate(client, snapshot_with_profiles(tmp_path, everyone))
    service = services(client)
    for profile in everyone:
        user = profile["user_id"]
        found = answer(service, user)
        assert found.source == "snapshot" and found.decision is not None
        realtime = Decider(load_policy(None)).decide(
            typed_rows([profile]).to_pylist()[0], date.fromisoformat(AS_OF)
        )
        assert found.decision["outcome"] == realtime.outcome, user
        assert [r["code"] for r in found.decision["reasons"]] == list(realtime.reason_codes)
        assert found.entry_visible == entry(client, user) == (realtime.outcome == "invited")
        if not found.entry_visible:
            assert found.decision["reasons"], user  # a refused user is told why
        # the same profile decided in real time tells the same, and becomes the answer
        again = decide(client, profile)
        assert (again["outcome"], again["reasons"]) == (
            found.decision["outcome"],
            found.decision["reasons"],
        )
        assert answer(service, user).source == "decision"


@pytest.mark.parametrize("damage", ["missing", "changed"])
def test_a_snapshot_whose_profiles_are_missing_or_changed_is_refused(
    client: TestClient, tmp_path: Path, damage: str
) -> None:
    path = snapshot_with_profiles(tmp_path, list(PROFILES.values()))
    [profiles] = path.parent.glob("profiles-*.arrow")
    if damage == "missing":
        profiles.unlink()
    else:
        data = bytearray(profiles.read_bytes())
        data[-20] ^= 1
        profiles.write_bytes(bytes(data))
    r = client.post("/v1/admin/snapshots", json={"path": path.name}, headers=auth("operator"))
    assert r.status_code in (409, 422), r.text
