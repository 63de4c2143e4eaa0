"""A policy never goes live beside another policy's snapshot: refused at proposal, at
approval (re-checked against what is active then) and at start-up; a policy and its snapshot
go live together in one step (on SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from test_api import STRONG, decide, services
from typer.testing import CliRunner

from conftest import approved, auth, make_settings, write_snapshot_file
from creditgate.cli.main import app as cli
from creditgate.policy.loader import default_policy_path, parse_policy
from creditgate.service.app import create_app
from creditgate.service.pairing import PairingError
from creditgate.service.snapshot_files import snapshot_directory
from creditgate.store.audit import verify_all
from creditgate.store.catalog import Catalog
from creditgate.store.db import make_engine

TIGHT = {"tier1": 796, "new_tier1": 796, "capital": 796, "prefecture": 796}  # STRONG: 795
LOOSE = {"tier1": 700, "new_tier1": 700, "capital": 700, "prefecture": 700}
USER = str(STRONG["user_id"])


def policy_version(client: TestClient) -> str:
    version: str = client.get("/healthz").json()["policy_version"]
    return version


def upload_policy(client: TestClient, suffix: str = "-b") -> str:
    version = policy_version(client)
    text = client.get(f"/v1/admin/policies/{version}", headers=auth("viewer")).json()["text"]
    new = text.replace(version, version + suffix, 1)
    r = client.post("/v1/admin/policies", json={"text": new}, headers=auth("operator"))
    assert r.status_code == 201, r.text
    return version + suffix


def snapshot(
    client: TestClient, name: str, version: str, cutoffs: dict[str, int], users: list[str]
) -> str:
    """Register a snapshot of policy ``version`` inviting ``users``; returns its id."""
    directory = snapshot_directory(services(client).settings)
    path = write_snapshot_file(directory / f"{name}.parquet", users, version, cutoffs)
    r = client.post("/v1/admin/snapshots", json={"path": path.name}, headers=auth("operator"))
    assert r.status_code == 201, r.text
    sid: str = r.json()["snapshot_id"]
    return sid


def propose_policy(client: TestClient, version: str, snapshot_id: str | None = None) -> Any:
    body = {"snapshot_id": snapshot_id} if snapshot_id else None
    url = f"/v1/admin/policies/{version}/activate"
    return client.post(url, json=body, headers=auth("operator"))


def propose_snapshot(client: TestClient, snapshot_id: str) -> Any:
    return client.post(f"/v1/admin/snapshots/{snapshot_id}/activate", headers=auth("operator"))


def approve(client: TestClient, change: dict[str, Any]) -> Any:
    url = f"/v1/admin/changes/{change['change_id']}/approve"
    return client.post(url, json={}, headers=auth("admin"))


def visible(client: TestClient, user: str) -> bool:
    r = client.get(f"/v1/users/{user}/entry", headers=auth("service"))
    assert r.status_code == 200, r.text
    return bool(r.json()["entry_visible"])


def active(client: TestClient) -> dict[str, str]:
    found: dict[str, str] = services(client).catalog.active()
    return found


def test_a_policy_alone_over_another_policys_snapshot_is_refused(client: TestClient) -> None:
    old = policy_version(client)
    first = snapshot(client, "a", old, TIGHT, ["someone"])
    approved(client, propose_snapshot(client, first))
    new = upload_policy(client)
    other = snapshot(client, "a2", old, LOOSE, ["someone"])  # of the old policy too
    for named in (None, first, other):
        r = propose_policy(client, new, named)
        assert r.status_code == 409, r.text
        assert f"together with a snapshot of policy default version {new}" in r.json()["detail"]
    assert propose_policy(client, new, "0" * 32).status_code == 404
    assert client.get("/v1/admin/changes", headers=auth("viewer")).json() == []
    assert active(client) == {"policy": old, "snapshot": first}


def test_a_snapshot_of_another_policy_is_refused(client: TestClient) -> None:
    new = upload_policy(client)
    theirs = snapshot(client, "b", new, LOOSE, [USER])
    r = propose_snapshot(client, theirs)
    assert r.status_code == 409, r.text
    detail = r.json()["detail"]
    assert f"made for policy default version {new}" in detail
    assert "activate it together with its policy" in detail
    assert "snapshot" not in active(client)


def test_a_policy_and_its_snapshot_go_live_together(client: TestClient, db_url: str) -> None:
    old = policy_version(client)
    approved(client, propose_snapshot(client, snapshot(client, "a", old, TIGHT, ["someone"])))
    assert not visible(client, USER) and decide(client, STRONG)["outcome"] == "not_invited"
    new = upload_policy(client)
    theirs = snapshot(client, "b", new, LOOSE, [USER])
    r = propose_policy(client, new, theirs)
    assert r.status_code == 202, r.text
    effect = r.json()["effect"]
    assert effect["snapshot"]["snapshot_id"] == theirs
    assert effect["snapshot"]["policy_version"] == new
    assert effect["pairing"].startswith(f"policy {new} and its snapshot {theirs} live together")
    assert policy_version(client) == old  # nothing live before the second person approves
    approved(client, r, approver="admin")
    assert active(client) == {"policy": new, "snapshot": theirs}
    health = client.get("/healthz").json()
    assert (health["policy_version"], health["snapshot_id"]) == (new, theirs)
    # the entry lookup and a real-time decision now give the same answer, from the same pair
    d = decide(client, STRONG)
    assert visible(client, USER) and d["outcome"] == "invited" and d["entry_visible"]
    assert d["policy"]["version"] == new
    assert d["cutoffs"] == {
        "source": "snapshot",
        "snapshot_id": theirs,
        "snapshot_as_of": "2026-11-28",
        "by_class": LOOSE,
    }
    # both rows are accounted for by activation events of the one approval
    engine = make_engine(db_url)
    try:
        assert verify_all(engine).problems == []
    finally:
        engine.dispose()


def test_approval_rechecks_the_pairing_against_what_is_active_then(client: TestClient) -> None:
    old = policy_version(client)
    new = upload_policy(client)
    alone = propose_policy(client, new)  # no snapshot active: a policy alone is allowed
    assert alone.status_code == 202, alone.text
    assert "decisions cut at the policy's floor cutoffs" in alone.json()["effect"]["pairing"]
    ours = propose_snapshot(client, snapshot(client, "a", old, TIGHT, ["someone"]))
    assert ours.status_code == 202, ours.text
    approved(client, ours)  # a snapshot of the old policy went live meanwhile
    r = approve(client, alone.json())
    assert r.status_code == 409, r.text
    assert f"together with a snapshot of policy default version {new}" in r.json()["detail"]
    change = client.get(f"/v1/admin/changes/{alone.json()['change_id']}", headers=auth("viewer"))
    assert change.json()["status"] == "proposed"  # rolled back with the activation
    assert active(client) == {"policy": old, "snapshot": ours.json()["target"]}
    assert policy_version(client) == old


def test_approval_of_a_snapshot_rechecks_the_active_policy(client: TestClient) -> None:
    old = policy_version(client)
    ours = propose_snapshot(client, snapshot(client, "a", old, TIGHT, ["someone"]))
    assert ours.status_code == 202, ours.text
    new = upload_policy(client)
    approved(client, propose_policy(client, new))  # no snapshot active yet: allowed
    r = approve(client, ours.json())
    assert r.status_code == 409, r.text
    assert "activate it together with its policy" in r.json()["detail"]
    assert active(client) == {"policy": new}


def test_a_policy_alone_says_it_cuts_at_its_floors(client: TestClient) -> None:
    assert decide(client, STRONG)["cutoffs"] == {"source": "policy"}


def policy_file(tmp_path: Path, suffix: str) -> tuple[Path, str]:
    text = default_policy_path().read_text(encoding="utf-8")
    version = parse_policy(text, "<default>").version
    path = tmp_path / f"policy{suffix}.yaml"
    path.write_text(text.replace(version, version + suffix, 1), encoding="utf-8")
    return path, version


def active_in(db_url: str) -> dict[str, str]:
    engine = make_engine(db_url)
    try:
        return Catalog(engine).active()
    finally:
        engine.dispose()


def test_start_up_refuses_a_policy_beside_another_policys_snapshot(
    db_url: str, tmp_path: Path
) -> None:
    policy_b, version = policy_file(tmp_path, "-b")
    snap = write_snapshot_file(tmp_path / "in" / "a.parquet", [USER], version, LOOSE)
    snap_b = write_snapshot_file(tmp_path / "in" / "b.parquet", [USER], version + "-b", LOOSE)
    settings = make_settings(db_url, snapshot_dir=str(tmp_path / "snapshots"))
    # a mismatching pair: nothing goes live
    mixed = settings.model_copy(update={"policy_path": str(policy_b), "snapshot_path": str(snap)})
    with pytest.raises(PairingError, match=f"snapshot of policy default version {version}-b"):
        create_app(mixed)
    assert active_in(db_url) == {}
    # the default policy with its snapshot
    create_app(settings.model_copy(update={"snapshot_path": str(snap)}))
    before = active_in(db_url)
    assert before["policy"] == version
    # a policy alone over the active snapshot of another version: refused
    alone = settings.model_copy(update={"policy_path": str(policy_b)})
    with pytest.raises(PairingError, match="--snapshot"):
        create_app(alone)
    assert active_in(db_url) == before
    # a snapshot alone of a policy that is not active: refused
    with pytest.raises(PairingError, match="activate it together with its policy"):
        create_app(settings.model_copy(update={"snapshot_path": str(snap_b)}))
    assert active_in(db_url) == before
    # with a snapshot of it: both go live
    paired = alone.model_copy(update={"snapshot_path": str(snap_b)})
    with TestClient(create_app(paired)) as client:
        assert active(client)["policy"] == version + "-b"
        assert active(client)["snapshot"] != before["snapshot"]
        assert visible(client, USER)


def test_serve_names_a_mismatching_pair_and_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy_b, version = policy_file(tmp_path, "-b")
    snap = write_snapshot_file(tmp_path / "a.parquet", [USER], version, LOOSE)
    monkeypatch.setenv("CREDITGATE_SECRET", "s" * 32)
    for name in (
        "CREDITGATE_DB_URL",
        "CREDITGATE_POLICY_PATH",
        "CREDITGATE_SNAPSHOT_PATH",
        "CREDITGATE_MIGRATE",
    ):
        monkeypatch.setenv(name, "")  # serve writes these: restored after the test
        monkeypatch.delenv(name)
    db = f"sqlite:///{tmp_path}/creditgate.db"
    args = ["serve", "--db", db, "--policy", str(policy_b), "--snapshot", str(snap)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert f"snapshot of policy default version {version}-b" in result.output
    assert active_in(db) == {}
