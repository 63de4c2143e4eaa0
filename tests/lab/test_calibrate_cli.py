"""``creditgate calibrate`` end to end: the ceiling holds on a population it never saw, the
written file changes only the cutoffs and reproduces the reported figures, bad input exits 2."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from creditgate.cli.main import app
from creditgate.policy.lint import errors, lint
from creditgate.policy.loader import default_policy_path, load_policy
from creditgate.policy.nodes import Policy
from creditgate.population.synth import write_parquet

runner = CliRunner()
AS_OF = "2026-11-28"
CEILING = 0.004  # below the default floors' 0.49 %: the ceiling binds


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("calibrate")
    from datetime import date

    for seed in (5, 6):
        write_parquet(tmp / f"seed{seed}.parquet", 20_000, seed=seed, as_of=date(2026, 11, 28))
    done = runner.invoke(
        app,
        [
            "calibrate",
            str(default_policy_path()),
            "--population",
            str(tmp / "seed5.parquet"),
            "--bad-rate-ceiling",
            str(CEILING),
            "--as-of",
            AS_OF,
            "--out",
            str(tmp / "new.yaml"),
        ],
    )
    assert done.exit_code == 0, done.output
    return tmp


def batch(tmp: Path, policy: Path, seed: int) -> dict[str, float]:
    out = tmp / f"decided{seed}.parquet"
    args = ["batch", str(tmp / f"seed{seed}.parquet"), "--out", str(out)]
    done = runner.invoke(app, [*args, "--policy", str(policy), "--as-of", AS_OF])
    assert done.exit_code == 0, done.output
    row = duckdb.sql(
        f"SELECT count(*), avg(d.pd), avg(CASE WHEN u.defaulted THEN 1.0 ELSE 0.0 END) "
        f"FROM '{out}' d JOIN '{tmp / f'seed{seed}.parquet'}' u USING (user_id) "
        "WHERE d.outcome = 'invited'"
    ).fetchall()[0]
    return {"invited": row[0], "expected": row[1], "realised": row[2]}


@pytest.mark.population
def test_the_ceiling_holds_on_a_second_population(calibrated: Path) -> None:
    got = batch(calibrated, calibrated / "new.yaml", seed=6)
    n = got["invited"]
    assert n > 1000
    assert got["realised"] <= CEILING + 3 * math.sqrt(CEILING * (1 - CEILING) / n)


@pytest.mark.population
def test_a_batch_of_the_written_file_gives_the_reported_figures(calibrated: Path) -> None:
    report = json.loads((calibrated / "new.calibration.json").read_text(encoding="utf-8"))
    got = batch(calibrated, calibrated / "new.yaml", seed=5)
    assert report["binding"] == "ceiling"
    assert got["invited"] == report["after"]["invited"]
    assert got["expected"] == pytest.approx(report["after"]["expected_bad_rate"], abs=1e-12)
    assert report["after"]["expected_bad_rate"] <= CEILING
    assert report["after"]["invited"] < report["before"]["invited"]
    for when in ("before", "after"):  # each user held to their city's cutoff, counted once
        per_class = sum(c[f"invited_{when}"] for c in report["classes"])
        assert per_class == report[when]["invited"]
    assert [p["ceiling"] for p in report["frontier"]] == sorted(
        p["ceiling"] for p in report["frontier"]
    )


@pytest.mark.population
def test_only_the_cutoffs_and_version_change(calibrated: Path) -> None:
    old, new = load_policy(default_policy_path()), load_policy(calibrated / "new.yaml")
    assert new.version != old.version and new.version.startswith(old.version)
    assert new.scorecard.cutoffs != old.scorecard.cutoffs

    def unplaced(p: Policy) -> Policy:  # the header moves every line: compare values only
        return replace(p, source="", version="")  # source lines do not take part in equality

    same = replace(new, scorecard=replace(new.scorecard, cutoffs=old.scorecard.cutoffs))
    assert unplaced(same) == unplaced(old)
    assert not errors(lint(new))
    text = (calibrated / "new.yaml").read_text(encoding="utf-8")
    assert text.startswith("# Calibrated by `creditgate calibrate` at ")
    assert "(Asia/Shanghai)" in text and "sha256:" in text and "binding constraint: ceiling" in text


@pytest.mark.population
def test_an_impossible_ceiling_writes_nothing(calibrated: Path) -> None:
    out = calibrated / "never.yaml"
    done = runner.invoke(
        app,
        [
            "calibrate",
            str(default_policy_path()),
            "--population",
            str(calibrated / "seed5.parquet"),
            "--bad-rate-ceiling",
            "0.000001",
            "--as-of",
            AS_OF,
            "--out",
            str(out),
        ],
    )
    assert done.exit_code == 1
    assert "no risk floors keep the expected bad rate" in done.output
    assert len(done.stderr.strip().splitlines()) == 1 and not out.exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--bad-rate-ceiling", "0"], "--bad-rate-ceiling 0.0: must lie strictly between 0 and 1"),
        (["--bad-rate-ceiling", "1.5"], "must lie strictly between 0 and 1"),
        (["--bad-rate-ceiling", "0.05", "--engine", "oracle"], "'oracle' is not one of"),
        (["--bad-rate-ceiling", "0.05", "--capacity", "0"], "--capacity 0.0: must lie in (0, 1]"),
    ],
)
def test_bad_input_exits_2(tmp_path: Path, extra: list[str], message: str) -> None:
    population = tmp_path / "p.parquet"
    population.write_bytes(b"")
    args = ["calibrate", str(default_policy_path()), "--population", str(population)]
    done = runner.invoke(app, [*args, "--out", str(tmp_path / "n.yaml"), *extra])
    assert done.exit_code == 2 and message in done.output


def test_a_missing_population_exits_2_in_one_line(tmp_path: Path) -> None:
    args = ["calibrate", str(default_policy_path()), "--population", str(tmp_path / "none")]
    done = runner.invoke(app, [*args, "--bad-rate-ceiling", "0.05", "--out", str(tmp_path / "n")])
    assert done.exit_code == 2
    assert (
        done.stderr.strip() == f"error: --population {tmp_path / 'none'}: no such file or directory"
    )
