"""Training speed: 1,000,000 rows x 20 features (16 numeric with NaNs, 4 categorical).

Target: <= 60 s for ``ScorecardTrainer.fit`` (binning, selection, regression, export) on the
2-core reference machine. Run: ``.venv/bin/python benchmarks/bench_train_speed.py [ROWS]``
"""

from __future__ import annotations

import sys
import time
import warnings

import numpy as np
import pandas as pd

from creditgate.scorecard.train import ScorecardTrainer


def make(rows: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data: dict[str, object] = {}
    logit = np.full(rows, -3.0)
    for k in range(16):
        x = rng.normal(size=rows)
        logit += (0.4 if k % 2 else -0.3) * x / (1 + k / 8)
        x[rng.random(rows) < 0.02] = np.nan
        data[f"num_{k:02d}"] = x
    for k in range(4):
        codes = rng.integers(0, 6, rows)
        logit += 0.15 * (codes - 2.5) * (k + 1) / 4
        data[f"cat_{k}"] = np.array(list("ABCDEF"), dtype=object)[codes]
    data["bad"] = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame(data)


def main() -> int:
    warnings.filterwarnings("ignore")
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    frame = make(rows)
    started = time.perf_counter()
    trainer = ScorecardTrainer().fit(frame, "bad", "1")
    seconds = time.perf_counter() - started
    card = trainer.artifact_
    print(f"rows: {rows:,}  features offered: 20  selected: {len(card.features)}")
    print(f"fit + export: {seconds:.1f}s  train AUC {card.metrics['train_auc']:.4f}")
    return 0 if seconds <= 60 or rows != 1_000_000 else 1


if __name__ == "__main__":
    sys.exit(main())
