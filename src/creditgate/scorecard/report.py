"""Training report: held-out AUC, KS, Gini and PSI into the artefact, and the HTML page
(``report_html``: one self-contained, printable file to attach to a model review).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from creditgate.scorecard.artifact import Artifact
from creditgate.scorecard.methods import Trainer
from creditgate.scorecard.metrics import discrimination, psi
from creditgate.scorecard.train import bad_labels


def split(
    frame: pd.DataFrame, target: str, bad: str, test_size: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stratified train/test split (test empty when ``test_size`` is 0)."""
    if test_size <= 0:
        return frame, frame.iloc[0:0]
    y = bad_labels(frame[target], bad)
    rng = np.random.default_rng(seed)
    test = np.zeros(len(frame), dtype=bool)
    for label in (0, 1):
        rows = np.flatnonzero(y == label)
        take = rng.choice(rows, size=round(len(rows) * test_size), replace=False)
        test[take] = True
    return frame[~test], frame[test]


def write_report(
    trainer: Trainer, fit: pd.DataFrame, test: pd.DataFrame, directory: Path | None
) -> Artifact:
    """Held-out metrics into the artefact; the HTML report too when ``directory`` is given."""
    card = trainer.artifact_
    target, bad = card.target, card.bad_value
    eval_part = test if len(test) else fit
    y_test = bad_labels(eval_part[target], bad)
    s_fit, s_test = trainer.score(fit), trainer.score(eval_part)
    metrics = dict(card.metrics)
    if len(test):
        metrics |= {f"test_{k}": v for k, v in discrimination(y_test, s_test).items()}
        metrics["psi_train_test"] = round(psi(s_fit, s_test), 6)
    card = replace(card, metrics=metrics)
    if card.pairs:  # what each pairwise table adds, on the rows the metrics use
        from creditgate.scorecard.pair_gains import pair_gains

        gains = pair_gains(card, eval_part, y_test, held_out=bool(len(test)))
        card = replace(card, metadata={**card.metadata, "pairs": gains})
    if directory is None:
        return card
    from creditgate.scorecard.report_html import write_committee_report

    write_committee_report(card, y_test, s_test, directory, held_out=bool(len(test)))
    return card
