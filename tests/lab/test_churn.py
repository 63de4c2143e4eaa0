"""``simulate --previous``: churn against the snapshot in force. The same policy over the same
users keeps everyone; another policy's churn equals a hand join of two batch runs."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from creditgate.cli.main import app
from creditgate.policy.loader import default_policy_path
from creditgate.population.synth import write_parquet

runner = CliRunner()
AS_OF = "2025-06-30"
LATER = "2025-10-28"  # 120 days on: past the default policy's min_days, the band applies


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A population, its batch under the default policy (with a snapshot) and a challenger
    policy with other floors, decided by batch too, 120 days later, holding the champion
    snapshot's invitations (``--previous``)."""
    tmp = tmp_path_factory.mktemp("churn")
    write_parquet(tmp / "users.parquet", 3_000, seed=21, as_of=date(2025, 6, 30), chunk_size=5_000)
    text = default_policy_path().read_text(encoding="utf-8")
    old = "cutoffs: {tier1: 557, new_tier1: 567, capital: 577, prefecture: 587}"
    assert old in text
    new = "cutoffs: {tier1: 620, new_tier1: 540, capital: 540, prefecture: 540}"
    (tmp / "challenger.yaml").write_text(text.replace(old, new, 1), encoding="utf-8")
    for name, policy in (
        ("champion", default_policy_path()),
        ("challenger", tmp / "challenger.yaml"),
    ):
        args = ["batch", str(tmp / "users.parquet"), "--out", str(tmp / f"{name}.parquet")]
        args += ["--snapshot", str(tmp / f"{name}-snapshot.parquet"), "--policy", str(policy)]
        if name == "challenger":
            args += ["--as-of", LATER, "--previous", str(tmp / "champion-snapshot.parquet")]
        else:
            args += ["--as-of", AS_OF]
        done = runner.invoke(app, args)
        assert done.exit_code == 0, done.output
    return tmp


def simulate(base: Path, policy: Path, *extra: str, as_of: str = AS_OF) -> dict[str, object]:
    args = ["simulate", str(policy), "--population", str(base / "users.parquet")]
    out = base / f"sim-{policy.stem}"
    done = runner.invoke(app, [*args, "--out", str(out), "--as-of", as_of, *extra])
    assert done.exit_code == 0, done.output
    [report] = json.loads((out / "report.json").read_text(encoding="utf-8"))["reports"]
    return dict(report)


def test_the_same_policy_over_the_same_users_keeps_everyone(base: Path) -> None:
    report = simulate(
        base, default_policy_path(), "--previous", str(base / "champion-snapshot.parquet")
    )
    churn = report["churn"]
    assert isinstance(churn, dict)
    assert churn["kept"] == report["invited"] == churn["previous"]["invited"] > 0
    assert churn["lost"] == churn["gained"] == churn["limit_cut"] == churn["not_decided"] == 0
    assert churn["churn_rate"] == 0 and churn["lost_reasons"] == []


def test_another_policy_churns_as_a_hand_join_of_two_batches(base: Path) -> None:
    report = simulate(
        base,
        base / "challenger.yaml",
        "--previous",
        str(base / "champion-snapshot.parquet"),
        as_of=LATER,
    )
    churn = report["churn"]
    assert isinstance(churn, dict)
    before = {
        r["user_id"]: r["limit_cny"]
        for r in pq.read_table(base / "champion-snapshot.parquet").to_pylist()
        if r["entry"] == "offer"  # the invitations (not the servicing or review rows)
    }
    now = {r["user_id"]: r for r in pq.read_table(base / "challenger.parquet").to_pylist()}
    invited_now = {u for u, r in now.items() if r["outcome"] == "invited"}
    lost = set(before) - invited_now
    assert churn["kept"] == len(set(before) & invited_now)
    assert churn["lost"] == len(lost) > 0
    assert churn["gained"] == len(invited_now - set(before)) > 0
    assert churn["limit_cut"] == sum(
        1 for u in set(before) & invited_now if now[u]["limit_cny"] < before[u]
    )
    codes: dict[str, int] = {}
    for u in lost:
        for code in now[u]["reason_codes"]:
            codes[code] = codes.get(code, 0) + 1
    assert {r["code"]: r["users"] for r in churn["lost_reasons"]} == dict(
        sorted(codes.items(), key=lambda kv: (-kv[1], kv[0]))[:20]
    )
    retained = sum(1 for r in now.values() if r["retained"])
    assert report["stability"]["retained"] == retained > 0  # the band kept some of them
    page = (base / "sim-challenger" / "index.html").read_text(encoding="utf-8")
    assert "Churn against champion-snapshot.parquet" in page
    assert "Stable entries (invitations stand 90 days" in page


def test_a_previous_file_that_is_not_a_snapshot_exits_2(base: Path) -> None:
    args = ["simulate", str(default_policy_path()), "--population", str(base / "users.parquet")]
    args += ["--out", str(base / "x"), "--previous", str(base / "users.parquet")]
    done = runner.invoke(app, args)
    assert (
        done.exit_code == 2
        and "--previous" in done.output
        and "not a creditgate snapshot" in done.output
    )
