"""The boosted (additive EBM) trainer exports a plain card that ranks as the model does."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from conftest import messy_frame
from creditgate.cli.main import app
from creditgate.scorecard.artifact import dump, load
from creditgate.scorecard.boosted import BoostedTrainer, bin_counts, information_value
from creditgate.scorecard.metrics import auc
from creditgate.scorecard.train import bad_labels

runner = CliRunner()


@pytest.fixture(scope="module")
def boosted(german: pd.DataFrame) -> BoostedTrainer:
    return BoostedTrainer(outer_bags=4).fit(german, "creditability", "bad")  # 4: test speed


def test_card_ranks_as_the_model_and_points_differ_only_by_rounding(german, boosted):
    y = bad_labels(german["creditability"], "bad")
    model, card = boosted.model_score(german), boosted.score(german)
    assert auc(y, card) == pytest.approx(auc(y, model), abs=5e-4)  # equal to 3 decimals
    # each feature's points are the scaled shape value rounded once: at most 1/2 point each
    assert np.abs(card - model).max() <= 0.5 * len(boosted.artifact_.features) + 1e-9
    assert boosted.artifact_.metrics["train_auc"] == round(auc(y, card), 6)
    assert boosted.artifact_.metadata["training"]["method"] == "boosted"
    assert "personal_status_and_sex" not in boosted.artifact_.columns


def test_the_card_does_not_depend_on_how_many_workers_fit_the_bags(german, boosted):
    """Large data fits the bags one per core: each bag is seeded, so the card is the same."""
    parallel = BoostedTrainer(outer_bags=4, n_jobs=2).fit(german, "creditability", "bad")
    assert parallel.artifact_.features == boosted.artifact_.features
    assert parallel.artifact_.metadata["training"]["jobs"] == 2
    assert boosted.artifact_.metadata["training"]["jobs"] == 1  # small data: one process


def test_bin_counts_and_information_value_equal_a_direct_computation():
    rng = np.random.default_rng(7)
    index = rng.integers(-1, 6, 5_000)
    y = (rng.random(5_000) < 0.2).astype(np.int64)
    rows, bads = bin_counts(index, y, 6)
    for j in range(-1, 6):
        assert rows[j + 1] == (index == j).sum() and bads[j + 1] == y[index == j].sum()
    n_bad, n_good = y.sum(), (1 - y).sum()
    want = 0.0
    for j in range(-1, 6):
        bad = (y[index == j].sum() + 0.5) / n_bad
        good = ((index == j).sum() - y[index == j].sum() + 0.5) / n_good
        want += (good - bad) * np.log(good / bad)
    assert information_value(index, y) == pytest.approx(want, rel=1e-12)


def test_missing_values_categories_and_specials_round_trip_through_yaml(tmp_path):
    frame = messy_frame(800)
    trainer = BoostedTrainer(special_values=[-99]).fit(frame, "default_flag", "1")
    path = tmp_path / "card.yaml"
    dump(trainer.artifact_, path)
    card = load(path)
    assert card == trainer.artifact_
    y_all = bad_labels(frame["default_flag"], "1")
    assert card.metrics["train_auc"] == round(auc(y_all, trainer.score(frame)), 6)
    y = bad_labels(frame["default_flag"], "1")
    card_auc, model_auc = auc(y, trainer.score(frame)), auc(y, trainer.model_score(frame))
    assert card_auc == pytest.approx(model_auc, abs=5e-4)
    gap = np.abs(trainer.score(frame) - trainer.model_score(frame))
    assert gap.max() <= 0.5 * len(card.features) + 1e-9
    for f in card.features:
        points = [b.points for b in f.bins]
        # merged: no two adjacent bins (numeric) or groups (categorical) share their points
        assert all(a != b for a, b in pairwise(points))


def test_monotone_constraint_is_honoured_by_the_fit(german):
    free = BoostedTrainer(outer_bags=4).fit(german, "creditability", "bad")
    amount = next(f for f in free.artifact_.features if f.column == "credit_amount")
    assert np.any(np.diff([b.points for b in amount.bins]) > 0)  # the free shape wiggles
    held = BoostedTrainer(outer_bags=4, monotone={"credit_amount": "down"})
    held.fit(german, "creditability", "bad")
    amount = next(f for f in held.artifact_.features if f.column == "credit_amount")
    assert np.all(np.diff([b.points for b in amount.bins]) <= 0)
    assert amount.direction == "down"
    assert held.artifact_.metadata["training"]["monotone"] == {"credit_amount": "down"}


def test_cli_trains_boosted_and_rejects_bad_monotone(tmp_path):
    data = tmp_path / "d.csv"
    messy_frame(600).to_csv(data, index=False)
    out = tmp_path / "c.yaml"
    args = ["train", str(data), "--target", "default_flag", "--bad", "1", "--out", str(out)]
    ok = runner.invoke(app, [*args, "--method", "boosted", "--monotone", "utilisation=down"])
    assert ok.exit_code == 0, ok.output
    card = load(out)
    util = next(f for f in card.features if f.column == "utilisation")
    assert np.all(np.diff([b.points for b in util.bins]) <= 0)
    assert "test_auc" in card.metrics
    assert runner.invoke(app, [*args, "--method", "forest"]).exit_code == 2
    assert runner.invoke(app, [*args, "--monotone", "utilisation=down"]).exit_code == 2
    assert runner.invoke(app, [*args, "--method", "boosted", "--monotone", "x"]).exit_code == 2
