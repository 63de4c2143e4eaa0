"""The HTTP contract, on SQLite and PostgreSQL: decide, idempotency, reads, reviews, consent."""

from __future__ import annotations

from pathlib import Path

import orjson
from fastapi.testclient import TestClient

from conftest import SECRET, approved, auth, write_snapshot_file
from creditgate.examples import example_profiles
from creditgate.service.security import issue_user_token
from creditgate.store.replay import replay
from creditgate.store.repo import verify

AS_OF = "2026-11-28"
PROFILES = {name: orjson.loads(doc) for name, doc in example_profiles()}
STRONG = PROFILES["01_strong_shenzhen"]


def decide(client: TestClient, profile: dict[str, object], key: str | None = None) -> dict:
    headers = auth("service") | ({"Idempotency-Key": key} if key else {})
    r = client.post("/v1/decisions", json={"profile": profile, "as_of": AS_OF}, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def services(client: TestClient):  # the app's storage, to look behind the API
    return client.app.state.services  # type: ignore[attr-defined]


def test_decide_every_example_and_read_back(client: TestClient) -> None:
    for profile in PROFILES.values():
        d = decide(client, profile)
        assert "_internal" not in d
        r = client.get(f"/v1/decisions/{d['decision_id']}", headers=auth("viewer"))
        assert r.status_code == 200 and r.json() == d
    assert verify(services(client).log) == (len(PROFILES), None)


def test_idempotency_key_returns_the_stored_decision(client: TestClient) -> None:
    first = decide(client, STRONG, key="k-1")
    again = decide(client, STRONG, key="k-1")
    assert again == first
    assert verify(services(client).log) == (1, None)


def test_invalid_profile_names_the_field_without_echoing_it(client: TestClient) -> None:
    bad = STRONG | {"pay_score": "799-secret"}
    r = client.post("/v1/decisions", json={"profile": bad}, headers=auth("service"))
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "profile", "pay_score"]
    assert "799-secret" not in r.text
    r = client.post("/v1/decisions", json={"profile": STRONG | {"x": 1}}, headers=auth("service"))
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "x"


def test_body_too_large_is_413(client: TestClient) -> None:
    big = {"profile": STRONG | {"city": "x" * 100_000}}
    r = client.post("/v1/decisions", content=orjson.dumps(big), headers=auth("service"))
    assert r.status_code == 413


def test_review_queue(client: TestClient) -> None:
    d = decide(client, PROFILES["02_pay_score_599"])
    user = issue_user_token(SECRET.encode(), d["user_id"], 60)
    r = client.post(
        "/v1/reviews",
        json={"decision_id": d["decision_id"], "reason": "why?"},
        headers={"Authorization": f"Bearer {user}"},
    )
    assert r.status_code == 201, r.text
    review_id = r.json()["review_id"]
    queue = client.get("/v1/admin/reviews", headers=auth("viewer")).json()
    assert [q["review_id"] for q in queue] == [review_id]
    r = client.post(
        f"/v1/admin/reviews/{review_id}/resolve",
        json={"resolution": "upheld"},
        headers=auth("operator"),
    )
    assert r.status_code == 200
    assert client.get("/v1/admin/reviews", headers=auth("viewer")).json() == []


def test_consent_withdrawal_erases_inputs_and_chain_still_verifies(client: TestClient) -> None:
    d = decide(client, STRONG)
    other = decide(client, PROFILES["02_pay_score_599"])
    svc = services(client)
    assert replay(svc.log, svc.catalog, d["decision_id"]).status == "identical"
    user = issue_user_token(SECRET.encode(), STRONG["user_id"], 60)
    r = client.post(
        f"/v1/users/{STRONG['user_id']}/consent-withdrawal",
        headers={"Authorization": f"Bearer {user}"},
    )
    assert r.status_code == 200 and r.json()["erased_decisions"] == 1
    later = decide(client, STRONG)
    assert later["outcome"] == "not_invited"
    assert "CONSENT_MISSING" in [x["code"] for x in later["reasons"]]
    assert svc.log.get(d["decision_id"]).inputs is None
    assert replay(svc.log, svc.catalog, d["decision_id"]).status == "erased"
    assert replay(svc.log, svc.catalog, other["decision_id"]).status == "identical"
    assert verify(svc.log) == (3, None)


def snapshot_file(tmp_path: Path, users: list[str]) -> Path:
    return write_snapshot_file(tmp_path / "snapshots" / "snap.parquet", users)


def test_snapshot_load_activate_and_entry_lookup(client: TestClient, tmp_path: Path) -> None:
    path = snapshot_file(tmp_path, ["alice", "bob"])
    r = client.post("/v1/admin/snapshots", json={"path": str(path)}, headers=auth("operator"))
    assert r.status_code == 201, r.text
    sid = r.json()["snapshot_id"]
    assert (
        client.get("/v1/users/alice/entry", headers=auth("service")).json()["entry_visible"]
        is False
    )  # loaded, not yet active
    r = client.post(f"/v1/admin/snapshots/{sid}/activate", headers=auth("operator"))
    assert client.get("/healthz").json()["snapshot_id"] is None  # proposed, not yet live
    approved(client, r)
    assert client.get("/healthz").json()["snapshot_id"] == sid
    entry = client.get("/v1/users/alice/entry", headers=auth("service")).json()
    assert entry["entry_visible"] is True and entry["snapshot_id"] == sid
    assert (
        client.get("/v1/users/carol/entry", headers=auth("service")).json()["entry_visible"]
        is False
    )
    r = client.post(
        "/v1/admin/snapshots",
        json={"path": str(tmp_path / "nope.parquet")},
        headers=auth("operator"),
    )
    assert r.status_code == 422


def test_policies_list_show_lint_upload_activate(client: TestClient) -> None:
    listed = client.get("/v1/admin/policies", headers=auth("viewer")).json()
    assert [p["active"] for p in listed] == [True]
    version = listed[0]["version"]
    text = client.get(f"/v1/admin/policies/{version}", headers=auth("viewer")).json()["text"]
    r = client.post("/v1/admin/policies/lint", json={"text": text}, headers=auth("viewer"))
    assert r.status_code == 200 and r.json()["errors"] == 0
    new_text = text.replace(version, version + "-b", 1)
    assert new_text != text
    r = client.post("/v1/admin/policies", json={"text": new_text}, headers=auth("operator"))
    assert r.status_code == 201, r.text
    new_version = r.json()["version"]
    r = client.post(f"/v1/admin/policies/{new_version}/activate", headers=auth("operator"))
    assert decide(client, STRONG)["policy"]["version"] == version  # proposed, not yet live
    change = approved(client, r)
    assert change["proposed_by"] != change["decided_by"]
    assert decide(client, STRONG)["policy"]["version"] == new_version
    r = client.post("/v1/admin/policies", json={"text": "name: [broken"}, headers=auth("admin"))
    assert r.status_code == 422
    assert client.get("/healthz").json()["policy_version"] == new_version


def test_withdrawal_seen_by_another_worker_is_honoured(client: TestClient) -> None:
    svc = services(client)
    svc.catalog.withdraw_consent(STRONG["user_id"])  # as if another worker took it
    assert STRONG["user_id"] not in svc.state.withdrawn
    d = decide(client, STRONG)
    assert "CONSENT_MISSING" in [x["code"] for x in d["reasons"]]
    assert svc.log.get(d["decision_id"]).inputs is None
    assert verify(svc.log) == (1, None)
