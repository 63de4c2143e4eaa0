"""A value per scorecard bin, as one CASE on the feature's ``bin.<name>`` binding.

The points (``lower``) and each factor's shortfall key (``reason_order``) are both read
this way, so they can never disagree on which bin earns what.
"""

from __future__ import annotations

from collections.abc import Callable

from creditgate.policy.nodes import Case, CmpOp, Compare, Expr, Literal, Ref, ScoreFeature


def by_points(feature: ScoreFeature, value: Callable[[int], Expr]) -> Expr:
    """``value(points)`` of the feature's bin (a CASE on ``bin.<feature>``); missing values
    and unseen categories take ``value(missing_points)``."""
    index = Ref(f"bin.{feature.name}")
    return Case(
        tuple(
            (Compare(CmpOp.EQ, index, Literal(i)), value(b.points))
            for i, b in enumerate(feature.bins)
        ),
        value(feature.missing_points),
    )
