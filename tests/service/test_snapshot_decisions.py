"""Real-time decisions apply the active snapshot's cutoffs exactly as ``decide --snapshot``
does, switch with activation, and replay (on SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
from fastapi.testclient import TestClient
from test_api import AS_OF, STRONG, decide, services
from typer.testing import CliRunner

from conftest import approved, auth, write_snapshot_file
from creditgate.cli.main import app as cli
from creditgate.snapshot import SnapshotMeta
from creditgate.store.repo import verify

runner = CliRunner()
QUOTA_CITY = STRONG | {"city": "杭州", "user_id": "u-hangzhou"}  # new_tier1: partly open
TIGHT = {"tier1": 796, "new_tier1": 796, "capital": 796, "prefecture": 796}  # STRONG scores 795


def snapshot(
    tmp_path: Path,
    name: str,
    cutoffs: dict[str, int],
    version: str = "2026.12.2",
    city_cutoffs: dict[str, dict[str, int]] | None = None,
) -> Path:
    path = tmp_path / "snapshots" / f"{name}.parquet"
    return write_snapshot_file(
        path, ["someone"], version, cutoffs, {}, score=800,
        written_at=datetime.now(UTC), city_cutoffs=city_cutoffs,
    )  # fmt: skip


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
        assert (
            stored.decision["cutoffs"]
            == api["cutoffs"]
            == {
                "source": "snapshot",
                "snapshot_id": sid,  # the CLI names the file by the same id
                "snapshot_as_of": "2026-11-28",
                "by_class": TIGHT,
            }
        )
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
    # a new policy version goes live with its own snapshot, in one step
    version = client.get("/v1/admin/policies", headers=auth("viewer")).json()[0]["version"]
    text = client.get(f"/v1/admin/policies/{version}", headers=auth("viewer")).json()["text"]
    new_text = text.replace(version, version + "-b", 1)
    r = client.post("/v1/admin/policies", json={"text": new_text}, headers=auth("operator"))
    assert r.status_code == 201, r.text
    loose_b = snapshot(tmp_path, "loose-b", {"tier1": 700}, version=version + "-b")
    r = client.post("/v1/admin/snapshots", json={"path": str(loose_b)}, headers=auth("operator"))
    assert r.status_code == 201, r.text
    sid = r.json()["snapshot_id"]
    url = f"/v1/admin/policies/{version}-b/activate"
    approved(client, client.post(url, json={"snapshot_id": sid}, headers=auth("operator")))
    d = decide(client, STRONG)
    assert d["outcome"] == "invited" and d["policy"]["version"] == version + "-b"
    assert d["cutoffs"]["snapshot_id"] == sid
    assert services(client).log.get(d["decision_id"]).inputs["snapshot"]["snapshot_id"] == sid
    # and a later snapshot of it applies as before
    activate(client, snapshot(tmp_path, "tight-b", TIGHT, version=version + "-b"))
    assert "CAPACITY" in codes(decide(client, STRONG))


def test_the_cli_says_which_cutoffs_it_used(tmp_path: Path) -> None:
    tight = snapshot(tmp_path, "tight", TIGHT)
    file = tmp_path / "profile.json"
    file.write_bytes(orjson.dumps(STRONG))
    result = runner.invoke(cli, ["decide", str(file), "--as-of", AS_OF])
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.stdout)["cutoffs"] == {"source": "policy"}
    lines = tmp_path / "profiles.jsonl"
    lines.write_bytes(orjson.dumps(STRONG) + b"\n" + orjson.dumps(QUOTA_CITY) + b"\n")
    result = runner.invoke(cli, ["decide", str(lines), "--snapshot", str(tight)])
    assert result.exit_code == 0, result.output
    expected = {
        "source": "snapshot",
        "snapshot_id": hashlib.sha256(tight.read_bytes()).hexdigest()[:32],
        "snapshot_as_of": "2026-11-28",
        "by_class": TIGHT,
    }
    decisions = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert [d["cutoffs"] for d in decisions] == [expected, expected]


def test_replay_of_a_decision_stored_before_the_cutoffs_field(
    client: TestClient, db_url: str, tmp_path: Path
) -> None:
    """Records written before decisions named their cutoffs replay without the field; a
    record whose field was changed does not replay identical."""
    activate(client, snapshot(tmp_path, "tight", TIGHT))
    api = decide(client, STRONG)
    stored = services(client).log.get(api["decision_id"])
    log = services(client).log
    older = {k: v for k, v in stored.decision.items() if k != "cutoffs"}
    older["decision_id"] = older["review"]["decision_id"] = "d_" + "0" * 24
    log.append(older, stored.inputs, None, False)
    result = runner.invoke(cli, ["replay", older["decision_id"], "--db", db_url])
    assert result.exit_code == 0 and "identical" in result.output, result.output
    wrong = stored.decision | {"decision_id": "d_" + "1" * 24, "cutoffs": {"source": "policy"}}
    wrong["review"] = stored.decision["review"] | {"decision_id": wrong["decision_id"]}
    log.append(wrong, stored.inputs, None, False)
    result = runner.invoke(cli, ["replay", wrong["decision_id"], "--db", db_url])
    assert result.exit_code == 1 and "cutoffs" in result.output, result.output


def test_a_city_cutoff_cuts_its_users_and_the_decision_names_it(
    client: TestClient, db_url: str, tmp_path: Path
) -> None:
    """A snapshot's city quota cutoff: 兰州 is cut at its own score, 济南 (no cutoff of its own)
    at its class's; the API, the CLI and replay agree, and the field names the city's bar."""
    loose = {"tier1": 700, "new_tier1": 700, "capital": 700, "prefecture": 700}
    cities = {"capital": {"兰州": 800, "福州": 700}}
    snap = snapshot(tmp_path, "cities", loose, city_cutoffs=cities)
    sid = activate(client, snap)
    lanzhou = STRONG | {"city": "兰州市", "user_id": "u-lanzhou"}
    jinan = STRONG | {"city": "济南", "user_id": "u-jinan"}
    api = decide(client, lanzhou)
    assert api["outcome"] == "not_invited" and codes(api) == ["REGION_QUOTA"], api
    assert api["reasons"][0]["required"] == ">= 800"
    assert comparable(api) == comparable(by_cli(tmp_path, lanzhou, snap))
    base = {"source": "snapshot", "snapshot_id": sid, "snapshot_as_of": "2026-11-28"}
    city = {"name": "兰州", "cutoff": 800}
    assert api["cutoffs"] == base | {"by_class": loose, "city": city}
    assert services(client).log.get(api["decision_id"]).decision["cutoffs"] == api["cutoffs"]
    result = runner.invoke(cli, ["replay", api["decision_id"], "--db", db_url])
    assert result.exit_code == 0 and "identical" in result.output, result.output
    other = decide(client, jinan)
    assert other["outcome"] == "invited" and other["cutoffs"] == base | {"by_class": loose}


def test_a_snapshot_written_before_city_cutoffs_still_loads(tmp_path: Path) -> None:
    """Old metadata has no ``city_cutoffs``: it reads as none, and decisions cut by class."""
    meta = SnapshotMeta(
        "default", "2026.12.2", date(2026, 11, 28), TIGHT, 0.15, "fp", datetime.now(UTC), {}
    )
    old = orjson.loads(meta.to_json())
    del old["city_cutoffs"]
    assert SnapshotMeta.from_json(orjson.dumps(old)) == meta
    assert SnapshotMeta.from_json(orjson.dumps(old)).city_cutoffs == {}
    path = tmp_path / "old.parquet"
    table = pa.table(
        {
            "user_id": ["x"],
            "region_class": ["tier1"],
            "score": [800],
            "limit_cny": [1],
            "apr": ["0"],
        }
    )
    schema = table.schema.with_metadata({b"creditgate.snapshot": orjson.dumps(old)})
    pq.write_table(table.replace_schema_metadata(schema.metadata), path)
    decision = by_cli(tmp_path, QUOTA_CITY, path)
    assert "REGION_QUOTA" in codes(decision) and "city" not in decision["cutoffs"]
