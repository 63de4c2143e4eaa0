"""Fixtures: the same tests run on SQLite and on PostgreSQL (a real server)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
import pytest
from fastapi.testclient import TestClient
from httpx import Response

from creditgate.service.app import create_app
from creditgate.service.settings import Settings
from creditgate.snapshot import SnapshotMeta, write_snapshot
from pgserver import pg_bin, postgres_server

TOKENS = {  # principal name -> token; the name is the role but for a second admin
    "service": "svc-token-123",
    "viewer": "viewer-token-123",
    "operator": "operator-token-123",
    "admin": "admin-token-123",
    "admin2": "admin2-token-123",  # four eyes: a second person who may approve
}
ROLES = {name: name.rstrip("2") for name in TOKENS}
STAFF = ",".join(f"{name}:{ROLES[name]}:{token}" for name, token in TOKENS.items())
SECRET = "test-secret-key"


def auth(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[role]}"}


def approved(client: TestClient, proposed: Response, approver: str = "admin") -> dict[str, Any]:
    """Approve a proposal (the answer of an ``.../activate`` call) as a second person; a
    routine refresh comes back approved already."""
    assert proposed.status_code == 202, proposed.text
    change: dict[str, Any] = proposed.json()
    if change["status"] == "proposed":
        url = f"/v1/admin/changes/{change['change_id']}/approve"
        r = client.post(url, json={}, headers=auth(approver))
        assert r.status_code == 200, r.text
        change = r.json()
    assert change["status"] == "approved", change
    return change


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str | None]:
    url = os.environ.get("CREDITGATE_TEST_PG_URL")
    if url:
        yield url
    elif pg_bin() is None:
        yield None
    else:
        with postgres_server() as started:
            yield started


def fresh_database(server: str) -> str:
    """A new empty database on ``server``; each test gets its own."""
    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return server.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: object) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/creditgate.db"
    server = request.getfixturevalue("pg_server")
    if server is None:
        pytest.skip("no PostgreSQL: set CREDITGATE_TEST_PG_URL or install the server binaries")
    return fresh_database(server)


def write_snapshot_file(
    path: Path,
    users: list[str],
    version: str = "2026.12.2",
    cutoffs: dict[str, int] | None = None,
    counts: dict[str, int] | None = None,
    *,
    score: int = 700,
    as_of: date = date(2026, 11, 28),
    fingerprint: str = "fp",
    written_at: datetime = datetime(2026, 11, 28, tzinfo=UTC),
    city_cutoffs: dict[str, dict[str, int]] | None = None,
) -> Path:
    """A whitelist snapshot of the default policy inviting ``users`` (``score`` in tier 1, a
    1,000-yuan limit). Pass ``written_at=datetime.now(UTC)`` for two snapshots of the same
    users that must register as different files."""
    meta = SnapshotMeta(
        "default",
        version,
        as_of,
        cutoffs or {"tier1": 600},
        0.15,
        fingerprint,
        written_at,
        counts if counts is not None else {"invited": len(users)},
        city_cutoffs=city_cutoffs or {},
    )
    n = len(users)
    table = pa.table(
        {
            "user_id": users,
            "region_class": ["tier1"] * n,
            "score": [score] * n,
            "limit_cny": [1000] * n,
            "apr": ["0.073"] * n,
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    write_snapshot(path, meta, table)
    return path


def policy_client(tmp_path: Path, text: str) -> TestClient:
    """A service on its own SQLite database under ``tmp_path``, deciding under the policy
    ``text`` (e.g. the default with or without its product family); use it in ``with``."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(text, encoding="utf-8")
    settings = make_settings(
        f"sqlite:///{tmp_path / 'policy.db'}",
        snapshot_dir=str(tmp_path / "snapshots"),
        policy_path=str(policy),
    )
    return TestClient(create_app(settings), raise_server_exceptions=False)


def make_settings(db_url: str, **overrides: object) -> Settings:
    base: dict[str, object] = {
        "db_url": db_url,
        "secret": SECRET,
        "rate_limit_per_s": 0,
        "access_log": False,
        "tokens": STAFF,
    }
    return Settings(**{**base, **overrides})  # type: ignore[arg-type]


@pytest.fixture
def client(db_url: str, tmp_path: Path) -> Iterator[TestClient]:
    settings = make_settings(db_url, snapshot_dir=str(tmp_path / "snapshots"))
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        yield c
