"""The fairness audit on German Credit, checked against a direct computation."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

from creditgate.cli.main import app
from creditgate.scorecard.artifact import dump, load
from creditgate.scorecard.fairness import audit_card, impact_interval
from creditgate.scorecard.scoring import score_table

runner = CliRunner()
AUDIT = ["personal_status_and_sex", "foreign_worker"]


def test_audit_matches_a_direct_computation(german, german_trainer):
    card = german_trainer.artifact_
    assert not set(AUDIT) & set(card.columns)
    table = pa.Table.from_pandas(german, preserve_index=False)
    audits = audit_card(card, table, AUDIT, cutoff=560)
    scored = score_table(table, card).to_pandas()
    bad = (german["creditability"] == "bad").to_numpy()
    for audit in audits:
        col = german[audit.column].astype(str)
        approved = scored["score"] >= 560
        rates = approved.groupby(col).mean()
        reference = rates.idxmax()
        assert audit.reference == reference
        n_ref, p_ref = int((col == reference).sum()), float(rates[reference])
        for g in audit.groups:
            mask = (col == g.group).to_numpy()
            p, n = float(approved[mask].mean()), int(mask.sum())
            assert g.rows == n and g.approval_rate == pytest.approx(p, abs=1e-6)
            ratio = p / p_ref
            assert g.impact_ratio == pytest.approx(ratio, abs=1e-6)
            assert g.adverse == (ratio < 0.8)
            if 0 < p < 1:
                se = math.sqrt((1 - p) / (n * p) + (1 - p_ref) / (n_ref * p_ref))
                assert g.impact_low == pytest.approx(ratio * math.exp(-1.959964 * se), abs=1e-5)
                assert g.impact_high == pytest.approx(ratio * math.exp(1.959964 * se), abs=1e-5)
                assert g.impact_low <= g.impact_ratio <= g.impact_high
            if 0 < bad[mask].mean() < 1:
                want = roc_auc_score(bad[mask], -scored["score"][mask])
                assert g.auc == pytest.approx(want, abs=1e-6)
            assert g.bad_rate == pytest.approx(bad[mask].mean(), abs=1e-6)
            assert g.mean_pd == pytest.approx(scored["pd"][mask].mean(), abs=1e-6)
            for column, gap in g.drivers:
                feature = next(f for f in card.features if f.column == column)
                assert gap < 0 and feature.column in card.columns


def test_interval_edges():
    assert impact_interval(0, 10, 5, 10)[0] == 0.0
    ratio, low, high = impact_interval(40, 100, 50, 100)
    assert ratio == pytest.approx(0.8) and low < 0.8 < high


def test_train_and_monitor_audit_columns(tmp_path, german):
    data = tmp_path / "german.csv"
    german.to_csv(data, index=False)
    card_path = tmp_path / "card.yaml"
    report = tmp_path / "report"
    args = ["train", str(data), "--target", "creditability", "--bad", "bad"]
    args += ["--out", str(card_path), "--report", str(report)]
    args += [x for col in AUDIT for x in ("--audit-column", col)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    card = load(card_path)
    audited = card.metadata["fairness"]["columns"]
    assert [a["column"] for a in audited] == AUDIT
    assert card.metadata["fairness"]["rows"] == 300  # the held-out rows
    page = (report / "index.html").read_text(encoding="utf-8")
    assert "impact ratio [95% CI]" in page and "foreign_worker" in page
    monitor = ["monitor", str(data), str(data), "--scorecard", str(card_path)]
    drift = runner.invoke(app, [*monitor, "--audit-column", "foreign_worker"])
    assert drift.exit_code == 0, drift.output
    assert f"at cutoff {audited[0]['cutoff']:g}" in drift.output
    included = runner.invoke(app, [*args, "--include-protected", "foreign_worker"])
    assert included.exit_code == 2


def test_audit_column_is_never_a_model_input(tmp_path, german):
    frame = german.assign(region=np.where(german["age_in_years"] > 40, "old", "young"))
    data = tmp_path / "g.csv"
    frame.to_csv(data, index=False)
    out = tmp_path / "c.yaml"
    args = ["train", str(data), "--target", "creditability", "--bad", "bad", "--out", str(out)]
    ok = runner.invoke(app, [*args, "--audit-column", "region", "--cutoff", "560"])
    assert ok.exit_code == 0, ok.output
    card = load(out)
    assert "region" not in card.columns
    assert card.metadata["fairness"]["columns"][0]["cutoff"] == 560
    dump(card, out)
    assert pd.notna(card.metadata["fairness"]["columns"][0]["groups"][0]["impact_ratio"])
