"""The score recourse is exact: its cost equals a brute-force search's on small cards."""

from __future__ import annotations

import itertools
from datetime import date

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from creditgate.explain.score_recourse import ScoreRecourse, axis_index
from creditgate.policy.bindings import Scope
from creditgate.policy.lower import score_bindings
from creditgate.policy.nodes import Bin, Field, PairAxis, Scaling, ScoreFeature, ScorePair
from engines.reference import evaluate

FIELDS = ["pay_score", "ecosystem_repayment_score", "avg_daily_opens_90d", "monthly_flow_cv_6m"]
EDGES = {
    "pay_score": [500, 600, 700, 800],
    "ecosystem_repayment_score": [20, 40, 60, 80],
    "avg_daily_opens_90d": [1, 2, 3, 4],
    "monthly_flow_cv_6m": [0.2, 0.4, 0.6, 0.8],
}


@st.composite
def cards(draw: st.DrawFn) -> tuple[tuple[ScoreFeature, ...], tuple[int, ...], int]:
    n = draw(st.integers(1, 4))
    features = []
    current = []
    for k in range(n):
        field = FIELDS[k]
        nbins = draw(st.integers(2, 5))
        edges = EDGES[field][: nbins - 1]
        points = draw(st.lists(st.integers(-10, 40), min_size=nbins, max_size=nbins))
        lowers = [None, *edges]
        uppers = [*edges, None]
        bins = tuple(Bin(p, lo, up) for p, lo, up in zip(points, lowers, uppers, strict=True))
        features.append(
            ScoreFeature(f"f{k}", field, bins, 0, "LOW_X", cost=draw(st.integers(1, 3)))
        )
        current.append(draw(st.integers(0, nbins - 1)))
    need = draw(st.integers(-5, 120))
    return tuple(features), tuple(current), need


def brute_force(solver: ScoreRecourse, bins: tuple[int, ...], need: int) -> int | None:
    """Cheapest total cost over every combination of moves (or staying put)."""
    per_feature = [
        [(0, 0)] + [(g, c) for _, g, c in solver.options(m, bins[k])]
        for k, m in enumerate(solver.movables)
    ]
    best = None
    for combo in itertools.product(*per_feature):
        gain = sum(g for g, _ in combo)
        cost = sum(c for _, c in combo)
        if gain >= need and (best is None or cost < best):
            best = cost
    return best


@given(cards())
def test_dp_cost_matches_brute_force(
    card: tuple[tuple[ScoreFeature, ...], tuple[int, ...], int],
) -> None:
    features, current, need = card
    solver = ScoreRecourse(features)
    choice = solver.solve(current, need)
    expected = brute_force(solver, current, need)
    if expected is None:
        assert choice is None
        return
    assert choice is not None
    gain = cost = 0
    for k, j in choice:
        m = solver.movables[k]
        points = [b.points for b in m.feature.bins]
        gain += points[j] - points[current[k]]
        cost += m.feature.cost * abs(j - current[k])
        # moves go only the helpful way: up for scores, down for flow variability
        assert (j > current[k]) == (m.direction.value == "up")
    assert gain >= need
    assert cost == expected


def test_targets_fall_inside_their_bins() -> None:
    feature = ScoreFeature(
        "flow",
        "monthly_flow_cv_6m",
        (Bin(20, None, 0.2), Bin(5, 0.2, 0.5), Bin(0, 0.5, None)),
        0,
        "X",
    )
    solver = ScoreRecourse((feature,))
    m = solver.movables[0]
    assert m.targets[0] == 0.19 and m.targets[1] == 0.49
    assert solver.solve((2,), 20) == ((0, 0),)


# ----------------------------------------------------------------- pairwise tables

RANGES = {  # where the drawn users' values lie (inside each field's contract range)
    "pay_score": st.integers(300, 850),
    "ecosystem_repayment_score": st.integers(0, 100),
    "avg_daily_opens_90d": st.floats(0, 6, allow_nan=False).map(lambda v: round(v, 1)),
    "monthly_flow_cv_6m": st.floats(0, 1.2, allow_nan=False).map(lambda v: round(v, 2)),
}
PAIR_EDGES = {  # a pair's own edges, deliberately not the 1-D ones
    "pay_score": [550, 650, 750],
    "ecosystem_repayment_score": [30, 70],
    "avg_daily_opens_90d": [1.5, 3.5],
    "monthly_flow_cv_6m": [0.3, 0.7],
}


def pair_axis_of(feature: ScoreFeature) -> PairAxis:
    cuts = PAIR_EDGES[feature.field]
    bounds = [None, *cuts, None]
    bins = tuple(Bin(0, bounds[i], bounds[i + 1]) for i in range(len(cuts) + 1))
    return PairAxis(feature.name, feature.field, bins)


@st.composite
def paired_cards(
    draw: st.DrawFn,
) -> tuple[tuple[ScoreFeature, ...], tuple[ScorePair, ...], dict[str, object], int]:
    features, _, need = draw(cards())
    assume(len(features) >= 2)
    pairs = []
    for p in range(draw(st.integers(1, 2))):
        a, b = draw(st.permutations(range(len(features))))[:2]
        axes = (pair_axis_of(features[a]), pair_axis_of(features[b]))
        shape = (len(axes[0].bins) + 1, len(axes[1].bins) + 1)
        cell = st.integers(-15, 25)
        rows = draw(
            st.lists(
                st.lists(cell, min_size=shape[1], max_size=shape[1]),
                min_size=shape[0],
                max_size=shape[0],
            )
        )
        pairs.append(ScorePair(f"p{p}", axes, tuple(tuple(r) for r in rows)))
    row = {f.field: draw(RANGES[f.field]) for f in features}
    return features, tuple(pairs), row, need


def card_score(features: tuple[ScoreFeature, ...], pairs: tuple[ScorePair, ...], row: dict) -> int:
    """The score the lowered program gives ``row``, walked by the reference oracle."""
    bindings = score_bindings(Scope(), features, 0, Scaling(20, 600, 50), Field.of, pairs=pairs)
    env: dict[str, object] = {}
    for b in bindings:
        env[b.name] = evaluate(b.expr, row, env, date(2026, 1, 1))
    return int(env["score"])  # type: ignore[call-overload]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(paired_cards())
def test_dp_over_pairs_matches_brute_force_through_the_lowered_program(
    card: tuple[tuple[ScoreFeature, ...], tuple[ScorePair, ...], dict[str, object], int],
) -> None:
    """With pairwise tables the cheapest moves the DP proposes, applied to the user's values
    and re-scored by the lowered program, reach the need; no combination of moves (each
    movable feature staying or entering any bin the helpful way) is cheaper."""
    features, pairs, row, need = card
    solver = ScoreRecourse(features, pairs=pairs)
    bins = tuple(axis_index(m.feature, row[m.feature.field]) for m in solver.movables)
    cells = tuple(axis_index(a, row[a.field]) for p in pairs for a in p.axes)
    now = card_score(features, pairs, row)
    per_feature = []
    for k, m in enumerate(solver.movables):
        span = range(len(m.feature.bins)) if bins[k] >= 0 else ()
        helpful = [j for j in span if (j > bins[k]) == (m.direction.value == "up") and j != bins[k]]
        per_feature.append([None, *(j for j in helpful if m.targets[j] is not None)])
    best = None
    for combo in itertools.product(*per_feature):
        moved = dict(row)
        cost = 0
        for k, j in enumerate(combo):
            if j is not None:
                m = solver.movables[k]
                moved[m.feature.field] = m.targets[j]
                cost += m.feature.cost * abs(j - bins[k])
        if card_score(features, pairs, moved) - now >= need and (best is None or cost < best):
            best = cost
    choice = solver.solve(bins, need, cells)
    if best is None:
        assert choice is None
        return
    assert choice is not None
    moved, cost = dict(row), 0
    for k, j in choice:
        m = solver.movables[k]
        moved[m.feature.field] = m.targets[j]
        cost += m.feature.cost * abs(j - bins[k])
    assert card_score(features, pairs, moved) - now >= need
    assert cost == best
