"""Which trainer fits the card: ``logistic`` (optbinning bins + one logistic regression),
``boosted`` (additive EBM shapes), or ``auto`` (the better of the two by cross-validated AUC on
the training rows only, so the held-out report stays an honest estimate).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Protocol

import numpy as np
import pandas as pd

from creditgate.scorecard.artifact import Artifact
from creditgate.scorecard.metrics import auc
from creditgate.scorecard.train import TrainingError, bad_labels

METHODS = ("logistic", "boosted", "auto")
CANDIDATES = ("logistic", "boosted")


class Trainer(Protocol):
    """What ``creditgate train`` and the report need of any trainer."""

    artifact_: Artifact

    def fit(self, frame: pd.DataFrame, target: str, bad: str) -> Trainer: ...

    def score(self, frame: pd.DataFrame) -> np.ndarray[Any, np.dtype[np.float64]]: ...


def make_trainer(method: str, options: dict[str, Any]) -> Trainer:
    """A fresh trainer; ``options`` are the shared settings (scaling, columns, costs...).
    ``min_iv`` applies to ``logistic`` only, ``monotone`` and ``pairs`` to ``boosted`` only."""
    if method == "logistic":
        from creditgate.scorecard.train import ScorecardTrainer

        kept = {k: v for k, v in options.items() if k not in ("monotone", "pairs")}
        return ScorecardTrainer(**kept)
    if method == "boosted":
        from creditgate.scorecard.boosted import BoostedTrainer

        return BoostedTrainer(**{k: v for k, v in options.items() if k != "min_iv"})
    raise TrainingError(f"--method {method!r}: expected one of {', '.join(METHODS)}")


def fit_method(
    method: str, options: dict[str, Any], frame: pd.DataFrame, target: str, bad: str
) -> Trainer:
    """Fit one method; the artefact's metadata says which method made it."""
    trainer = make_trainer(method, options).fit(frame, target, bad)
    card = trainer.artifact_
    training = {"method": method, **card.metadata.get("training", {})}
    trainer.artifact_ = replace(card, metadata={**card.metadata, "training": training})
    return trainer


def fold_indices(
    y: np.ndarray[Any, Any], folds: int, seed: int
) -> list[np.ndarray[Any, np.dtype[np.int64]]]:
    """Stratified fold assignment: each fold's test rows."""
    rng = np.random.default_rng(seed)
    parts: list[list[np.ndarray[Any, Any]]] = [[] for _ in range(folds)]
    for label in (0, 1):
        rows = rng.permutation(np.flatnonzero(y == label))
        for k, chunk in enumerate(np.array_split(rows, folds)):
            parts[k].append(chunk)
    return [np.sort(np.concatenate(p)).astype(np.int64) for p in parts]


def cross_validated_auc(
    frame: pd.DataFrame,
    target: str,
    bad: str,
    options: dict[str, Any],
    methods: Sequence[str] = CANDIDATES,
    folds: int = 3,
    seed: int = 0,
) -> dict[str, list[float]]:
    """AUC of each method's *exported card* on each fold, the same folds for every method."""
    y = bad_labels(frame[target], bad)
    result: dict[str, list[float]] = {m: [] for m in methods}
    for test_rows in fold_indices(y, folds, seed):
        mask = np.zeros(len(frame), dtype=bool)
        mask[test_rows] = True
        fit_part, test_part = frame[~mask], frame[mask]
        for method in methods:
            trainer = make_trainer(method, options).fit(fit_part, target, bad)
            result[method].append(round(auc(y[mask], trainer.score(test_part)), 6))
    return result


def train_auto(
    frame: pd.DataFrame,
    target: str,
    bad: str,
    options: dict[str, Any],
    folds: int = 3,
    seed: int = 0,
) -> Trainer:
    """Fit the method with the best mean CV AUC (ties go to ``logistic``, the simpler fit)
    on all of ``frame``; the choice and every fold's AUC go into the artefact's metadata."""
    cv = cross_validated_auc(frame, target, bad, options, CANDIDATES, folds, seed)
    means = {m: round(float(np.mean(v)), 6) for m, v in cv.items()}
    chosen = max(CANDIDATES, key=lambda m: (means[m], m == "logistic"))
    trainer = fit_method(chosen, options, frame, target, bad)
    selection = {"chosen": chosen, "folds": folds, "seed": seed, "cv_auc": cv, "mean_auc": means}
    card = trainer.artifact_
    trainer.artifact_ = replace(card, metadata={**card.metadata, "selection": selection})
    return trainer
