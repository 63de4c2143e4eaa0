"""What would help a score factor, and by how much: the nearest value worth more points.

A factor reason used to show its best bin's edge as if it were a requirement ("spend >=
6,582.55 yuan"); a scorecard has no requirement per feature, only points. So the text names
the nearest helpful value (the first bin the helpful way that is worth more) and the points it
adds: "raising your spending from 1,000 to 1,208.73 would add 8 points". A field the user moves
gets "raise"/"lower" with the value on the field's grid (``score_recourse.bin_target``); a field
that time moves (account age) gets "grows"; anything else (categories, a field nobody can move)
gets no advice, only the reason itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from creditgate.decision import jsonable
from creditgate.explain.score_recourse import bin_target
from creditgate.features import DerivedField
from creditgate.policy.nodes import ScoreFeature
from creditgate.schema import PROFILE_FIELDS, Direction

Advice = Callable[[Any], tuple[Any, int] | None]  # observed -> (nearest helpful value, gain)


def bin_of(feature: ScoreFeature, value: Any) -> int | None:
    """The bin a value falls in, as ``policy.lower.bin_expr`` decides (None: missing/unseen)."""
    if value is None:
        return None
    for i, b in enumerate(feature.bins):
        if b.categories:
            if value in b.categories:
                return i
        elif b.upper is None or value < b.upper:
            return i
    return None


def nearest_better(feature: ScoreFeature, current: int, direction: Direction) -> int | None:
    """The first bin the helpful way worth more points than ``current``."""
    points = feature.bins[current].points
    span = (
        range(current + 1, len(feature.bins))
        if direction is Direction.UP
        else range(current - 1, -1, -1)
    )
    return next((j for j in span if feature.bins[j].points > points), None)


def factor_help(feature: ScoreFeature, derived: Mapping[str, DerivedField]) -> tuple[str, Advice]:
    """The help message key ("raise", "lower", "grows"; "" for none) of one scored feature and
    its advice: ``observed -> (value, points)`` or None. The advice per bin is worked out here,
    once: a call finds the bin (a short scan)."""
    if any(b.categories for b in feature.bins):
        return "", lambda _: None
    spec = PROFILE_FIELDS.get(feature.field)
    if spec is not None and spec.direction in (Direction.UP, Direction.DOWN):
        direction = spec.direction
        key = "raise" if direction is Direction.UP else "lower"

        def target(j: int) -> Any:
            return bin_target(feature, j, direction)

    elif (d := derived.get(feature.field)) is not None and d.time_start and d.unit:
        direction, key = Direction.UP, "grows"  # time only ever adds to a duration

        def target(j: int) -> Any:
            return feature.bins[j].lower

    else:
        return "", lambda _: None
    helps: list[tuple[Any, int] | None] = []
    for current in range(len(feature.bins)):
        better = nearest_better(feature, current, direction)
        to = None if better is None else target(better)
        if better is None or to is None:
            helps.append(None)
        else:
            gain = feature.bins[better].points - feature.bins[current].points
            helps.append((jsonable(to), gain))

    def advice(observed: Any) -> tuple[Any, int] | None:
        current = bin_of(feature, observed)
        return None if current is None else helps[current]

    return key, advice
