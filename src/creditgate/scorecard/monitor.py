"""Drift between a baseline and a current population for one trained card.

Score PSI over the baseline's score deciles; CSI per feature over the card's own bins (the
bins are what the score sees, so a shift inside one bin does not matter). Pure numpy/Arrow:
monitoring runs next to serving, without the trainer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from creditgate.policy.bindings import BinIndex, Fixed
from creditgate.scorecard.artifact import Artifact
from creditgate.scorecard.metrics import csi, psi
from creditgate.scorecard.scoring import bins_matrix


@dataclass(frozen=True, slots=True)
class Drift:
    score_psi: float
    csi: dict[str, float]

    def over(self, threshold: float) -> list[str]:
        """Names of what drifted: ``score`` and/or columns."""
        found = ["score"] if self.score_psi > threshold else []
        return found + [c for c, v in self.csi.items() if v > threshold]


def bins_and_scores(table: pa.Table, card: Artifact) -> dict[str, npt.NDArray[np.int64]]:
    return {
        name: np.asarray(arr.to_numpy(zero_copy_only=False), dtype=np.int64)
        for name, arr in bins_matrix(table, card)
    }


def drift(baseline: pa.Table, current: pa.Table, card: Artifact) -> Drift:
    b, c = bins_and_scores(baseline, card), bins_and_scores(current, card)
    bins = {f.column: BinIndex(f.name).column for f in card.features}
    per_feature = {column: round(csi(b[at], c[at]), 6) for column, at in bins.items()}
    score = Fixed.SCORE.column
    return Drift(round(psi(b[score], c[score]), 6), per_feature)
