"""Four eyes on activation (finding 2 of the hostile review): a policy or snapshot goes live
only when a second person approves it, except a routine refresh within tolerance; who and
when are recorded (on SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from test_api import STRONG, decide

from conftest import approved, auth, write_snapshot_file
from creditgate.service.snapshot_files import snapshot_directory


def live(client: TestClient) -> dict[str, Any]:
    health: dict[str, Any] = client.get("/healthz").json()
    return health


def new_policy(client: TestClient, suffix: str = "-b") -> str:
    version: str = live(client)["policy_version"]
    text = client.get(f"/v1/admin/policies/{version}", headers=auth("viewer")).json()["text"]
    r = client.post(
        "/v1/admin/policies",
        json={"text": text.replace(version, version + suffix, 1)},
        headers=auth("operator"),
    )
    assert r.status_code == 201, r.text
    return version + suffix


def snapshot_dir(client: TestClient) -> Path:
    return snapshot_directory(client.app.state.services.settings)  # type: ignore[attr-defined]


def register_snapshot(client: TestClient, name: str, invited: int, decided: int) -> str:
    """A snapshot of the active policy inviting ``invited`` of ``decided`` users."""
    path = write_snapshot_file(
        snapshot_dir(client) / f"{name}.parquet",
        [f"{name}-{i}" for i in range(invited)],
        version=live(client)["policy_version"],
        cutoffs={"tier1": 700, "new_tier1": 720},
        counts={"input": decided, "decided": decided, "quarantined": 0, "invited": invited},
    )
    r = client.post("/v1/admin/snapshots", json={"path": path.name}, headers=auth("operator"))
    assert r.status_code == 201, r.text
    sid: str = r.json()["snapshot_id"]
    return sid


def propose(client: TestClient, kind: str, target: str, who: str = "operator") -> Any:
    return client.post(f"/v1/admin/{kind}/{target}/activate", headers=auth(who))


def test_a_policy_goes_live_only_with_a_second_person(client: TestClient) -> None:
    before = live(client)["policy_version"]
    version = new_policy(client)
    r = propose(client, "policies", version, who="admin")
    assert r.status_code == 202, r.text
    change = r.json()
    assert change["status"] == "proposed" and change["kind"] == "policy"
    assert change["effect"]["lint"]["errors"] == 0
    assert change["effect"]["active_policy"] == before
    assert decide(client, STRONG)["policy"]["version"] == before  # not live yet
    url = f"/v1/admin/changes/{change['change_id']}"
    listed = client.get("/v1/admin/changes", headers=auth("viewer")).json()
    assert [c["change_id"] for c in listed] == [change["change_id"]]
    # the proposer cannot approve their own change, an operator cannot approve at all
    r = client.post(url + "/approve", json={}, headers=auth("admin"))
    assert r.status_code == 403 and "proposer" in r.json()["detail"]
    assert client.post(url + "/approve", json={}, headers=auth("operator")).status_code == 403
    assert client.post(url + "/approve", json={}, headers=auth("viewer")).status_code == 403
    assert live(client)["policy_version"] == before
    r = client.post(url + "/approve", json={"note": "checked"}, headers=auth("admin2"))
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["status"] == "approved" and done["note"] == "checked"
    assert done["proposed_by"] == "admin" and done["decided_by"] == "admin2"
    assert done["decided_at"] >= done["proposed_at"]
    assert live(client)["policy_version"] == version
    assert decide(client, STRONG)["policy"]["version"] == version
    # decided once: a second approval or a late rejection is a conflict
    assert client.post(url + "/approve", json={}, headers=auth("admin2")).status_code == 409
    assert client.post(url + "/reject", json={}, headers=auth("operator")).status_code == 409
    assert client.get(url, headers=auth("viewer")).json()["status"] == "approved"


def test_a_rejected_change_never_goes_live(client: TestClient) -> None:
    before = live(client)["policy_version"]
    version = new_policy(client)
    change = propose(client, "policies", version).json()
    url = f"/v1/admin/changes/{change['change_id']}"
    r = client.post(url + "/reject", json={"note": "not this week"}, headers=auth("admin"))
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    assert r.json()["decided_by"] == "admin"
    assert client.post(url + "/approve", json={}, headers=auth("admin2")).status_code == 409
    assert live(client)["policy_version"] == before
    assert (
        client.get("/v1/admin/changes?status=rejected", headers=auth("viewer")).json()[0][
            "change_id"
        ]
        == change["change_id"]
    )


def test_what_is_live_cannot_be_proposed_again(client: TestClient) -> None:
    r = propose(client, "policies", live(client)["policy_version"])
    assert r.status_code == 409 and "already active" in r.json()["detail"]
    assert client.get("/v1/admin/changes", headers=auth("viewer")).json() == []


def test_unknown_targets_and_changes(client: TestClient) -> None:
    assert propose(client, "policies", "nope").status_code == 404
    assert propose(client, "snapshots", "nope").status_code == 404
    r = client.post("/v1/admin/changes/c_nope/approve", json={}, headers=auth("admin"))
    assert r.status_code == 404
    r = client.post("/v1/admin/changes/c_nope/approve", json={"x": 1}, headers=auth("admin"))
    assert r.status_code == 422


def test_routine_snapshot_refresh_needs_no_second_person(client: TestClient) -> None:
    first = register_snapshot(client, "first", invited=150, decided=1000)
    change = propose(client, "snapshots", first).json()
    # the first snapshot of a policy is not routine: it changes who is invited
    assert change["status"] == "proposed" and not change["effect"]["routine_refresh"]
    assert live(client)["snapshot_id"] is None
    approved(client, propose(client, "snapshots", first))
    assert live(client)["snapshot_id"] == first
    # a refresh moving the invited share by 0.5 points: approved by the documented rule
    refresh = register_snapshot(client, "refresh", invited=155, decided=1000)
    change = propose(client, "snapshots", refresh).json()
    assert change["status"] == "approved", change
    assert change["decided_by"] == "rule:routine-refresh"
    assert abs(change["effect"]["invited_share_change"] - 0.005) < 1e-9
    assert live(client)["snapshot_id"] == refresh
    # a move of 5 points is not routine: it waits for a person
    jump = register_snapshot(client, "jump", invited=205, decided=1000)
    change = propose(client, "snapshots", jump).json()
    assert change["status"] == "proposed" and not change["effect"]["routine_refresh"]
    assert abs(change["effect"]["invited_share_change"] - 0.05) < 1e-9
    assert live(client)["snapshot_id"] == refresh


def test_a_snapshot_after_a_mixed_state_is_never_routine(client: TestClient) -> None:
    """A database left by an older version with a policy beside another policy's snapshot:
    the first snapshot of the active policy is not a routine refresh (pairing itself is
    tested in ``test_pairing.py``)."""
    approved(client, propose(client, "snapshots", register_snapshot(client, "a", 150, 1000)))
    version = new_policy(client)
    services = client.app.state.services  # type: ignore[attr-defined]
    services.catalog.activate("policy", version)  # as an older version could leave it
    services.state.refresh()
    change = propose(client, "snapshots", register_snapshot(client, "b", 150, 1000)).json()
    assert change["status"] == "proposed"
    assert change["effect"]["made_with_active_policy"] is True
    assert change["effect"]["routine_refresh"] is False
