"""Train the default policy's scorecard on the synthetic population and recalibrate cutoffs.

    .venv/bin/python -m creditgate.scorecard.default_card --users 200000 --seed 2026 --write

Why: the default card's points should come from data, not from hand-set weights. The
synthetic population has a known ground-truth default model (``population.synth``), so the
trained card can be checked against it. Only contract fields are offered, one per existing
factor code, so every principal factor keeps its user-facing message. Cutoffs keep their
spacing per region class (tier1 lowest, prefecture highest) and are shifted together until
about ``capacity_share`` of the population is invited.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import replace
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from creditgate.decider import Decider
from creditgate.policy.loader import default_policy_path, load_policy, parse_policy
from creditgate.policy.nodes import Policy
from creditgate.population.synth import default_probability, generate
from creditgate.profile import validate_profile
from creditgate.schema import PROFILE_FIELDS
from creditgate.scorecard.artifact import Artifact, CardFeature
from creditgate.scorecard.metrics import discrimination
from creditgate.scorecard.report import split
from creditgate.scorecard.train import ScorecardTrainer

AS_OF = date(2025, 6, 30)
# column -> feature name in the policy (its factor code comes from train.CONTRACT_FACTORS)
FEATURES = {
    "avg_daily_opens_90d": "activity",
    "monthly_spend_cny_6m": "spend",
    "ecosystem_repayment_score": "repayment",
    "pay_score": "pay_band",
    "account_age_days": "tenure",
    "ecosystem_active_products": "products",
    "monthly_flow_cv_6m": "flow",
}
SPACING = {"tier1": 0, "new_tier1": 10, "capital": 20, "prefecture": 30}
RESOLUTION = {"account_age_days": 1}


def population(users: int, seed: int) -> pa.Table:
    return pa.concat_tables(generate(users, seed, AS_OF))


def training_frame(table: pa.Table) -> pd.DataFrame:
    """The scored fields (account age derived as the engine derives it) and the label."""
    frame = table.select([c for c in FEATURES if c in table.column_names] + ["defaulted"])
    out = frame.to_pandas()
    registered = pd.to_datetime(table.column("registered_at").to_pandas())
    out["account_age_days"] = (pd.Timestamp(AS_OF) - registered).dt.days
    out["monthly_spend_cny_6m"] = out["monthly_spend_cny_6m"].astype(float)
    out["defaulted"] = out["defaulted"].astype(int)
    return out[[*FEATURES, "defaulted"]]


def true_pd(table: pa.Table, rows: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """The ground-truth default probability (``synth``'s model) of the given rows."""
    full = table.take(pa.array(rows)).to_pandas()
    features: dict[str, Any] = {c: full[c].to_numpy() for c in full.columns}
    features["monthly_spend_cny_6m"] = full["monthly_spend_cny_6m"].astype(float).to_numpy()
    days = pd.Timestamp(AS_OF) - pd.to_datetime(full["registered_at"])
    features["account_age_days"] = days.dt.days.to_numpy()
    age = pd.Timestamp(AS_OF) - pd.to_datetime(full["birth_date"])
    features["age_years"] = (age.dt.days / 365.2425).astype(int).to_numpy()
    return np.asarray(default_probability(features))


def bound(column: str, edge: float) -> Any:
    """A bin edge on the field's own grid: ``x < edge`` selects the same grid values."""
    spec = PROFILE_FIELDS.get(column)
    step = float(spec.resolution) if spec is not None else RESOLUTION.get(column, 1)
    value = math.ceil(edge / step - 1e-9) * step
    if step >= 1:
        return int(value)
    digits = max(0, -math.floor(math.log10(step)))
    return float(round(value, digits))


def feature_yaml(f: CardFeature) -> list[str]:
    bins = []
    for b in f.bins:
        if b.upper is None:
            bins.append(f"{{points: {b.points}}}")
        else:
            bins.append(f"{{below: {bound(f.column, b.upper)}, points: {b.points}}}")
    return [
        f"    - name: {FEATURES[f.column]}",
        f"      field: {f.column}",
        f"      factor: {f.factor}",
        f"      bins: [{', '.join(bins)}]",
    ]


def scorecard_yaml(card: Artifact, cutoffs: dict[str, int], review_band: int, note: str) -> str:
    s = card.scaling
    lines = [
        "scorecard:",
        *(f"  # {line}" for line in note.splitlines()),
        f"  base_points: {card.base_points}",
        f"  scaling: {{pdo: {s.pdo:g}, base_score: {s.base_score:g}, base_odds: {s.base_odds:g}}}",
        "  cutoffs: {" + ", ".join(f"{k}: {v}" for k, v in cutoffs.items()) + "}",
        f"  review_band: {review_band}",
        "  features:",
    ]
    for f in card.features:
        lines += feature_yaml(f)
    return "\n".join(lines) + "\n"


def replace_block(policy_text: str, block: str) -> str:
    start = policy_text.index("\nscorecard:\n") + 1
    end = policy_text.index("\noffer:\n", start) + 1
    return policy_text[:start] + block + "\n" + policy_text[end:]


def eligible_scores(policy: Policy, table: pa.Table) -> tuple[list[tuple[str, int]], int]:
    """(region class, score) of users nothing but the score could stop, and the population."""
    open_card = replace(
        policy.scorecard, cutoffs=tuple((c, 100) for c, _ in policy.scorecard.cutoffs)
    )
    decider = Decider(replace(policy, scorecard=open_card))
    out: list[tuple[str, int]] = []
    for raw in table.to_pylist():
        raw.pop("defaulted", None)
        row = validate_profile(raw, AS_OF, decider.policy, decider.regions)
        ev = decider.evaluate(row, AS_OF)
        if ev["outcome"] == "invited":
            out.append((ev["region_class"], ev["score"]))
    return out, table.num_rows


def calibrate(scores: list[tuple[str, int]], users: int, share: float) -> dict[str, int]:
    """Cutoffs with the fixed spacing whose invited share is closest to ``share``."""
    by_class = {c: np.sort([s for k, s in scores if k == c]) for c in SPACING}

    def invited(base: int) -> float:
        n = sum(len(v) - np.searchsorted(v, base + SPACING[c]) for c, v in by_class.items())
        return float(n) / users

    lo, hi = min(s for _, s in scores) - 50, max(s for _, s in scores) + 50
    best = min(range(lo, hi), key=lambda b: abs(invited(b) - share))
    return {c: best + d for c, d in SPACING.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--write", action="store_true", help="Update the packaged default.")
    args = parser.parse_args()
    table = population(args.users, args.seed)
    frame = training_frame(table)
    fit, test = split(frame, "defaulted", "1", 0.3, args.seed)
    trainer = ScorecardTrainer(pdo=40, base_score=600, base_odds=19, min_iv=0.0)
    trainer.fit(fit, "defaulted", "1")
    card = trainer.artifact_
    y_test = test["defaulted"].to_numpy()
    held_out = discrimination(y_test, trainer.score(test))
    print(f"features: {', '.join(card.columns)}")
    print(f"held-out ({len(test):,} users): {held_out}")
    truth = true_pd(table, test.index.to_numpy())
    oracle = discrimination(y_test, -truth)
    card_scores = trainer.score(test)
    spearman = pd.Series(card_scores).corr(pd.Series(-truth), method="spearman")
    print(f"ground-truth model on the same users: {oracle}")
    print(f"rank correlation card score vs true log-odds of good: {spearman:.3f}")
    policy = load_policy()
    text = default_policy_path().read_text(encoding="utf-8")
    note = (
        f"Trained by `python -m creditgate.scorecard.default_card --users {args.users} "
        f"--seed {args.seed} --write`\n"
        f"on the synthetic population (held-out AUC {held_out['auc']:.3f}, "
        f"KS {held_out['ks']:.3f}); see docs/scorecard.md."
    )
    draft = parse_policy(
        replace_block(
            text, scorecard_yaml(card, {c: 0 for c in SPACING}, policy.scorecard.review_band, note)
        )
    )
    scores, users = eligible_scores(draft, table)
    cutoffs = calibrate(scores, users, policy.capacity_share)
    block = scorecard_yaml(card, cutoffs, policy.scorecard.review_band, note)
    new_text = replace_block(text, block)
    final = parse_policy(new_text)
    check, _ = eligible_scores(final, table)
    invited = sum(1 for c, s in check if s >= final.scorecard.cutoff(c)) / users
    print(f"cutoffs: {cutoffs}; invited share {invited:.2%}")
    print(block)
    if args.write:
        default_policy_path().write_text(new_text, encoding="utf-8")
        print(f"wrote {default_policy_path()}")


if __name__ == "__main__":
    main()
