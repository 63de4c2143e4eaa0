"""Discrimination and stability metrics in plain numpy (monitoring must not need sklearn).

Scores are "higher is better"; ``bad`` is 1 for a default. AUC is the probability that a
random good outscores a random bad (ties count half), Gini ``2 AUC - 1``, KS the largest gap
between the bads' and goods' score CDFs. PSI/CSI compare two distributions over fixed buckets.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]
EPS = 1e-6


def auc(bad: npt.ArrayLike, score: npt.ArrayLike) -> float:
    """Mann-Whitney AUC of ``score`` separating goods (high) from bads (low)."""
    y = np.asarray(bad, dtype=bool)
    s = np.asarray(score, dtype=np.float64)
    n_bad, n_good = int(y.sum()), int((~y).sum())
    if n_bad == 0 or n_good == 0:
        return float("nan")
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s), dtype=np.float64)
    sorted_s = s[order]
    # average ranks for ties
    _, first, counts = np.unique(sorted_s, return_index=True, return_counts=True)
    avg = first + (counts - 1) / 2.0 + 1.0
    ranks[order] = np.repeat(avg, counts)
    good_rank_sum = ranks[~y].sum()
    return float((good_rank_sum - n_good * (n_good + 1) / 2.0) / (n_good * n_bad))


def ks(bad: npt.ArrayLike, score: npt.ArrayLike) -> float:
    """Largest vertical gap between the bads' and the goods' cumulative score distributions."""
    y = np.asarray(bad, dtype=bool)
    s = np.asarray(score, dtype=np.float64)
    if y.all() or not y.any():
        return float("nan")
    grid = np.unique(s)
    cdf_bad = np.searchsorted(np.sort(s[y]), grid, side="right") / y.sum()
    cdf_good = np.searchsorted(np.sort(s[~y]), grid, side="right") / (~y).sum()
    return float(np.max(np.abs(cdf_bad - cdf_good)))


def discrimination(bad: npt.ArrayLike, score: npt.ArrayLike) -> dict[str, float]:
    a = auc(bad, score)
    return {"auc": round(a, 6), "gini": round(2 * a - 1, 6), "ks": round(ks(bad, score), 6)}


def quantile_edges(values: npt.ArrayLike, buckets: int = 10) -> Array:
    """Inner bucket edges from the baseline's quantiles (duplicates dropped)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return np.array([], dtype=np.float64)
    return np.unique(np.quantile(v, np.linspace(0, 1, buckets + 1)[1:-1]))


def shares(labels: npt.ArrayLike, categories: npt.ArrayLike) -> Array:
    lab = np.asarray(labels)
    cats = np.asarray(categories)
    counts = np.array([(lab == c).sum() for c in cats], dtype=np.float64)
    return counts / max(len(lab), 1)


def psi_from_shares(expected: Array, actual: Array) -> float:
    e = np.clip(expected, EPS, None)
    a = np.clip(actual, EPS, None)
    return float(np.sum((a - e) * np.log(a / e)))


def psi(baseline: npt.ArrayLike, current: npt.ArrayLike, buckets: int = 10) -> float:
    """PSI of a numeric variable over the baseline's quantile buckets (NaN is its own bucket)."""
    b = np.asarray(baseline, dtype=np.float64)
    c = np.asarray(current, dtype=np.float64)
    edges = quantile_edges(b, buckets)

    def bucket(x: Array) -> Array:
        out = np.searchsorted(edges, x, side="right").astype(np.float64)
        out[~np.isfinite(x)] = -1
        return out

    cats = np.arange(-1, len(edges) + 1)
    return psi_from_shares(shares(bucket(b), cats), shares(bucket(c), cats))


def csi(baseline_bins: npt.ArrayLike, current_bins: npt.ArrayLike) -> float:
    """Characteristic stability: PSI over a feature's scorecard bins (index per row)."""
    b, c = np.asarray(baseline_bins), np.asarray(current_bins)
    cats = np.union1d(np.unique(b), np.unique(c))
    return psi_from_shares(shares(b, cats), shares(c, cats))
