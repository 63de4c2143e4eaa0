"""Would the default policy's card keep its PD calibration if retrained with ``boosted``?

Same synthetic population, split and PDO scaling as ``scorecard.default_card`` (contract
fields, monotone in the contract's own direction); prints held-out AUC and the calibration
table by decile of predicted PD for the shipped recipe (``logistic``) and ``boosted``:
observed bad rate and, since the population is synthetic, the mean ground-truth PD
(``synth_model``), which has no sampling noise. Two tables per method: every held-out user,
and the users the default policy's gates and fraud rules let through to the score (the
population the card decides; the gates refuse most of the risk the card does not see).
Target (exit 0): every decile's mean predicted PD within 10% (relative) of its mean true PD
on every held-out user; the observed column carries sampling noise (a low decile of 3M users
holds about 250 bads: 6% relative standard error). This only checks; it never rewrites the
policy.
Run: ``.venv/bin/python benchmarks/check_boosted_default_card.py [USERS]``
"""

from __future__ import annotations

import sys
import warnings
from typing import Any

import numpy as np
import pyarrow as pa

from creditgate.decider import Decider
from creditgate.human import HARD_LAYERS
from creditgate.policy.lower import pd_scale
from creditgate.profile import validate_profile
from creditgate.scorecard.boosted import BoostedTrainer
from creditgate.scorecard.default_card import AS_OF, population, training_frame, true_pd
from creditgate.scorecard.metrics import discrimination
from creditgate.scorecard.report import split
from creditgate.scorecard.report_html import calibration_rows
from creditgate.scorecard.train import ScorecardTrainer

SCALING = {"pdo": 40, "base_score": 600, "base_odds": 19}


def main() -> int:
    warnings.filterwarnings("ignore")
    users = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    seed = 2026
    table = population(users, seed)
    frame = training_frame(table)
    fit, test = split(frame, "defaulted", "1", 0.3, seed)
    y = test["defaulted"].to_numpy()
    truth = true_pd(table, test.index.to_numpy())
    scored = gates_pass(table, test.index.to_numpy())
    print(f"held out {len(test):,} users, of whom {int(scored.sum()):,} pass the gates")
    worst: dict[str, tuple[float, float]] = {}
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
        for label, rows in (("every held-out user", slice(None)), ("passing the gates", scored)):
            error = decile_table(label, y[rows], pd_[rows], truth[rows])
            worst[f"{name}, {label}"] = error
    print("\nworst decile relative error (against observed, against true PD):")
    for key, (observed, true) in worst.items():
        print(f"  {key}: {observed:.1%}, {true:.1%}")
    return 0 if worst["boosted, every held-out user"][1] <= 0.10 else 1


def decile_table(label: str, y: Any, pd_: Any, truth: Any) -> tuple[float, float]:
    """Print the calibration by decile of predicted PD; the worst relative error against the
    observed bad rate and against the true PD."""
    print(f"  {label}")
    head = ("decile", "rows", "predicted", "observed", "rel.err", "true PD", "rel.err")
    print("  {:>6s} {:>7s} {:>10s} {:>9s} {:>8s} {:>8s} {:>8s}".format(*head))
    # the same deciles as the report's table (``calibration_rows``), with the truth beside
    parts = np.array_split(np.argsort(pd_, kind="mergesort"), 10)
    errors: list[tuple[float, float]] = []
    for (decile, rows, predicted, observed), part in zip(
        calibration_rows(y, pd_), parts, strict=True
    ):
        true_mean = float(truth[part].mean())
        rel = abs(predicted - observed) / observed if observed else float("inf")
        rel_true = abs(predicted - true_mean) / true_mean
        errors.append((rel, rel_true))
        print(
            f"  {decile:6d} {rows:7d} {predicted:10.4f} {observed:9.4f} {rel:8.1%}"
            f" {true_mean:8.4f} {rel_true:8.1%}"
        )
    return max(e[0] for e in errors), max(e[1] for e in errors)


def gates_pass(table: pa.Table, rows: Any) -> Any:
    """Whether the default policy lets each row through its gates and fraud rules (a
    refusal, if any, is the score's or the capacity's)."""
    decider = Decider()
    profiles = table.take(pa.array(rows)).drop_columns(["defaulted"]).to_pylist()
    out = np.zeros(len(profiles), dtype=bool)
    for i, raw in enumerate(profiles):
        row = validate_profile(raw, AS_OF, decider.policy, decider.regions)
        reasons = decider.decide(row, AS_OF).reasons
        out[i] = not any(r.layer in HARD_LAYERS for r in reasons)
    return out


if __name__ == "__main__":
    sys.exit(main())
