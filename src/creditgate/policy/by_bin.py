"""A value per scorecard bin, as one CASE on the feature's ``bin.<name>`` binding.

The points (``lower``) and each factor's shortfall key (``reason_order``) are both read
this way, so they can never disagree on which bin earns what.
"""

from __future__ import annotations

from collections.abc import Callable

from creditgate.policy.bindings import BinIndex, Scope
from creditgate.policy.nodes import Case, CmpOp, Compare, Expr, Literal, ScoreFeature

MISSING_BIN = -1  # the bin index of a missing value or an unseen category
SPECIAL_BIN = -2  # the bin index of one of a trained card's special values


def by_points(scope: Scope, feature: ScoreFeature, value: Callable[[int], Expr]) -> Expr:
    """``value(points)`` of the feature's bin (a CASE on ``bin.<feature>``); special values
    take ``value(special_points)``, missing values and unseen categories
    ``value(missing_points)``."""
    index = scope.ref(BinIndex(feature.name))
    whens = [
        (Compare(CmpOp.EQ, index, Literal(i)), value(b.points)) for i, b in enumerate(feature.bins)
    ]
    if feature.special_values:
        whens.append(
            (Compare(CmpOp.EQ, index, Literal(SPECIAL_BIN)), value(feature.special_points))
        )
    return Case(tuple(whens), value(feature.missing_points))
