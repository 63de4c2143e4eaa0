"""What each pairwise table adds: AUC of the card with its pairs added one at a time.

Pairs are opt-in (``train --pairs N``), so the report must say whether they earn their keep.
The card is scored once through its lowered program (``pairpoints.<pair>`` beside ``score``);
removing a pair is subtracting its points, so the figures are the exported card's own, in
the order the pairs were ranked, on the held-out rows when there are any.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from creditgate.policy.bindings import Fixed, PairPoints
from creditgate.scorecard.artifact import Artifact
from creditgate.scorecard.lowering import lower_card
from creditgate.scorecard.metrics import auc
from creditgate.scorecard.scoring import RowEngine, conform


def pair_gains(
    card: Artifact, frame: pd.DataFrame, bad: npt.NDArray[Any], held_out: bool
) -> dict[str, Any]:
    """``{"on", "rows", "auc_without_pairs", "auc_with_pairs", "added": [...]}``; each entry
    of ``added`` is one pair, in order: AUC before and after adding it, and the difference."""
    table = pa.Table.from_pandas(frame[list(card.columns)], preserve_index=False)
    outputs = [Fixed.SCORE.column, *(PairPoints(p.name).column for p in card.pairs)]
    values = RowEngine().evaluate(lower_card(card), conform(table, card), outputs)
    score = np.asarray(values[outputs[0]].to_numpy(zero_copy_only=False), dtype=np.float64)
    parts = [
        np.asarray(values[o].to_numpy(zero_copy_only=False), dtype=np.float64) for o in outputs[1:]
    ]
    running = score - sum(parts, np.zeros(len(score)))
    before = round(auc(bad, running), 6)
    start = before
    added = []
    for pair, points in zip(card.pairs, parts, strict=True):
        running = running + points
        after = round(auc(bad, running), 6)
        added.append(
            {
                "pair": pair.name,
                "features": [a.feature for a in pair.axes],
                "cells": f"{len(pair.points)} x {len(pair.points[0])}",
                "auc_without": before,
                "auc_with": after,
                "delta": round(after - before, 6),
            }
        )
        before = after
    return {
        "on": "held-out" if held_out else "training",
        "rows": len(score),
        "auc_without_pairs": start,
        "auc_with_pairs": before,
        "added": added,
    }
