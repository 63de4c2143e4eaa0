"""The packaged default card: trained, calibrated to ~15% invited, and it ranks risk."""

from __future__ import annotations

import numpy as np

from creditgate.decider import Decider
from creditgate.population.synth import generate
from creditgate.profile import validate_profile
from creditgate.scorecard.default_card import AS_OF, bound
from creditgate.scorecard.metrics import auc


def test_default_card_invites_about_15_percent_and_separates_defaulters():
    decider = Decider()
    table = next(generate(20_000, 99, AS_OF, chunk_size=20_000))  # not the training seed
    invited, scores, bad = 0, [], []
    for raw in table.to_pylist():
        defaulted = raw.pop("defaulted")
        row = validate_profile(raw, AS_OF, decider.policy, decider.regions)
        ev = decider.evaluate(row, AS_OF)
        invited += ev["outcome"] == "invited"
        scores.append(ev["score"])
        bad.append(defaulted)
    assert 0.12 <= invited / table.num_rows <= 0.18
    assert auc(np.array(bad), np.array(scores)) > 0.8
    cut = dict(decider.policy.scorecard.cutoffs)
    assert cut["tier1"] < cut["new_tier1"] < cut["capital"] < cut["prefecture"]


def test_bin_edges_are_rounded_onto_the_field_grid():
    assert bound("pay_score", 649.5) == 650  # ints: x < 649.5 <=> x < 650
    assert bound("monthly_flow_cv_6m", 0.14500001) == 0.15
    assert bound("account_age_days", 3016.5) == 3017
