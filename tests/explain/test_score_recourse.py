"""The score recourse is exact: its cost equals a brute-force search's on small cards."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from creditgate.explain.score_recourse import ScoreRecourse
from creditgate.policy.nodes import Bin, ScoreFeature

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
