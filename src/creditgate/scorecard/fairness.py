"""Fairness audit of a card over protected attributes that are never model inputs.

Per group of an audit column: approval rate at the cutoff (score >= cutoff is approved), the
adverse-impact ratio against the most approved group (four-fifths rule: a ratio under 0.8 is
adverse impact) with a 95% confidence interval by the delta method on the log of the ratio of
two independent proportions, ``var(log r) = (1-p1)/(n1 p1) + (1-p0)/(n0 p0)``; and when the
outcome is known, AUC and calibration (mean modelled PD vs observed bad rate). The features
driving a gap are those whose mean points differ most between the group and the reference.
Plain numpy (``monitor`` runs next to serving, without the trainer).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from creditgate.scorecard.artifact import Artifact, CardFeature
from creditgate.scorecard.metrics import auc

Z95 = 1.959964
FOUR_FIFTHS = 0.8
MISSING_GROUP = "(missing)"


@dataclass(frozen=True, slots=True)
class GroupFigures:
    group: str
    rows: int
    approval_rate: float
    impact_ratio: float  # approval rate / the reference group's
    impact_low: float  # 95% CI (delta method on log ratio)
    impact_high: float
    adverse: bool  # ratio below four-fifths
    auc: float | None = None  # None without outcomes or with one class only
    bad_rate: float | None = None
    mean_pd: float | None = None
    drivers: tuple[tuple[str, float], ...] = ()  # (column, mean points vs the reference)


@dataclass(frozen=True, slots=True)
class ColumnAudit:
    column: str
    cutoff: float
    reference: str  # the most approved group
    groups: tuple[GroupFigures, ...]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for g in data["groups"]:
            g["drivers"] = [{"column": c, "points": p} for c, p in g["drivers"]]
        return data


def impact_interval(
    approved: int, rows: int, ref_approved: int, ref_rows: int
) -> tuple[float, float, float]:
    """(ratio, low, high) of two approval proportions; delta method on ``log(ratio)``.
    A zero count has no log: the ratio is 0 (or inf) with an unbounded interval side."""
    p1, p0 = approved / rows, ref_approved / ref_rows
    if p0 == 0:
        return (1.0, 0.0, math.inf) if p1 == 0 else (math.inf, 0.0, math.inf)
    ratio = p1 / p0
    if p1 == 0:
        return 0.0, 0.0, math.inf
    se = math.sqrt((1 - p1) / (rows * p1) + (1 - p0) / (ref_rows * p0))
    return ratio, ratio * math.exp(-Z95 * se), ratio * math.exp(Z95 * se)


def group_labels(values: npt.ArrayLike) -> npt.NDArray[np.str_]:
    """Group per row as text; NULL/NaN is its own group."""
    out = []
    for v in np.asarray(values, dtype=object):
        missing = v is None or (isinstance(v, float) and math.isnan(v))
        out.append(MISSING_GROUP if missing else str(v))
    return np.asarray(out, dtype=str)


def audit_column(
    column: str,
    groups: npt.ArrayLike,
    scores: npt.ArrayLike,
    cutoff: float,
    points: Mapping[str, npt.ArrayLike],
    pd_: npt.ArrayLike | None = None,
    bad: npt.ArrayLike | None = None,
    top: int = 3,
) -> ColumnAudit:
    """Every figure for one audit column; ``points`` is each scored column's points per row."""
    labels = group_labels(groups)
    s = np.asarray(scores, dtype=np.float64)
    approved = s >= cutoff
    cols = {c: np.asarray(v, dtype=np.float64) for c, v in points.items()}
    names = sorted(np.unique(labels).tolist())
    rates = {g: float(approved[labels == g].mean()) for g in names}
    reference = max(names, key=lambda g: (rates[g], (labels == g).sum()))
    ref = labels == reference
    figures = []
    for g in names:
        mask = labels == g
        ratio, low, high = impact_interval(
            int(approved[mask].sum()), int(mask.sum()), int(approved[ref].sum()), int(ref.sum())
        )
        gap = {c: float(v[mask].mean() - v[ref].mean()) for c, v in cols.items()}
        drivers = tuple(
            (c, round(d, 3)) for c, d in sorted(gap.items(), key=lambda kv: kv[1])[:top] if d < 0
        )
        extra: dict[str, Any] = {}
        if bad is not None and pd_ is not None:
            y = np.asarray(bad, dtype=np.float64)[mask]
            a = auc(y, s[mask])
            extra = {
                "auc": None if math.isnan(a) else round(a, 6),
                "bad_rate": round(float(y.mean()), 6),
                "mean_pd": round(float(np.asarray(pd_, dtype=np.float64)[mask].mean()), 6),
            }
        figures.append(
            GroupFigures(
                group=g,
                rows=int(mask.sum()),
                approval_rate=round(rates[g], 6),
                impact_ratio=round(ratio, 6),
                impact_low=round(low, 6),
                impact_high=round(high, 6),
                adverse=ratio < FOUR_FIFTHS,
                drivers=drivers,
                **extra,
            )
        )
    return ColumnAudit(column, float(cutoff), reference, tuple(figures))


def default_cutoff(scores: npt.ArrayLike, bad: npt.ArrayLike) -> float:
    """Without a policy cutoff: the score that approves as many rows as were good."""
    s = np.asarray(scores, dtype=np.float64)
    good_share = 1.0 - float(np.asarray(bad, dtype=np.float64).mean())
    return float(np.quantile(s, 1.0 - good_share, method="lower"))


def feature_points(index: npt.ArrayLike, feature: CardFeature) -> npt.NDArray[np.float64]:
    """Points per row from a feature's bin index (-1 missing/unseen, -2 special)."""
    lookup = np.asarray([b.points for b in feature.bins], dtype=np.float64)
    i = np.asarray(index, dtype=np.int64)
    out = np.where(i == -2, float(feature.special_points), float(feature.missing_points))
    known = i >= 0
    out[known] = lookup[i[known]]
    return out


def audit_card(
    card: Artifact, table: pa.Table, columns: Sequence[str], cutoff: float | None = None
) -> list[ColumnAudit]:
    """Audit ``columns`` of ``table`` for ``card``; AUC and calibration when the card's
    target is in the table. Without ``cutoff``: ``default_cutoff`` (needs the target)."""
    from creditgate.policy.lower import pd_scale
    from creditgate.scorecard.scoring import bins_matrix

    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise ValueError(f"audit column(s) not in the data: {', '.join(missing)}")
    used = [c for c in columns if c in card.columns]
    if used:
        raise ValueError(f"audit column(s) are model inputs: {', '.join(used)}")
    # bins_matrix yields each feature's bin index in card order, then the score
    result = list(bins_matrix(table, card))
    indices = [np.asarray(arr.to_numpy(zero_copy_only=False)) for _, arr in result]
    scores = indices[-1].astype(np.float64)
    points = {f.column: feature_points(indices[i], f) for i, f in enumerate(card.features)}
    offset, scale = pd_scale(card.scaling)
    pd_ = 1.0 / (1.0 + np.exp((scores - offset) / scale))
    bad = None
    if card.target in table.column_names:
        target = table.column(card.target).to_pylist()
        bad = np.asarray([_is_bad(v, card.bad_value) for v in target], dtype=np.float64)
    if cutoff is None:
        if bad is None:
            raise ValueError("a cutoff is needed when the data has no outcome column")
        cutoff = default_cutoff(scores, bad)
    return [
        audit_column(
            c,
            table.column(c).to_pylist(),
            scores,
            cutoff,
            points,
            pd_ if bad is not None else None,
            bad,
        )
        for c in columns
    ]


def _is_bad(value: Any, bad: str) -> bool:
    """As ``train.bad_labels``: compared as text, so ``1`` matches 1 and 1.0."""
    if value is None:
        return False
    if str(value) == bad:
        return True
    try:
        return float(value) == float(bad)
    except (TypeError, ValueError):
        return False
