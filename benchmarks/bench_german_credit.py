"""German Credit: creditgate's trainer vs an optbinning + LogisticRegression baseline.

5-fold x 3 repeated stratified CV, both in this process on the same folds. creditgate's AUC is
measured on the *exported* card (integer points, scored through the row engine), the
baseline's on the logistic regression's probabilities. Protected attributes are excluded from
both. Run: ``.venv/bin/python benchmarks/bench_german_credit.py``
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from optbinning import BinningProcess
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import RepeatedStratifiedKFold
from sklearn.pipeline import Pipeline

from creditgate.scorecard.scoring import score_table
from creditgate.scorecard.train import ScorecardTrainer

DATA = Path(__file__).parent / "data" / "german_credit.csv"
PROTECTED = ["personal_status_and_sex", "foreign_worker"]


def baseline(train: pd.DataFrame, y: np.ndarray, test: pd.DataFrame) -> np.ndarray:
    x = train.drop(columns=PROTECTED)
    cats = [c for c in x.columns if not pd.api.types.is_numeric_dtype(x[c])]
    process = BinningProcess(
        list(x.columns), categorical_variables=cats, selection_criteria={"iv": {"min": 0.02}}
    )
    model = Pipeline([("woe", process), ("lr", LogisticRegression(max_iter=1000))])
    model.fit(x, y)
    return model.predict_proba(test.drop(columns=PROTECTED))[:, 1]


def main() -> int:
    warnings.filterwarnings("ignore")
    frame = pd.read_csv(DATA)
    y = (frame["creditability"] == "bad").to_numpy().astype(int)
    features = frame.drop(columns=["creditability"])
    ours, theirs = [], []
    started = time.perf_counter()
    folds = RepeatedStratifiedKFold(n_splits=5, n_repeats=3, random_state=42)
    for train_idx, test_idx in folds.split(features, y):
        train, test = frame.iloc[train_idx], frame.iloc[test_idx]
        card = ScorecardTrainer().fit(train, "creditability", "bad").artifact_
        scores = score_table(pa.Table.from_pandas(test), card).column("score").to_numpy()
        ours.append(roc_auc_score(y[test_idx], -scores))  # high score = good
        theirs.append(
            roc_auc_score(
                y[test_idx],
                baseline(
                    train.drop(columns=["creditability"]),
                    y[train_idx],
                    test.drop(columns=["creditability"]),
                ),
            )
        )
    a, b = float(np.mean(ours)), float(np.mean(theirs))
    print(f"folds: {len(ours)} (5-fold x 3, stratified) in {time.perf_counter() - started:.1f}s")
    print(f"creditgate (exported integer card): AUC {a:.4f} +- {np.std(ours):.4f}")
    print(f"optbinning + LogisticRegression:    AUC {b:.4f} +- {np.std(theirs):.4f}")
    print(f"difference: {a - b:+.4f} (must be >= -0.01)")
    return 0 if a >= b - 0.01 else 1


if __name__ == "__main__":
    sys.exit(main())
