"""Real-time decisions apply the active snapshot's cutoffs exactly as ``decide --snapshot``
does, switch with activation, and replay (on SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
from fastapi.testclient import TestClient
from test_api import AS_OF, STRONG, decide, services
from typer.testing import CliRunner

from conftest import approved, auth
from creditgate.cli.main import app as cli
from creditgate.snapshot import SnapshotMeta, write_snapshot
from creditgate.store.repo import verify

runner = CliRunner()
QUOTA_CITY = STRONG | {"city": "杭州", "user_id": "u-hangzhou"}  # new_tier1: partly open
TIGHT = {"tier1": 782, "new_tier1": 782, "capital": 782, "prefecture": 782}  # STRONG scores 781


def snapshot(
    tmp_path: Path, name: str, cutoffs: dict[str, int], version: str = "2026.11.0"
) -> Path:
    meta = SnapshotMeta(
        "default", version, date(2026, 11, 28), cutoffs, 0.15, "fp", datetime.now(UTC), {}
    )
    users = ["someone"]
    table = pa.table(
        {
            "user_id": users,
            "region_class": ["tier1"],
            "score": [800],
            "limit_cny": [1000],
            "apr": ["0.073"],
        }
    )
    path = tmp_path / "snapshots" / f"{name}.parquet"
    path.parent.mkdir(exist_ok=True)
    write_snapshot(path, meta, table)
    return path


def activate(client: TestClient, path: Path) -> str:
    r = client.post("/v1/admin/snapshots", json={"path": str(path)}, headers=auth("operator"))
    assert r.status_code == 201, r.text
    sid: str = r.json()["snapshot_id"]
    approved(client, client.post(f"/v1/admin/snapshots/{sid}/activate", headers=auth("operator")))
    return sid


def by_cli(tmp_path: Path, profile: dict[str, Any], snap: Path) -> dict[str, Any]:
    file = tmp_path / "profile.json"
    file.write_bytes(orjson.dumps(profile))
    result = runner.invoke(cli, ["decide", str(file), "--snapshot", str(snap), "--as-of", AS_OF])
    assert result.exit_code == 0, result.output
    out: dict[str, Any] = orjson.loads(result.stdout)
    return out


def comparable(decision: dict[str, Any]) -> dict[str, Any]:
    """A decision without what is per request (its id, and the review link built from it)."""
    return {k: v for k, v in decision.items() if k not in ("decision_id", "review")}


def codes(decision: dict[str, Any]) -> list[str]:
    return [r["code"] for r in decision["reasons"]]


def test_api_decides_like_the_cli_with_the_active_snapshot(
    client: TestClient, db_url: str, tmp_path: Path
) -> None:
    assert decide(client, STRONG)["outcome"] == "invited"  # above the policy's own cutoff
    tight = snapshot(tmp_path, "tight", TIGHT)
    sid = activate(client, tight)
    for profile, code in ((STRONG, "CAPACITY"), (QUOTA_CITY, "REGION_QUOTA")):
        api = decide(client, profile)
        assert api["outcome"] == "not_invited" and code in codes(api), api
        assert comparable(api) == comparable(by_cli(tmp_path, profile, tight))
        stored = services(client).log.get(api["decision_id"])
        assert stored.inputs["snapshot"] == {"snapshot_id": sid, "cutoffs": TIGHT}
        result = runner.invoke(cli, ["replay", api["decision_id"], "--db", db_url])
        assert result.exit_code == 0 and "identical" in result.output, result.output
    assert verify(services(client).log) == (3, None)


def test_activation_switches_the_decider(client: TestClient, tmp_path: Path) -> None:
    activate(client, snapshot(tmp_path, "tight", TIGHT))
    assert decide(client, STRONG)["outcome"] == "not_invited"
    activate(client, snapshot(tmp_path, "loose", {"tier1": 700, "new_tier1": 700}))
    assert decide(client, STRONG)["outcome"] == "invited"
    activate(client, snapshot(tmp_path, "tight", TIGHT))
    assert "CAPACITY" in codes(decide(client, STRONG))
    # a new policy version: the snapshot was made with the old one, so it no longer applies
    version = client.get("/v1/admin/policies", headers=auth("viewer")).json()[0]["version"]
    text = client.get(f"/v1/admin/policies/{version}", headers=auth("viewer")).json()["text"]
    new_text = text.replace(version, version + "-b", 1)
    r = client.post("/v1/admin/policies", json={"text": new_text}, headers=auth("operator"))
    assert r.status_code == 201, r.text
    url = f"/v1/admin/policies/{version}-b/activate"
    approved(client, client.post(url, headers=auth("operator")))
    d = decide(client, STRONG)
    assert d["outcome"] == "invited" and d["policy"]["version"] == version + "-b"
    assert "snapshot" not in services(client).log.get(d["decision_id"]).inputs
    # and its own snapshot applies again
    activate(client, snapshot(tmp_path, "tight-b", TIGHT, version=version + "-b"))
    assert "CAPACITY" in codes(decide(client, STRONG))
