"""Train the default policy's scorecard on the synthetic population and recalibrate cutoffs.

    .venv/bin/python -m creditgate.scorecard.default_card --users 200000 --seed 2026 --write

Why: the default card's points should come from data, not from hand-set weights. The
synthetic population has a known ground-truth default model (``population.synth``), so the
trained card can be checked against it. Only contract fields are offered, one per existing
factor code, so every principal factor keeps its user-facing message.

All seven contract score fields are kept, the seed's hidden weights among them; daily opens and
product count carry signal only because the population's ground truth assumes engagement
relates to repayment (``population.synth``: the seed platform's assumption, not a finding).
Monthly spend keeps a bin edge at the seed's 2,000-yuan mark (``FIXED_EDGES``).

Cutoffs are the risk floor (the lowest acceptable score per region class; tier1 lowest,
prefecture highest, fixed spacing); the batch whitelist then invites the best-scored users
above it up to the regional quotas and the capacity (``batch.whitelist``). Calibrating the
floor to invite ``capacity_share`` by itself left the batch short (quotas cut further, the
capacity never bound), so ``calibrate`` runs the whitelist's own rule and takes the highest
floor whose pool after the quotas is ``HEADROOM`` times the capacity.
"""

from __future__ import annotations

import argparse
import math
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from creditgate.batch.whitelist import Cutoffs, Eligible, derive_cutoffs
from creditgate.decider import Decider
from creditgate.policy.lint import lowest_cutoff
from creditgate.policy.loader import default_policy_path, parse_policy
from creditgate.policy.nodes import Outcome, Policy
from creditgate.population.regions import RegionTable, load_regions
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
# Pool after the quotas / capacity at the calibrated floor: at least the capacity, so the
# capacity bar, not the floor, decides who is invited. More is not to be had with the default
# gates and quotas: the quotas admit a fixed share of each partial class's eligible users, and
# with no floor at all the pool is 1.03 x capacity on the training population. A larger value
# only lowers the floor towards the gates (calibrate refuses what cannot be reached).
HEADROOM = 1.0
# The seed's marks that the card must separate (a bin edge of their own): monthly spend
# "> 2,000 yuan". Opens (> 3 a day) keep their learned edges: the gate in the policy holds
# the marks for the hidden weights (docs/scorecard.md, "Hidden weights").
FIXED_EDGES = {"monthly_spend_cny_6m": (2000.0,)}


def population(users: int, seed: int) -> pa.Table:
    return pa.concat_tables(generate(users, seed, AS_OF))


def training_frame(table: pa.Table, as_of: date = AS_OF) -> pd.DataFrame:
    """The scored fields (account age derived as the engine derives it) and the label."""
    frame = table.select([c for c in FEATURES if c in table.column_names] + ["defaulted"])
    out = frame.to_pandas()
    registered = pd.to_datetime(table.column("registered_at").to_pandas())
    out["account_age_days"] = (pd.Timestamp(as_of) - registered).dt.days
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


@dataclass(frozen=True)
class Scored:
    """A user nothing but the score could stop: what the whitelist ranks, and the label."""

    region_class: str
    city: str
    score: int
    defaulted: bool


def eligible_scores(
    policy: Policy, table: pa.Table, as_of: date = AS_OF
) -> tuple[list[Scored], int]:
    """Users nothing but the score could stop (at the lowest cutoff the lint accepts), and
    the population."""
    lowest = lowest_cutoff(policy)
    open_card = replace(
        policy.scorecard, cutoffs=tuple((c, lowest) for c, _ in policy.scorecard.cutoffs)
    )
    decider = Decider(replace(policy, scorecard=open_card))
    out: list[Scored] = []
    for raw in table.to_pylist():
        defaulted = bool(raw.pop("defaulted", False))
        row = validate_profile(raw, as_of, decider.policy, decider.regions)
        ev = decider.evaluate(row, as_of)
        if ev["outcome"] == Outcome.INVITED:
            out.append(Scored(ev["region_class"], row["city"], ev["score"], defaulted))
    return out, table.num_rows


def with_cutoffs(policy: Policy, cutoffs: Mapping[str, int]) -> Policy:
    card = replace(policy.scorecard, cutoffs=tuple(cutoffs.items()))
    return replace(policy, scorecard=card)


Groups = Mapping[tuple[str, str, int], int]  # (region class, city, score) -> users


def grouped(scored: list[Scored]) -> Groups:
    return Counter((s.region_class, s.city, s.score) for s in scored)


def whitelist(groups: Groups, users: int, policy: Policy, regions: RegionTable) -> Cutoffs:
    """The batch's cutoffs (``derive_cutoffs``) for these users under the policy's floors."""
    floor = dict(policy.scorecard.cutoffs)
    eligible = [
        Eligible(c, city, score, n) for (c, city, score), n in groups.items() if score >= floor[c]
    ]
    return derive_cutoffs(eligible, users, policy, regions)


def calibrate(
    scored: list[Scored],
    users: int,
    policy: Policy,
    regions: RegionTable,
    headroom: float = HEADROOM,
) -> dict[str, int]:
    """The highest floors (fixed spacing) leaving ``headroom`` x capacity after the quotas.

    Highest, because the floor is the bad-debt ceiling: it is lowered only as far as the
    capacity needs. Scanned from the top, so the result is the first base that fits.
    """
    target = headroom * math.floor(policy.capacity_share * users)
    groups = grouped(scored)
    scores = [s.score for s in scored]
    if not scores:
        raise ValueError("no user passes the gates: nothing to calibrate on")
    for base in range(max(scores), min(scores) - max(SPACING.values()) - 1, -1):
        cutoffs = {c: base + d for c, d in SPACING.items()}
        pool = whitelist(groups, users, with_cutoffs(policy, cutoffs), regions).after_quotas
        if pool >= target:
            return cutoffs
    most = whitelist(groups, users, with_cutoffs(policy, dict.fromkeys(SPACING, 0)), regions)
    raise ValueError(
        f"no floor leaves {headroom} x capacity after the quotas: with no floor at all the pool "
        f"is {most.after_quotas / most.capacity:.3f} x capacity (gates and quotas bound it)"
    )


def bad_rate(scored: list[Scored], cutoffs: Mapping[str, int] | Cutoffs) -> tuple[int, float]:
    """Users at or above their cutoff (a class's, or a batch's city-first ``Cutoffs``), and
    the share of them that defaulted."""

    def bar(s: Scored) -> int:
        if isinstance(cutoffs, Cutoffs):
            found = cutoffs.cutoff(s.region_class, s.city)
            return 10**9 if found is None else found
        return cutoffs.get(s.region_class, 10**9)

    picked = [s.defaulted for s in scored if s.score >= bar(s)]
    return len(picked), (sum(picked) / len(picked) if picked else 0.0)


@dataclass(frozen=True)
class TrainedPolicy:
    """A policy file's text with a card trained on a population and floors calibrated on it,
    the trainer and its split (for a report), and what the run measured, in lines."""

    text: str
    trainer: ScorecardTrainer
    fit: pd.DataFrame
    test: pd.DataFrame
    held_out: dict[str, float]  # AUC, KS, Gini on the held-out part
    summary: list[str]


def train_policy(
    table: pa.Table,
    base_text: str,
    note: Callable[[Mapping[str, float]], str],
    as_of: date = AS_OF,
    seed: int = 2026,
    headroom: float = HEADROOM,
) -> TrainedPolicy:
    """``base_text`` (a policy file) with its scorecard block replaced by a card trained on
    ``table`` (profiles with a ``defaulted`` label, as ``synth`` writes them) and the highest
    floors that leave ``headroom`` x capacity after the quotas (``calibrate``), never below
    the lowest the lint accepts (where no floor leaves that many: a small population, or
    gates and quotas that bind first); ``note``, given the held-out metrics, is written
    above the block."""
    frame = training_frame(table, as_of)
    fit, test = split(frame, "defaulted", "1", 0.3, seed)
    trainer = ScorecardTrainer(
        pdo=40, base_score=600, base_odds=19, min_iv=0.0, fixed_edges=FIXED_EDGES
    )
    trainer.fit(fit, "defaulted", "1")
    card = trainer.artifact_
    held_out = discrimination(test["defaulted"].to_numpy(), trainer.score(test))
    text = note(held_out)
    base = parse_policy(base_text)
    band = base.scorecard.review_band
    draft = parse_policy(
        replace_block(base_text, scorecard_yaml(card, dict.fromkeys(SPACING, 0), band, text))
    )
    regions = load_regions()
    scored, users = eligible_scores(draft, table, as_of)
    lowest = {c: lowest_cutoff(draft) + d for c, d in SPACING.items()}
    short = ""
    try:
        cutoffs = calibrate(scored, users, draft, regions, headroom)
    except ValueError as exc:  # the gates and quotas leave too few: invite all they let in
        cutoffs, short = lowest, f"{exc}: floors at the lowest the lint accepts"
    if cutoffs["tier1"] < lowest["tier1"]:
        cutoffs, short = lowest, "floors raised to the lowest the lint accepts"
    block = scorecard_yaml(card, cutoffs, band, text)
    new_text = replace_block(base_text, block)
    final = parse_policy(new_text)
    check, _ = eligible_scores(final, table, as_of)
    batch = whitelist(grouped(check), users, final, regions)
    floor_n, floor_bad = bad_rate(check, cutoffs)
    invited_n, invited_bad = bad_rate(check, batch)
    summary = [
        f"features: {', '.join(card.columns)}",
        f"cutoffs (risk floor): {cutoffs}",
        f"above the floor {floor_n / users:.2%}, after quotas {batch.after_quotas / users:.2%} "
        f"({batch.after_quotas / batch.capacity:.2f} x capacity), bad rate {floor_bad:.2%}",
        f"whitelist invites {invited_n / users:.2%} (capacity {batch.capacity:,}), "
        f"bad rate {invited_bad:.2%}; batch cutoffs {dict(batch.by_class)}",
        *([short] if short else []),
    ]
    return TrainedPolicy(new_text, trainer, fit, test, dict(held_out), summary)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--headroom", type=float, default=HEADROOM, help="Pool after quotas / capacity."
    )
    parser.add_argument("--write", action="store_true", help="Update the packaged default.")
    args = parser.parse_args()
    table = population(args.users, args.seed)
    text = default_policy_path().read_text(encoding="utf-8")

    def note(held_out: Mapping[str, float]) -> str:
        return (
            f"Trained by `python -m creditgate.scorecard.default_card --users {args.users} "
            f"--seed {args.seed} --write`\n"
            f"on the synthetic population (held-out AUC {held_out['auc']:.3f}, "
            f"KS {held_out['ks']:.3f}); see docs/scorecard.md."
        )

    trained = train_policy(table, text, note, AS_OF, args.seed, args.headroom)
    y_test = trained.test["defaulted"].to_numpy()
    print(f"held-out ({len(trained.test):,} users): {trained.held_out}")
    truth = true_pd(table, trained.test.index.to_numpy())
    oracle = discrimination(y_test, -truth)
    card_scores = trained.trainer.score(trained.test)
    spearman = pd.Series(card_scores).corr(pd.Series(-truth), method="spearman")
    print(f"ground-truth model on the same users: {oracle}")
    print(f"rank correlation card score vs true log-odds of good: {spearman:.3f}")
    print("\n".join(trained.summary))
    if args.write:
        default_policy_path().write_text(trained.text, encoding="utf-8")
        print(f"wrote {default_policy_path()}")


if __name__ == "__main__":
    main()
