"""Stable entries in the service: a real-time decision holds the invitation the active
snapshot holds (never the one a caller claims), replay reproduces it, and a servicing-only
entry is visible to the entry lookup (on SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
from fastapi.testclient import TestClient
from test_api import STRONG, decide, services
from test_snapshot_decisions import TIGHT, activate
from typer.testing import CliRunner

from conftest import auth
from creditgate.cli.main import app as cli
from creditgate.snapshot import SnapshotMeta, write_snapshot

HELD_SINCE = date(2026, 10, 1)  # 58 days before the decisions' as_of: within min_days


def held_snapshot(tmp_path: Path) -> Path:
    """TIGHT cutoffs (STRONG scores just under them) and STRONG's user invited since
    HELD_SINCE with a 300,000 line; ``owing`` on a servicing-only entry."""
    meta = SnapshotMeta(
        "default", "2026.12.2", date(2026, 11, 28), TIGHT, 0.15, "fp", datetime.now(UTC), {}
    )
    table = pa.table(
        {
            "user_id": [STRONG["user_id"], "owing"],
            "region_class": ["tier1", "tier1"],
            "score": [795, None],
            "limit_cny": [300_000, None],
            "apr": ["0.073", None],
            "entry": ["offer", "servicing"],
            "invited_since": [HELD_SINCE, None],
        },
        schema=pa.schema(
            [
                ("user_id", pa.string()),
                ("region_class", pa.string()),
                ("score", pa.int32()),
                ("limit_cny", pa.int64()),
                ("apr", pa.string()),
                ("entry", pa.string()),
                ("invited_since", pa.date32()),
            ]
        ),
    )
    path = tmp_path / "snapshots" / "held.parquet"
    path.parent.mkdir(exist_ok=True)
    write_snapshot(path, meta, table)
    return path


def test_a_real_time_decision_holds_the_snapshots_invitation_and_replays(
    client: TestClient, db_url: str, tmp_path: Path
) -> None:
    activate(client, held_snapshot(tmp_path))
    claimed = {"invited_since": "2020-01-01", "invited_limit_cny": 1}  # replaced, not trusted
    d = decide(client, STRONG | claimed)
    assert (d["outcome"], d["retained"], d["invited_since"]) == ("invited", True, "2026-10-01")
    assert [n["code"] for n in d["notices"]] == ["LIMIT_REDUCED"]
    assert d["notices"][0]["previous_limit_cny"] == 300_000
    stored = services(client).log.get(d["decision_id"])
    profile = stored.inputs["profile"]
    assert (profile["invited_since"], profile["invited_limit_cny"]) == ("2026-10-01", 300_000)
    result = CliRunner().invoke(cli, ["replay", d["decision_id"], "--db", db_url])
    assert result.exit_code == 0 and "identical" in result.output, result.output
    # another user claiming an invitation the snapshot does not hold is cut as anyone else
    other = decide(client, STRONG | claimed | {"user_id": "u-claims"})
    assert other["outcome"] == "not_invited" and other["reasons"][0]["code"] == "CAPACITY"
    assert other["retained"] is False and other["notices"] == []


def test_the_servicing_only_entry_is_visible(client: TestClient, tmp_path: Path) -> None:
    activate(client, held_snapshot(tmp_path))
    for user, visible in (("owing", True), (STRONG["user_id"], True), ("nobody", False)):
        r = client.get(f"/v1/users/{user}/entry", headers=auth("service"))
        assert r.status_code == 200 and r.json()["entry_visible"] is visible, (user, r.json())
    state = services(client).state
    assert state.snapshot is not None and "owing" not in state.snapshot.invited


def test_a_record_stored_before_the_stable_entry_fields_replays(
    client: TestClient, db_url: str
) -> None:
    """Records written before decisions had ``entry``, ``retained``, ``notices`` and
    ``invited_since`` replay without them; a changed ``entry`` does not replay identical."""
    d = decide(client, STRONG)
    log = services(client).log
    stored = log.get(d["decision_id"])
    later = ("entry", "retained", "notices", "invited_since")
    older = {k: v for k, v in stored.decision.items() if k not in later}
    older["decision_id"] = older["review"]["decision_id"] = "d_" + "2" * 24
    log.append(older, stored.inputs, None, False)
    runner = CliRunner()
    result = runner.invoke(cli, ["replay", older["decision_id"], "--db", db_url])
    assert result.exit_code == 0 and "identical" in result.output, result.output
    wrong = stored.decision | {"decision_id": "d_" + "3" * 24, "entry": "servicing"}
    wrong["review"] = stored.decision["review"] | {"decision_id": wrong["decision_id"]}
    log.append(wrong, stored.inputs, None, False)
    result = runner.invoke(cli, ["replay", wrong["decision_id"], "--db", db_url])
    assert result.exit_code == 1 and "entry" in result.output, result.output
