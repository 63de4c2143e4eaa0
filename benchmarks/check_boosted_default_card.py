"""Would the default policy's card keep its PD calibration if retrained with ``boosted``?

Same synthetic population, split and PDO scaling as ``scorecard.default_card`` (contract
fields, monotone in the contract's own direction); prints held-out AUC and the calibration
table by decile of predicted PD for the shipped recipe (``logistic``) and ``boosted``.
Target: every decile's mean predicted PD within 10% (relative) of its observed bad rate.
This only checks; it never rewrites the policy.
Run: ``.venv/bin/python benchmarks/check_boosted_default_card.py [USERS]``
"""

from __future__ import annotations

import sys
import warnings

import numpy as np

from creditgate.policy.lower import pd_scale
from creditgate.scorecard.boosted import BoostedTrainer
from creditgate.scorecard.default_card import population, training_frame
from creditgate.scorecard.metrics import discrimination
from creditgate.scorecard.report import split
from creditgate.scorecard.report_html import calibration_rows
from creditgate.scorecard.train import ScorecardTrainer

SCALING = {"pdo": 40, "base_score": 600, "base_odds": 19}


def main() -> int:
    warnings.filterwarnings("ignore")
    users = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    seed = 2026
    frame = training_frame(population(users, seed))
    fit, test = split(frame, "defaulted", "1", 0.3, seed)
    y = test["defaulted"].to_numpy()
    worst: dict[str, float] = {}
    for name, trainer in (
        ("logistic", ScorecardTrainer(min_iv=0.0, **SCALING)),
        ("boosted", BoostedTrainer(**SCALING)),
    ):
        trainer.fit(fit, "defaulted", "1")
        card = trainer.artifact_
        scores = trainer.score(test)
        offset, scale = pd_scale(card.scaling)
        pd_ = 1.0 / (1.0 + np.exp((scores - offset) / scale))
        print(f"\n{name}: {len(card.features)} features, held-out {discrimination(y, scores)}")
        print(f"{'decile':>6s} {'rows':>7s} {'predicted':>10s} {'observed':>9s} {'rel.err':>8s}")
        errors = []
        for decile, rows, predicted, observed in calibration_rows(y, pd_):
            rel = abs(predicted - observed) / observed if observed else float("inf")
            errors.append(rel)
            print(f"{decile:6d} {rows:7d} {predicted:10.4f} {observed:9.4f} {rel:8.1%}")
        worst[name] = max(errors)
    print("\nworst decile relative error: " + ", ".join(f"{k} {v:.1%}" for k, v in worst.items()))
    return 0 if worst["boosted"] <= 0.10 else 1


if __name__ == "__main__":
    sys.exit(main())
