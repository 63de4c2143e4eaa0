"""Recourse on trained cards: exact (brute force), honest (re-scoring passes), batch = single."""

from __future__ import annotations

import itertools

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from creditgate.policy.nodes import Scaling
from creditgate.scorecard.artifact import Artifact, CardBin, CardFeature
from creditgate.scorecard.recourse import CardRecourse, principal_factors
from creditgate.scorecard.scoring import bins_matrix, score_table

EDGES = [10.0, 20.0, 30.0, 40.0]


@st.composite
def cards(draw: st.DrawFn) -> tuple[Artifact, tuple[int, ...], int]:
    features = []
    current = []
    for k in range(draw(st.integers(1, 4))):
        nbins = draw(st.integers(2, 5))
        direction = draw(st.sampled_from(["up", "down", "none"]))
        raw = draw(st.lists(st.integers(-10, 40), min_size=nbins, max_size=nbins))
        points = sorted(raw, reverse=direction == "down") if direction != "none" else raw
        edges = EDGES[: nbins - 1]
        lows, highs = [None, *edges], [*edges, None]
        bins = tuple(CardBin(p, lo, hi) for p, lo, hi in zip(points, lows, highs, strict=True))
        features.append(
            CardFeature(
                f"x{k}",
                f"col {k}",
                "numerical",
                bins,
                missing_points=0,
                direction=direction,
                cost=draw(st.integers(1, 3)),
                integer=k % 2 == 0,
                low=0.0,
                high=60.0,
            )
        )
        current.append(draw(st.integers(0, nbins - 1)))
    card = Artifact("y", "1", 0, Scaling(20, 600, 50), tuple(features))
    return card, tuple(current), draw(st.integers(-5, 100))


def brute_force_cost(solver: CardRecourse, bins: tuple[int, ...], need: int) -> int | None:
    movables = solver.solver.movables
    per = [
        [(0, 0)] + [(g, c) for _, g, c in solver.solver.options(m, bins[m.position])]
        for m in movables
    ]
    costs = [
        sum(c for _, c in combo)
        for combo in itertools.product(*per)
        if sum(g for g, _ in combo) >= need
    ]
    return min(costs) if costs else None


@settings(max_examples=150, deadline=None)
@given(cards())
def test_card_recourse_is_minimal_and_lifts_the_score(case):
    card, bins, need = case
    solver = CardRecourse(card)
    steps = solver.solve(bins, need)
    expected = brute_force_cost(solver, bins, need)
    if expected is None:
        assert steps is None
        return
    assert steps is not None
    cost = sum(
        card.features[next(i for i, f in enumerate(card.features) if f.column == s.column)].cost
        * abs(s.to_bin - s.from_bin)
        for s in steps
    )
    assert cost == expected
    assert sum(s.gain for s in steps) >= need
    # Honest: the target values really land in the promised bins when scored again.
    row = {
        f.column: (f.bins[b].lower if f.bins[b].lower is not None else 0.0)
        for f, b in zip(card.features, bins, strict=True)
    }
    before = score_table(pa.Table.from_pylist([row]), card).column("score")[0].as_py()
    row |= {s.column: s.to for s in steps}
    after = score_table(pa.Table.from_pylist([row]), card).column("score")[0].as_py()
    assert after - before == sum(s.gain for s in steps)
    for s in steps:
        f = next(f for f in card.features if f.column == s.column)
        assert f.direction in ("up", "down")
        assert (s.to_bin > s.from_bin) == (f.direction == "up")
        if f.integer:
            assert float(s.to).is_integer()


def test_batch_matches_one_by_one_and_factors_are_scored_features(german_trainer, german):
    card = german_trainer.artifact_
    table = pa.Table.from_pandas(german)
    result = dict(bins_matrix(table, card))
    bins = np.column_stack([result[f"bin.{f.name}"].to_numpy() for f in card.features])
    scores = result["score"].to_numpy()
    cutoff = int(np.quantile(scores, 0.6))
    batch = CardRecourse(card).solve_batch(bins, scores, cutoff)
    single = CardRecourse(card)
    for i in range(0, len(scores), 37):
        need = cutoff - int(scores[i])
        expected = single.solve(tuple(int(b) for b in bins[i]), need) if need > 0 else []
        assert batch[i] == expected
    rejected = [i for i in range(len(scores)) if scores[i] < cutoff]
    assert rejected and any(batch[i] for i in rejected)
    for i in rejected[:50]:
        factors = principal_factors(card, tuple(int(b) for b in bins[i]))
        assert 0 < len(factors) <= 4
        assert [f.shortfall for f in factors] == sorted(
            (f.shortfall for f in factors), reverse=True
        )
        assert {f.column for f in factors} <= set(card.columns)
    # categorical or immutable columns are never moved
    movable = {f.column for f in card.features if f.direction != "none"}
    assert all(s.column in movable for steps in batch if steps for s in steps)
