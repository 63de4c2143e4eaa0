"""``train --pairs N``: boosted pairwise tables exported as plain cells, what each adds in
the report, recourse exact over them, and nothing changed when N is 0 (the default)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import yaml
from typer.testing import CliRunner

from creditgate.cli.main import app
from creditgate.policy.bindings import PairBin, PairPoints
from creditgate.scorecard.artifact import load, to_dict
from creditgate.scorecard.boosted import BoostedTrainer
from creditgate.scorecard.lowering import lower_card
from creditgate.scorecard.metrics import auc
from creditgate.scorecard.recourse import CardRecourse
from creditgate.scorecard.scoring import RowEngine, bins_matrix, conform, score_table
from creditgate.scorecard.train import bad_labels

runner = CliRunner()
TARGET = ("creditability", "bad")


@pytest.fixture(scope="module")
def paired(german: pd.DataFrame) -> BoostedTrainer:
    return BoostedTrainer(outer_bags=4, pairs=2).fit(german, *TARGET)


def test_pairs_card_ranks_as_the_model_and_cells_differ_only_by_rounding(german, paired):
    card = paired.artifact_
    assert len(card.pairs) == 2
    y = bad_labels(german["creditability"], "bad")
    model, scored = paired.model_score(german), paired.score(german)
    assert auc(y, scored) == pytest.approx(auc(y, model), abs=5e-4)  # equal to 3 decimals
    terms = len(card.features) + len(card.pairs)
    assert np.abs(scored - model).max() <= 0.5 * terms + 1e-9
    assert card.metrics["train_auc"] == round(auc(y, scored), 6)  # the export's own sum
    assert card.metadata["training"]["interactions"] == 2
    names = {f.name for f in card.features}
    for pair in card.pairs:
        assert {a.feature for a in pair.axes} <= names
        first, second = pair.axes
        rows = 1 + (len(first.categories) or len(first.edges) + 1)
        columns = 1 + (len(second.categories) or len(second.edges) + 1)
        assert len(pair.points) == rows and {len(r) for r in pair.points} == {columns}


def test_pair_points_are_the_cells_the_lowered_card_reads(german, paired):
    card = paired.artifact_
    table = conform(pa.Table.from_pandas(german, preserve_index=False), card)
    outputs = [
        c for p in card.pairs for c in (PairBin(p.name, 0).column, PairBin(p.name, 1).column)
    ]
    outputs += [PairPoints(p.name).column for p in card.pairs]
    values = RowEngine().evaluate(lower_card(card), table, outputs)
    for p in card.pairs:
        a = values[PairBin(p.name, 0).column].to_pylist()
        b = values[PairBin(p.name, 1).column].to_pylist()
        got = values[PairPoints(p.name).column].to_pylist()
        assert got == [
            p.points[i + 1 if i >= 0 else 0][j + 1 if j >= 0 else 0]
            for i, j in zip(a, b, strict=True)
        ]
        assert len(set(got)) > 3  # a live table, not one cell


def test_default_trains_no_pairs_and_dumps_no_pairs_key(german):
    card = BoostedTrainer(outer_bags=2).fit(german, *TARGET).artifact_
    assert card.pairs == ()
    assert "pairs" not in to_dict(card)
    assert card.metadata["training"]["interactions"] == 0


def test_card_recourse_over_pairs_reaches_the_cutoff_when_followed(german, paired):
    card = paired.artifact_
    table = pa.Table.from_pandas(german, preserve_index=False)
    result = dict(bins_matrix(table, card))
    bins = np.column_stack([result[f"bin.{f.name}"].to_numpy() for f in card.features])
    cells = np.column_stack(
        [result[PairBin(p.name, k).column].to_numpy() for p in card.pairs for k in (0, 1)]
    ).astype(np.int64)
    scores = result["score"].to_numpy()
    cutoff = int(np.quantile(scores, 0.6))
    steps = CardRecourse(card).solve_batch(bins, scores, cutoff, cells)
    rows = german.to_dict("records")
    followed = 0
    for i in np.flatnonzero(scores < cutoff)[:80]:
        if not steps[i]:
            continue
        moved = rows[i] | {s.column: s.to for s in steps[i]}
        again = score_table(pa.Table.from_pylist([moved]), card).column("score")[0].as_py()
        assert again >= cutoff, (i, steps[i])
        followed += 1
    assert followed >= 20


def test_cli_pairs_report_what_each_pair_adds(tmp_path, german):
    data, out, report = tmp_path / "g.csv", tmp_path / "card.yaml", tmp_path / "report"
    german.head(600).to_csv(data, index=False)  # 600 rows: the CLI fits 14 bags
    args = ["train", str(data), "--target", "creditability", "--bad", "bad", "--out", str(out)]
    result = runner.invoke(
        app, [*args, "--method", "boosted", "--pairs", "2", "--report", str(report)]
    )
    assert result.exit_code == 0, result.output
    card = load(out)
    gains = card.metadata["pairs"]
    assert gains["on"] == "held-out" and gains["rows"] == 180
    assert [g["pair"] for g in gains["added"]] == [p.name for p in card.pairs]
    before = gains["auc_without_pairs"]
    for g in gains["added"]:
        assert g["auc_without"] == before
        assert g["delta"] == pytest.approx(g["auc_with"] - g["auc_without"], abs=2e-6)
        before = g["auc_with"]
    assert gains["auc_with_pairs"] == before == card.metrics["test_auc"]
    html = (report / "index.html").read_text(encoding="utf-8")
    assert "Pairwise tables: what each adds" in html and card.pairs[0].name in html
    assert yaml.safe_load(out.read_text())["pairs"][0]["name"] == card.pairs[0].name
    scored = tmp_path / "scored.csv"
    cutoff = ["--cutoff", "600"]
    done = runner.invoke(
        app, ["score", str(data), "--scorecard", str(out), "--out", str(scored), *cutoff]
    )
    assert done.exit_code == 0, done.output
    explained = pd.read_csv(scored)
    assert explained["recourse"].dropna().map(json.loads).map(len).gt(0).any()


def test_cli_pairs_need_the_boosted_method(tmp_path, german):
    data = tmp_path / "g.csv"
    german.head(200).to_csv(data, index=False)
    args = ["train", str(data), "--target", "creditability", "--bad", "bad"]
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "c.yaml"), "--pairs", "1"])
    assert result.exit_code == 2
    assert "--pairs needs --method boosted or auto" in result.output
