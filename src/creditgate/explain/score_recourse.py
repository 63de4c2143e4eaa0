"""Exact, cheapest recourse over an additive scorecard.

Moving a feature from bin ``i`` to bin ``j`` gains ``points[j] - points[i]`` and costs
``feature.cost * |j - i|``. The cheapest set of moves whose gains reach the shortfall is a
multiple-choice knapsack; with integer costs a DP over total cost is exact: ``best[c]`` is the
largest gain any choice of moves costing exactly ``c`` can reach. Ties go to the larger gain,
then to fewer features. Only fields the user can change, in their helpful direction, move;
time-driven fields (account age) are handled by re-scoring at the gates' latest ETA instead.
Results are cached by (current bins, shortfall): populations repeat the same bin vectors.

Pairwise tables (``ScorePair``) make the score non-additive in their two features, so the
features a pair joins form one *group*: its options are every joint choice of its features'
moves (staying put included), each gaining its 1-D points plus the change of every table in
the group at the cells the targets fall in (``axis_index`` of the target value; a feature that
stays keeps its current cell). Groups are independent, so the same DP over groups stays exact.
A group keeps, per cost, only its best gain (then fewest features), the DP's own rule. Its
enumeration is the product of its features' moves (two features of 20 and 30 bins: 651 joint
choices per distinct problem), so chains of many pairs over fine bins cost more.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

from creditgate.policy.by_bin import MISSING_BIN, SPECIAL_BIN
from creditgate.policy.nodes import PairAxis, ScoreFeature, ScorePair
from creditgate.schema import PROFILE_FIELDS, Direction, FieldSpec

Specs = Mapping[str, FieldSpec]

Move = tuple[int, int, int]  # (feature position, target bin, cost)
Choice = tuple[tuple[int, int], ...]  # (movable index, target bin) per moved feature
Option = tuple[Choice, int, int]  # (moves, gain, cost) of one group


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


def axis_index(axis: PairAxis | ScoreFeature, value: Any) -> int:
    """The bin of a pair's axis ``value`` falls in, as the lowered ``pairbin`` computes it."""
    if value is None:
        return MISSING_BIN
    if axis.special_values and value in axis.special_values:
        return SPECIAL_BIN
    for i, b in enumerate(axis.bins):
        if b.categories:
            if str(value) in b.categories:
                return i
        elif b.upper is None or value < b.upper:
            return i
    return MISSING_BIN


class ScoreRecourse:
    """``solve(bins, need, cells)`` -> the cheapest moves as (movable index, target bin), or
    None. ``cells`` holds each pair's current axis indices, flattened (``pairbin.<pair>.0``,
    ``.1`` per pair in order); a card without pairs passes none."""

    def __init__(
        self,
        features: tuple[ScoreFeature, ...],
        specs: Specs = PROFILE_FIELDS,
        pairs: tuple[ScorePair, ...] = (),
    ) -> None:
        self.movables = movables(features, specs)
        self.pairs = pairs
        self.groups = self._groups()
        self.solve = lru_cache(maxsize=65536)(self._solve)
        self.frontier = lru_cache(maxsize=65536)(self._frontier)

    def _groups(self) -> tuple[tuple[tuple[int, ...], tuple[int, ...]], ...]:
        """(movable indices, pair indices) per group: features joined by a pair move together;
        a pair with one movable feature belongs to its group (the other stays put)."""
        at = {m.feature.name: k for k, m in enumerate(self.movables)}
        parent = list(range(len(self.movables)))

        def root(k: int) -> int:
            while parent[k] != k:
                k = parent[k]
            return k

        ends = [[at[a.feature] for a in p.axes if a.feature in at] for p in self.pairs]
        for found in ends:
            if len(found) == 2:
                parent[root(found[1])] = root(found[0])
        members: dict[int, list[int]] = {}
        for k in range(len(self.movables)):
            members.setdefault(root(k), []).append(k)
        groups = []
        for ks in sorted(members.values()):
            joined = tuple(
                i for i, found in enumerate(ends) if found and root(found[0]) == root(ks[0])
            )
            groups.append((tuple(ks), joined))
        return tuple(groups)

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

    def group_options(
        self, ks: tuple[int, ...], joined: tuple[int, ...], bins: tuple[int, ...], cells: Any
    ) -> list[Option]:
        """Every joint choice of a group's moves that gains points, best gain per cost."""
        if not joined:  # one feature, additive: its own moves
            (k,) = ks
            return [(((k, j),), g, c) for j, g, c in self.options(self.movables[k], bins[k])]
        per: list[list[int | None]] = []
        for k in ks:
            m, cur = self.movables[k], bins[k]
            if m.direction is Direction.UP:
                span: range = range(cur + 1, len(m.feature.bins))
            else:
                span = range(cur - 1, -1, -1)
            targets = [j for j in span if m.targets[j] is not None] if cur >= 0 else []
            per.append([None, *targets])
        names = [self.movables[k].feature.name for k in ks]
        # per joined pair, per axis: the group position of its feature (None: it stays put)
        sides = [
            [names.index(a.feature) if a.feature in names else None for a in self.pairs[p].axes]
            for p in joined
        ]
        now = sum(self.pairs[p].at(cells[2 * p], cells[2 * p + 1]) for p in joined)
        best: dict[int, tuple[int, int, Choice]] = {}
        for combo in itertools.product(*per):
            moved = tuple((k, j) for k, j in zip(ks, combo, strict=True) if j is not None)
            if not moved:
                continue
            gain = cost = 0
            for k, j in moved:
                m, cur = self.movables[k], bins[k]
                gain += m.feature.bins[j].points - m.feature.bins[cur].points
                cost += m.feature.cost * abs(j - cur)
            for p, side in zip(joined, sides, strict=True):
                pair = self.pairs[p]
                cell = [cells[2 * p], cells[2 * p + 1]]
                for axis_at, pos in enumerate(side):
                    target = combo[pos] if pos is not None else None
                    if pos is not None and target is not None:
                        value = self.movables[ks[pos]].targets[target]
                        cell[axis_at] = axis_index(pair.axes[axis_at], value)
                gain += pair.at(cell[0], cell[1])
            gain -= now
            old = best.get(cost)
            if gain > 0 and (old is None or (gain, -len(moved)) > old[:2]):
                best[cost] = (gain, -len(moved), moved)
        return [(moved, gain, cost) for cost, (gain, _, moved) in sorted(best.items())]

    def _solve(
        self, bins: tuple[int, ...], need: int, cells: tuple[int, ...] = ()
    ) -> tuple[tuple[int, int], ...] | None:
        if need <= 0:
            return ()
        for gain, choice in self.frontier(bins, cells):
            if gain >= need:
                return choice
        return None

    def _frontier(
        self, bins: tuple[int, ...], cells: tuple[int, ...] = ()
    ) -> tuple[tuple[int, Choice], ...]:
        """Every cheapest way to gain more points from ``bins``: (gain, choice) by rising cost
        and rising gain. It does not depend on the points needed, so a population's many
        shortfalls on the same bins share one DP (``solve`` takes the first that suffices)."""
        # best[cost] = (gain, -features, choice) for the best choice costing exactly ``cost``
        best: dict[int, tuple[int, int, tuple[tuple[int, int], ...]]] = {0: (0, 0, ())}
        for ks, joined in self.groups:
            opts = self.group_options(ks, joined, bins, cells)
            if not opts:
                continue
            merged = dict(best)
            for cost, (gain, nfeat, choice) in best.items():
                for moves, g, c in opts:
                    cand = (gain + g, nfeat - len(moves), (*choice, *moves))
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
                frontier.append((gain, tuple(sorted(choice))))  # groups may interleave
        return tuple(frontier)
