"""Exact, cheapest recourse over an additive scorecard.

Moving a feature from bin ``i`` to bin ``j`` gains ``points[j] - points[i]`` and costs
``feature.cost * |j - i|``. The cheapest set of moves whose gains reach the shortfall is a
multiple-choice knapsack; with integer costs a DP over total cost is exact: ``best[c]`` is the
largest gain any choice of moves costing exactly ``c`` can reach. Ties go to the larger gain,
then to fewer features. Only fields the user can change, in their helpful direction, move;
time-driven fields (account age) are handled by re-scoring at the gates' latest ETA instead.
Results are cached by (current bins, shortfall): populations repeat the same bin vectors.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

from creditgate.policy.nodes import ScoreFeature
from creditgate.schema import PROFILE_FIELDS, Direction, FieldSpec

Specs = Mapping[str, FieldSpec]

Move = tuple[int, int, int]  # (feature position, target bin, cost)
Choice = tuple[tuple[int, int], ...]  # (movable index, target bin) per moved feature


@dataclass(frozen=True, slots=True)
class Movable:
    """A scorecard feature whose field the user can move, with the per-bin target values."""

    position: int
    feature: ScoreFeature
    direction: Direction
    targets: tuple[Any, ...]  # per bin: the value to reach it from the helpful side, or None

    @property
    def message(self) -> str:
        """The recourse message key of a move: "raise" or "lower"."""
        return "raise" if self.direction is Direction.UP else "lower"


def bin_target(
    feature: ScoreFeature, j: int, direction: Direction, specs: Specs = PROFILE_FIELDS
) -> Any:
    """A value inside bin ``j`` approached from below (UP) or above (DOWN); None if none."""
    spec = specs[feature.field]
    b = feature.bins[j]
    if direction is Direction.UP:
        value: Any = b.lower if b.lower is not None else spec.ge
    else:
        if b.upper is None:
            value = spec.le if b.lower is None else max(b.lower, spec.le or b.lower)
        else:
            value = b.upper - type(b.upper)(spec.resolution)  # type: ignore[operator]
            if b.lower is not None and value < b.lower:
                return None
    if value is None:
        return None
    if spec.type is Decimal:
        value = Decimal(str(value)).quantize(Decimal(str(spec.resolution)))
    elif spec.type is int:
        value = int(value) if float(value).is_integer() else int(value) + 1
    else:
        value = round(float(value), 6)
    if (spec.ge is not None and value < spec.ge) or (spec.le is not None and value > spec.le):
        return None
    return value


def movables(
    features: tuple[ScoreFeature, ...], specs: Specs = PROFILE_FIELDS
) -> tuple[Movable, ...]:
    """Features the user can move. ``specs`` gives each field's type, range and helpful
    direction: the profile contract for a policy, the training artefact for a trained card."""
    out: list[Movable] = []
    for position, feature in enumerate(features):
        spec = specs.get(feature.field)
        if spec is None or spec.direction not in (Direction.UP, Direction.DOWN):
            continue
        if any(b.categories for b in feature.bins):
            continue
        targets = tuple(
            bin_target(feature, j, spec.direction, specs) for j in range(len(feature.bins))
        )
        out.append(Movable(position, feature, spec.direction, targets))
    return tuple(out)


class ScoreRecourse:
    """``solve(bins, need)`` -> the cheapest moves as (movable index, target bin), or None."""

    def __init__(self, features: tuple[ScoreFeature, ...], specs: Specs = PROFILE_FIELDS) -> None:
        self.movables = movables(features, specs)
        self.solve = lru_cache(maxsize=65536)(self._solve)
        self.frontier = lru_cache(maxsize=65536)(self._frontier)

    def options(self, m: Movable, current: int) -> list[tuple[int, int, int]]:
        """(target bin, gain, cost) for every helpful move of one feature."""
        if current < 0:
            return []
        points = [b.points for b in m.feature.bins]
        span = (
            range(current + 1, len(points))
            if m.direction is Direction.UP
            else range(current - 1, -1, -1)
        )
        return [
            (j, points[j] - points[current], m.feature.cost * abs(j - current))
            for j in span
            if points[j] > points[current] and m.targets[j] is not None
        ]

    def _solve(self, bins: tuple[int, ...], need: int) -> tuple[tuple[int, int], ...] | None:
        if need <= 0:
            return ()
        for gain, choice in self.frontier(bins):
            if gain >= need:
                return choice
        return None

    def _frontier(self, bins: tuple[int, ...]) -> tuple[tuple[int, Choice], ...]:
        """Every cheapest way to gain more points from ``bins``: (gain, choice) by rising cost
        and rising gain. It does not depend on the points needed, so a population's many
        shortfalls on the same bins share one DP (``solve`` takes the first that suffices)."""
        # best[cost] = (gain, -features, choice) for the best choice costing exactly ``cost``
        best: dict[int, tuple[int, int, tuple[tuple[int, int], ...]]] = {0: (0, 0, ())}
        for k, m in enumerate(self.movables):
            opts = self.options(m, bins[k])
            if not opts:
                continue
            merged = dict(best)
            for cost, (gain, nfeat, choice) in best.items():
                for j, g, c in opts:
                    cand = (gain + g, nfeat - 1, (*choice, (k, j)))
                    old = merged.get(cost + c)
                    if old is None or cand[:2] > old[:2]:
                        merged[cost + c] = cand
            best = merged
        frontier: list[tuple[int, Choice]] = []
        for cost in sorted(best):
            # among choices of this cost, ``best`` holds the largest gain, fewest features; a
            # dearer choice that gains no more is never the first to suffice
            gain, _, choice = best[cost]
            if not frontier or gain > frontier[-1][0]:
                frontier.append((gain, choice))
        return tuple(frontier)
