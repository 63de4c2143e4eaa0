"""Authentication and authorisation: 401 without or with a bad token, 403 for the wrong role,
users confined to themselves; rate limits and error hygiene."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from conftest import ROLES, SECRET, auth, make_settings
from creditgate.service.app import create_app
from creditgate.service.security import AuthError, check_user_token, issue_user_token

ADMIN_WRITES = [
    "/v1/admin/policies",
    "/v1/admin/policies/v/activate",
    "/v1/admin/snapshots",
    "/v1/admin/snapshots/s/activate",
    "/v1/admin/reviews/r/claim",
    "/v1/admin/reviews/r/release",
    "/v1/admin/reviews/r/resolve",
    "/v1/admin/tokens/revoke",
    "/v1/admin/changes/c/approve",
    "/v1/admin/changes/c/reject",
    "/v1/admin/experiments",
    "/v1/admin/experiments/x/stop",
]


def user_header(user_id: str, ttl: int = 60, secret: str = SECRET) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_user_token(secret.encode(), user_id, ttl)}"}


def admin_routes(client: TestClient) -> list[tuple[str, str]]:
    paths = client.app.openapi()["paths"]  # type: ignore[attr-defined]
    return [(m.upper(), p) for p, ops in paths.items() if p.startswith("/v1/admin") for m in ops]


def test_every_admin_route_needs_a_token(client: TestClient) -> None:
    routes = admin_routes(client)
    assert len(routes) >= 9
    for method, path in routes:
        r = client.request(method, path.replace("{", "").replace("}", ""), json={})
        assert r.status_code == 401, (method, path)
        r = client.request(method, path, headers={"Authorization": "Bearer wrong-token-xyz"})
        assert r.status_code == 401, (method, path)


def test_admin_writes_need_operator(client: TestClient) -> None:
    writes = [p for m, p in admin_routes(client) if m == "POST" and not p.endswith("/lint")]
    assert {
        p.replace("{version}", "v")
        .replace("{snapshot_id}", "s")
        .replace("{review_id}", "r")
        .replace("{change_id}", "c")
        .replace("{experiment_id}", "x")
        for p in writes
    } == set(ADMIN_WRITES)
    for path in ADMIN_WRITES:
        for role in ("viewer", "service"):
            assert client.post(path, json={}, headers=auth(role)).status_code == 403, path
        assert client.post(path, json={}, headers=user_header("alice")).status_code == 403
    assert client.get("/v1/admin/policies", headers=auth("service")).status_code == 403
    assert client.get("/v1/admin/policies", headers=auth("viewer")).status_code == 200


def test_user_reads_only_their_own(client: TestClient) -> None:
    assert client.get("/v1/users/alice/entry", headers=user_header("alice")).status_code == 200
    assert client.get("/v1/users/bob/entry", headers=user_header("alice")).status_code == 403
    r = client.post("/v1/users/bob/consent-withdrawal", headers=user_header("alice"))
    assert r.status_code == 403
    assert client.post("/v1/decisions", json={}, headers=user_header("alice")).status_code == 403


def test_forged_and_expired_user_tokens_are_401(client: TestClient) -> None:
    forged = user_header("alice", secret="not-the-secret")
    assert client.get("/v1/users/alice/entry", headers=forged).status_code == 401
    expired = user_header("alice", ttl=-5)
    assert client.get("/v1/users/alice/entry", headers=expired).status_code == 401
    token = issue_user_token(SECRET.encode(), "alice", 60)
    payload, _, sig = token.rpartition(".")
    tampered = payload.replace(payload.split(".")[1], "Ym9i") + "." + sig  # user id -> bob
    r = client.get("/v1/users/bob/entry", headers={"Authorization": f"Bearer {tampered}"})
    assert r.status_code == 401
    assert (
        client.get("/v1/users/alice/entry", headers={"Authorization": "Bearer cgu.x"}).status_code
        == 401
    )


def test_user_token_round_trip() -> None:
    now = time.time()
    token = issue_user_token(b"k", "用户-1", 10, now=now)
    assert check_user_token(b"k", token, now=now + 9).user_id == "用户-1"
    with pytest.raises(AuthError):
        check_user_token(b"k", token, now=now + 11)


def test_rate_limit_per_client(tmp_path) -> None:
    settings = make_settings(f"sqlite:///{tmp_path}/r.db", rate_limit_per_s=1, rate_limit_burst=3)
    with TestClient(create_app(settings)) as c:
        codes = [c.get("/v1/users/a/entry", headers=auth("service")).status_code for _ in range(5)]
        assert codes[:3] == [200] * 3 and codes[-1] == 429
        assert c.get("/v1/users/a/entry", headers=auth("admin")).status_code == 200


def test_unexpected_errors_hide_details(client: TestClient, monkeypatch) -> None:
    services = client.app.state.services  # type: ignore[attr-defined]

    def boom(*_: object) -> None:
        raise RuntimeError("secret personal detail")

    monkeypatch.setattr(services.log, "get", boom)
    r = client.get("/v1/decisions/d_1", headers=auth("service"))
    assert r.status_code == 500
    assert "secret" not in r.text and "Traceback" not in r.text and "error_id" in r.json()


def test_tokens_compare_every_configured_token() -> None:
    assert set(ROLES.values()) == {"service", "viewer", "operator", "admin"}
