"""``synth`` -> ``batch`` -> ``decide --snapshot`` through the CLI, with its exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
from typer.testing import CliRunner

from creditgate.cli.main import app

runner = CliRunner()


def test_synth_batch_and_decide_with_the_snapshot(tmp_path: Path) -> None:
    users, out, snap = tmp_path / "u.parquet", tmp_path / "d.parquet", tmp_path / "s.parquet"
    made = runner.invoke(
        app,
        [
            "synth",
            "--users",
            "3000",
            "--seed",
            "5",
            "--out",
            str(users),
            "--dirty-fraction",
            "0.02",
        ],
    )
    assert made.exit_code == 0, made.output
    done = runner.invoke(
        app,
        ["batch", str(users), "--out", str(out), "--snapshot", str(snap), "--as-of", "2025-06-30"],
    )
    assert done.exit_code == 0, done.output
    assert "input 3,000 = decided" in done.stdout
    decided = pq.read_table(out).to_pylist()
    quarantined = pq.read_table(tmp_path / "d.quarantine.parquet").num_rows
    assert len(decided) + quarantined == 3000 and quarantined >= 60
    profiles = {r["user_id"]: r for r in pq.read_table(users).to_pylist()}
    lines = []
    for row in decided[:200]:
        raw = {
            k: v
            for k, v in profiles[row["user_id"]].items()
            if k not in ("defaulted", "_dirty_kind")
        }
        typed = json.loads(json.dumps(raw))
        for key in (
            "real_name_verified",
            "bank_card_bound",
            "is_student",
            "is_county_area",
            "consent_credit_data",
            "consent_behaviour_data",
            "blacklist_hit",
        ):
            typed[key] = typed[key] == "true"
        for key in (
            "pay_score",
            "overdue_count_24m",
            "current_overdue_days",
            "ecosystem_repayment_score",
            "ecosystem_active_products",
            "accounts_on_device",
            "sim_changed_days_ago",
            "applications_7d",
        ):
            typed[key] = None if typed[key] is None else int(typed[key])
        for key in ("avg_daily_opens_90d", "monthly_flow_cv_6m"):
            typed[key] = float(typed[key])
        lines.append(json.dumps(typed, ensure_ascii=False))
    result = runner.invoke(
        app, ["decide", "-", "--snapshot", str(snap), "--lang", "en"], input="\n".join(lines) + "\n"
    )
    assert result.exit_code == 0, result.output
    for row, line in zip(decided[:200], result.stdout.splitlines(), strict=True):
        got = json.loads(line)
        assert got["outcome"] == row["outcome"]
        assert [r["code"] for r in got["reasons"]] == row["reason_codes"]


def test_batch_exit_2_on_unusable_input(tmp_path: Path) -> None:
    missing = runner.invoke(
        app, ["batch", str(tmp_path / "nope.parquet"), "--out", str(tmp_path / "o.parquet")]
    )
    assert missing.exit_code == 2
    bad = tmp_path / "bad.parquet"
    bad.write_text("not parquet")
    refused = runner.invoke(app, ["batch", str(bad), "--out", str(tmp_path / "o.parquet")])
    assert refused.exit_code == 2
    assert "cannot read as Parquet" in refused.output
    assert "SELECT" not in refused.output  # the engine's error in a line, not the SQL it ran
    assert runner.invoke(app, ["decide", "-", "--snapshot", str(bad)], input="{}").exit_code == 2


def test_batch_exit_2_before_running_on_an_unwritable_output_or_a_bad_limit(tmp_path: Path) -> None:
    users = tmp_path / "u.parquet"
    made = runner.invoke(app, ["synth", "--users", "50", "--seed", "1", "--out", str(users)])
    assert made.exit_code == 0, made.output
    out, nowhere = tmp_path / "d.parquet", tmp_path / "no"
    cases = [
        (["--out", str(nowhere / "d.parquet")], "--out", "No such file or directory"),
        (["--out", str(tmp_path)], "--out", "is a directory"),
        (["--out", str(out), "--snapshot", str(nowhere / "s.parquet")], "--snapshot", "No such"),
    ]
    for outputs, option, why in cases:
        done = runner.invoke(app, ["batch", str(users), "--as-of", "2025-06-30", *outputs])
        assert done.exit_code == 2, done.output
        assert option in done.output and why in done.output
        assert not out.exists()  # refused before the run, and the probe left nothing behind
    limit = runner.invoke(app, ["batch", str(users), "--out", str(out), "--memory-limit", "lots"])
    assert limit.exit_code == 2 and "--memory-limit lots" in limit.output
