"""``--method auto`` picks by cross-validated AUC on the training rows and records why."""

from __future__ import annotations

import numpy as np
from typer.testing import CliRunner

from conftest import messy_frame
from creditgate.cli.main import app
from creditgate.scorecard.artifact import load
from creditgate.scorecard.methods import fold_indices
from creditgate.scorecard.train import bad_labels

runner = CliRunner()


def test_folds_are_stratified_and_partition_the_rows():
    y = bad_labels(messy_frame(600)["default_flag"], "1")
    folds = fold_indices(y, 3, seed=0)
    rows = np.concatenate(folds)
    assert sorted(rows.tolist()) == list(range(len(y)))
    rates = [y[f].mean() for f in folds]
    assert max(rates) - min(rates) < 0.01


def test_auto_chooses_the_best_cross_validated_method_on_training_rows_only(tmp_path):
    data = tmp_path / "d.csv"
    messy_frame(900).to_csv(data, index=False)
    out = tmp_path / "c.yaml"
    args = ["train", str(data), "--target", "default_flag", "--bad", "1", "--out", str(out)]
    result = runner.invoke(app, [*args, "--method", "auto", "--test-size", "0.3"])
    assert result.exit_code == 0, result.output
    card = load(out)
    selection = card.metadata["selection"]
    means = selection["mean_auc"]
    assert set(means) == {"logistic", "boosted"}
    assert selection["chosen"] == max(means, key=lambda m: (means[m], m == "logistic"))
    assert card.metadata["training"]["method"] == selection["chosen"]
    for method, aucs in selection["cv_auc"].items():
        assert len(aucs) == 3 and means[method] == round(float(np.mean(aucs)), 6)
    # CV ran on the 630 training rows only: held-out rows are what test_auc is measured on
    assert card.trained_rows == 630 and "test_auc" in card.metrics
