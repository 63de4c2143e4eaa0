"""Drift monitoring: PSI/CSI near zero for the same population, exit 1 past the threshold."""

from __future__ import annotations

import numpy as np
from typer.testing import CliRunner

from creditgate.cli.main import app
from creditgate.explain.catalogue import renderer
from creditgate.scorecard.artifact import dump
from creditgate.scorecard.metrics import auc, csi, ks, psi

runner = CliRunner()


def test_metrics_on_known_cases():
    assert auc([1, 1, 0, 0], [1, 2, 3, 4]) == 1.0  # every good outscores every bad
    assert auc([1, 0], [5, 5]) == 0.5
    assert ks([1, 1, 0, 0], [1, 2, 3, 4]) == 1.0
    rng = np.random.default_rng(0)
    a = rng.normal(size=20000)
    assert psi(a, rng.normal(size=20000)) < 0.01
    assert psi(a, rng.normal(1.0, size=20000)) > 0.25
    assert csi([0, 0, 1, 1], [0, 0, 1, 1]) == 0.0


def test_monitor_exits_1_on_drift_and_0_without(german, german_trainer, tmp_path):
    card = tmp_path / "card.yaml"
    dump(german_trainer.artifact_, card)
    base = tmp_path / "base.csv"
    german.to_csv(base, index=False)
    same = runner.invoke(app, ["monitor", str(base), str(base), "--scorecard", str(card)])
    assert same.exit_code == 0, same.output
    assert "score PSI: 0.0000" in same.output
    shifted = german.copy()
    shifted["duration_in_month"] = shifted["duration_in_month"] * 3
    cur = tmp_path / "cur.csv"
    shifted.to_csv(cur, index=False)
    drifted = runner.invoke(app, ["monitor", str(base), str(cur), "--scorecard", str(card)])
    assert drifted.exit_code == 1
    assert "duration_in_month" in drifted.output
    lax = runner.invoke(
        app, ["monitor", str(base), str(cur), "--scorecard", str(card), "--threshold", "100"]
    )
    assert lax.exit_code == 0


def test_generic_factor_code_has_messages_in_both_languages():
    text = renderer("reasons", "SCORE_FACTOR", "duration_in_month")(observed=48)
    assert set(text) == {"zh-CN", "en"} and "48" in text["en"] and "duration_in_month" in text["en"]
