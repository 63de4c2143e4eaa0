"""Reasons and exact recourse for a trained card, one user or a whole table at once.

Principal factors: the scored features with the largest shortfall against their best bin (at
most 4), as ``explain.reasons`` does for a policy's card. Recourse: the cheapest set of bin
moves lifting the score to the cutoff (``explain.score_recourse``'s exact DP), moving only
features whose helpful direction the artefact knows (monotonic trend, or the contract).

Batch: a population repeats a few thousand bin vectors, so rows are grouped by (bin vector,
shortfall) with ``numpy.unique`` and each distinct problem is solved once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from creditgate.explain.score_recourse import ScoreRecourse
from creditgate.scorecard.artifact import Artifact
from creditgate.scorecard.lowering import MISSING, SPECIAL

MAX_FACTORS = 4


@dataclass(frozen=True, slots=True)
class Step:
    """Move ``column`` into the bin worth ``points``: reach the value ``to``."""

    column: str
    factor: str
    from_bin: int
    to_bin: int
    to: Any
    gain: int


@dataclass(frozen=True, slots=True)
class Factor:
    column: str
    factor: str
    shortfall: int


def bin_points(card: Artifact, k: int, index: int) -> int:
    f = card.features[k]
    if index == MISSING:
        return f.missing_points
    if index == SPECIAL:
        return f.special_points
    return f.bins[index].points


def principal_factors(card: Artifact, bins: tuple[int, ...]) -> list[Factor]:
    """Scored features furthest below their best bin, largest shortfall first (at most 4)."""
    gaps = []
    for k, f in enumerate(card.features):
        gap = f.best_points - bin_points(card, k, bins[k])
        if gap > 0:
            gaps.append((gap, k))
    gaps.sort(key=lambda g: (-g[0], g[1]))
    return [
        Factor(card.features[k].column, card.features[k].factor, gap)
        for gap, k in gaps[:MAX_FACTORS]
    ]


class CardRecourse:
    """Exact cheapest recourse over a trained card's movable features."""

    def __init__(self, card: Artifact) -> None:
        self.card = card
        self.solver = ScoreRecourse(card.to_features(), card.field_specs(), card.to_pairs())
        self.positions = [m.position for m in self.solver.movables]

    def solve(
        self, bins: tuple[int, ...], need: int, cells: tuple[int, ...] = ()
    ) -> list[Step] | None:
        """Steps for one user (``bins`` over all card features; ``cells``: each pair's axis
        indices, ``pairbin.<pair>.0``, ``.1``, in order); None when unreachable."""
        sub = tuple(bins[p] for p in self.positions)
        choice = self.solver.solve(sub, need, cells)
        if choice is None:
            return None
        steps = []
        for k, j in choice:
            m = self.solver.movables[k]
            f = self.card.features[m.position]
            current = bins[m.position]
            gain = f.bins[j].points - bin_points(self.card, m.position, current)
            steps.append(Step(f.column, f.factor, current, j, m.targets[j], gain))
        return steps

    def solve_batch(
        self,
        bins: npt.NDArray[np.int64],
        scores: npt.NDArray[np.int64],
        cutoff: int,
        cells: npt.NDArray[np.int64] | None = None,
    ) -> list[list[Step] | None]:
        """Per row: [] when the score already passes, the steps, or None if unreachable.
        ``cells``: per row, each pair's axis indices (a card with pairs needs them)."""
        need = np.maximum(cutoff - scores, 0).astype(np.int64)
        pair_cells = cells if cells is not None else np.zeros((len(need), 0), dtype=np.int64)
        width = pair_cells.shape[1]
        keys = np.column_stack([bins[:, self.positions], pair_cells, need])
        unique, inverse = np.unique(keys, axis=0, return_inverse=True)
        solved: list[list[Step] | None] = []
        for key in unique:
            if key[-1] <= 0:
                solved.append([])
                continue
            full = [0] * len(self.card.features)
            moved = key[: len(key) - 1 - width]
            for p, b in zip(self.positions, moved, strict=True):
                full[p] = int(b)
            at = tuple(int(c) for c in key[len(key) - 1 - width : -1])
            solved.append(self.solve(tuple(full), int(key[-1]), at))
        return [solved[i] for i in inverse.reshape(-1)]


def explain_rows(
    bins: npt.NDArray[np.int64],
    scores: npt.NDArray[np.int64],
    card: Artifact,
    cutoff: int,
    cells: npt.NDArray[np.int64] | None = None,
) -> tuple[list[str | None], list[str | None]]:
    """Per row below ``cutoff``: principal factors and recourse steps as JSON text (else NULL).

    Recourse is ``[{"field", "to", "factor"}...]``, ``[]`` when no change lifts the score.
    ``cells``: the pairs' axis indices per row (``CardRecourse.solve_batch``).
    """
    steps = CardRecourse(card).solve_batch(bins, scores, cutoff, cells)
    factors: list[str | None] = []
    recourse: list[str | None] = []
    cache: dict[tuple[int, ...], str] = {}
    for i, row_steps in enumerate(steps):
        if scores[i] >= cutoff:
            factors.append(None)
            recourse.append(None)
            continue
        key = tuple(int(b) for b in bins[i])
        if key not in cache:
            found = principal_factors(card, key)
            cache[key] = json.dumps([{"field": f.column, "factor": f.factor} for f in found])
        factors.append(cache[key])
        recourse.append(
            json.dumps(
                [{"field": s.column, "to": s.to, "factor": s.factor} for s in row_steps or ()]
            )
        )
    return factors, recourse
