"""Train a card by cyclic gradient boosting of per-feature shape functions (an additive EBM).

Why: one logistic fit on a few coarse optbinning bins leaves accuracy on the table; an
additive Explainable Boosting Machine (``interpret``, ``interactions=0``) learns a fine shape
per feature and is itself a scorecard. Its shapes are exported as the same plain artefact as
``train.ScorecardTrainer`` (bins, integer points after PDO scaling, missing bins, the
intercept folded into the features), so serving, engines and recourse never see the model.
Monotone constraints are passed to the fit (``monotone_constraints``), not clipped afterwards.
Only this module imports interpret.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from creditgate.policy.nodes import Scaling
from creditgate.schema import PROFILE_FIELDS, Direction
from creditgate.scorecard.artifact import (
    Artifact,
    CardAxis,
    CardBin,
    CardFeature,
    CardPair,
    Excluded,
)
from creditgate.scorecard.columns import choose_columns
from creditgate.scorecard.fairness import feature_points
from creditgate.scorecard.metrics import discrimination
from creditgate.scorecard.train import (
    CONTRACT_FACTORS,
    FactorCodes,
    TrainingError,
    as_model_input,
    bad_labels,
    feature_name,
    trend_direction,
)

METHOD = "boosted"
MAX_ROWS = 150_000  # boosting sees at most this many rows (stratified); export uses all rows
# Outer bags average shapes fitted on bootstrap-like splits: interpret's default (14) where
# variance matters and they are cheap (small data), fewer where the fit time would dominate.
SMALL = 50_000
BAGS_SMALL, BAGS_LARGE = 14, 4
EPS = 0.5


def monotone_sign(direction: Direction) -> int:
    """EBM constraint on the *bad* log-odds: a value that helps when raised must lower it."""
    return {Direction.UP: -1, Direction.DOWN: 1}.get(direction, 0)


def stratified_sample(
    y: np.ndarray[Any, Any], rows: int, seed: int
) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Row indices of a stratified subsample of ``rows`` (all rows when fewer)."""
    if len(y) <= rows:
        return np.arange(len(y), dtype=np.int64)
    rng = np.random.default_rng(seed)
    share = rows / len(y)
    picked = [
        rng.choice(idx, size=max(1, round(len(idx) * share)), replace=False)
        for idx in (np.flatnonzero(y == 0), np.flatnonzero(y == 1))
    ]
    return np.sort(np.concatenate(picked)).astype(np.int64)


def bin_counts(
    bins: np.ndarray[Any, Any], y: np.ndarray[Any, Any], n_bins: int
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Rows and bads per bin index, slot 0 for -1 (missing or unseen): one pass each."""
    rows = np.bincount(bins + 1, minlength=n_bins + 1)
    bads = np.bincount(bins + 1, weights=y, minlength=n_bins + 1).round().astype(np.int64)
    return rows, bads


def information_value(bins: np.ndarray[Any, Any], y: np.ndarray[Any, Any]) -> float:
    """IV over a feature's card bins (each bin index, missing included), smoothed by 0.5."""
    iv = 0.0
    n_bad, n_good = max(int(y.sum()), 1), max(int((1 - y).sum()), 1)
    rows, bads = bin_counts(bins, y, int(bins.max(initial=-1)) + 1)
    for total, bad_rows in zip(rows.tolist(), bads.tolist(), strict=True):
        if total == 0:
            continue
        bad = (bad_rows + EPS) / n_bad
        good = (total - bad_rows + EPS) / n_good
        iv += (good - bad) * math.log(good / bad)
    return iv


class BoostedTrainer:
    """Additive EBM exported to ``artifact_``; same contract as ``train.ScorecardTrainer``.

    ``monotone`` maps a column to ``up`` (raising it may only help) or ``down``; contract
    fields default to the contract's own direction. ``max_rows`` subsamples the boosting (not
    the export) on large data; ``outer_bags`` trades fit time for smoother shapes (default:
    14 up to 50,000 boosting rows, 4 above).
    """

    def __init__(
        self,
        pdo: float = 20.0,
        base_score: float = 600.0,
        base_odds: float = 50.0,
        special_values: Sequence[float] = (),
        include_protected: Sequence[str] = (),
        exclude: Sequence[str] = (),
        immutable: Sequence[str] = (),
        costs: dict[str, int] | None = None,
        factors: FactorCodes = CONTRACT_FACTORS,
        monotone: Mapping[str, str] | None = None,
        outer_bags: int | None = None,
        max_bins: int = 1024,
        max_rows: int = MAX_ROWS,
        n_jobs: int | None = None,
        random_state: int = 0,
        pairs: int = 0,
    ) -> None:
        self.pdo = pdo
        self.base_score = base_score
        self.base_odds = base_odds
        self.special_values = tuple(special_values)
        self.include_protected = tuple(include_protected)
        self.exclude = tuple(exclude)
        self.immutable = tuple(immutable)
        self.costs = dict(costs or {})
        self.factors = factors
        self.monotone = dict(monotone or {})
        self.outer_bags = outer_bags
        self.max_bins = max_bins
        self.max_rows = max_rows
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.pairs = pairs

    # ------------------------------------------------------------------ fit

    def _inputs(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Model input: categories as text; special codes are missing to the booster (they
        score the missing bin's points, since the EBM has no separate special bin)."""
        X = frame[list(self.columns_.features)].copy()  # noqa: N806
        as_model_input(X, self.columns_.categorical)
        if self.special_values:
            for col in X.columns:
                if col not in self.columns_.categorical:
                    X[col] = X[col].where(~X[col].isin(self.special_values))
        return X

    def directions(self) -> dict[str, Direction]:
        """Monotone direction per column: ``--monotone`` first, then the profile contract."""
        out: dict[str, Direction] = {}
        for col in self.columns_.features:
            if col in self.columns_.categorical:
                continue
            if col in self.monotone:
                out[col] = Direction(self.monotone[col])
            elif col in PROFILE_FIELDS:
                out[col] = PROFILE_FIELDS[col].direction
        return out

    def fit(self, frame: pd.DataFrame, target: str, bad: str) -> BoostedTrainer:
        from interpret.glassbox import ExplainableBoostingClassifier

        if target not in frame.columns:
            raise TrainingError(f"target column {target!r} is not in the data")
        y = bad_labels(frame[target], bad)
        choice = choose_columns(frame, target, self.include_protected, self.exclude)
        if not choice.features:
            raise TrainingError("no usable feature columns (all excluded: see --help)")
        for col in [*self.include_protected, *self.monotone]:
            if col not in frame.columns:
                raise TrainingError(f"column {col!r} is not in the data")
        for col, way in self.monotone.items():
            if way not in ("up", "down"):
                raise TrainingError(f"--monotone {col}={way}: expected up or down")
        self.columns_ = choice
        X = self._inputs(frame)  # noqa: N806
        directions = self.directions()
        self.directions_ = directions
        types = ["nominal" if c in choice.categorical else "continuous" for c in choice.features]
        constraints = [monotone_sign(directions.get(c, Direction.NONE)) for c in choice.features]
        rows = stratified_sample(y, self.max_rows, self.random_state)
        self.fit_rows_ = len(rows)
        small = len(rows) <= SMALL
        self.bags_ = self.outer_bags or (BAGS_SMALL if small else BAGS_LARGE)
        # the bags are independent fits: on large data every core takes one (the result does
        # not depend on it: each bag has its own seed); on small data the worker start-up
        # would cost more than it saves
        self.jobs_ = self.n_jobs if self.n_jobs is not None else (1 if small else -1)
        self.model_ = ExplainableBoostingClassifier(
            feature_names=list(choice.features),
            feature_types=types,
            interactions=self.pairs,
            outer_bags=self.bags_,
            max_bins=self.max_bins,
            monotone_constraints=constraints if any(constraints) else None,
            n_jobs=self.jobs_,
            random_state=self.random_state,
        )
        with warnings.catch_warnings():
            # "missing values detected": the card gives them their own bin, as intended
            warnings.simplefilter("ignore", UserWarning)
            self.model_.fit(X.iloc[rows], y[rows])
        self.artifact_ = self.export(X, y, target, bad)
        return self

    # ------------------------------------------------------------------ export

    def _scale(self) -> tuple[float, float]:
        factor = self.pdo / math.log(2)
        return self.base_score - factor * math.log(self.base_odds), factor

    def export(self, X: pd.DataFrame, y: np.ndarray[Any, Any], target: str, bad: str) -> Artifact:  # noqa: N803
        """Shape functions -> integer points; ``score = offset - factor * logit(bad)`` with
        the offset and intercept spread evenly over the features (no separate base points)."""
        offset, factor = self._scale()
        n = len(self.columns_.features)
        share = (offset - factor * float(self.model_.intercept_[0])) / n
        taken: set[str] = set()
        features: list[CardFeature] = []
        flat: list[str] = []
        scores = np.zeros(len(X), dtype=np.float64)
        for i, column in enumerate(self.columns_.features):
            shape = np.asarray(self.model_.term_scores_[i], dtype=np.float64)
            points = [round(share - factor * s) for s in shape]
            feature, index = self._feature(
                column, self.model_.bins_[i][0], points, X[column], y, taken
            )
            if len({*(b.points for b in feature.bins), feature.missing_points}) == 1:
                flat.append(column)
            features.append(feature)
            scores += feature_points(index, feature)  # as the lowered card scores, vectorised
        pairs = []
        for t, term in enumerate(self.model_.term_features_):
            if len(term) == 2:
                pair, cells = self._pair(term, t, X, features, factor)
                pairs.append(pair)
                scores += cells
        excluded = [Excluded(c, r) for c, r in self.columns_.excluded]
        card = Artifact(
            target=target,
            bad_value=bad,
            base_points=0,
            scaling=Scaling(self.pdo, self.base_score, self.base_odds),
            features=tuple(features),
            excluded=tuple(excluded),
            protected_included=tuple(self.columns_.protected_included),
            trained_rows=len(X),
            pairs=tuple(pairs),
        )
        metrics = {f"train_{k}": v for k, v in discrimination(y, scores).items()}
        settings: dict[str, Any] = {
            "method": METHOD,
            "interactions": self.pairs,
            "outer_bags": self.bags_,
            "jobs": self.jobs_,
            "max_bins": self.max_bins,
            "boosting_rows": self.fit_rows_,
            "monotone": {c: d.value for c, d in self.directions_.items()},
            "constant_features": flat,
        }
        return replace(card, metrics=metrics, metadata={"training": settings})

    def _feature(
        self,
        column: str,
        binning: Any,
        points: list[int],
        values: pd.Series,
        y: np.ndarray[Any, Any],
        taken: set[str],
    ) -> tuple[CardFeature, np.ndarray[Any, Any]]:
        """The card feature of one shape function, and each row's bin index in it."""
        categorical = column in self.columns_.categorical
        if categorical:
            bins = self._category_bins(binning, points)
        else:
            bins = self._numeric_bins(np.asarray(binning, dtype=np.float64), points)
        index = card_bins(values, bins, categorical)
        rows, bads = bin_counts(index, y, len(bins))
        counted = []
        for j, b in enumerate(bins):
            total = int(rows[j + 1])
            rate = round(int(bads[j + 1]) / total, 6) if total else None
            counted.append(_with(b, count=total, event_rate=rate))
        if categorical or column in self.immutable:
            direction = Direction.NONE
        else:
            direction = trend_direction([b.points for b in counted])
        if column in PROFILE_FIELDS:
            direction = PROFILE_FIELDS[column].direction
        numeric = None if categorical else pd.to_numeric(values, errors="coerce")
        observed = numeric is not None and bool(numeric.notna().any())
        integer = bool(observed and numeric is not None and (numeric.dropna() % 1 == 0).all())
        feature = CardFeature(
            name=feature_name(column, taken),
            column=column,
            kind="categorical" if categorical else "numerical",
            bins=tuple(counted),
            missing_points=points[0],
            special_points=points[0],
            special_values=() if categorical else self.special_values,
            factor=self.factors.get(column),
            direction=direction.value,
            cost=int(self.costs.get(column, 1)),
            integer=integer,
            low=float(numeric.min()) if observed and numeric is not None else None,
            high=float(numeric.max()) if observed and numeric is not None else None,
            iv=round(information_value(index, y), 6),
        )
        return feature, index

    def _pair(
        self,
        term: tuple[int, int],
        t: int,
        X: pd.DataFrame,  # noqa: N803
        features: Sequence[CardFeature],
        factor: float,
    ) -> tuple[CardPair, np.ndarray[Any, Any]]:
        """One boosted pair term -> a card pair (points ``round(-factor * table)``, the
        unknown-category row and column dropped, adjacent equal numeric rows or columns merged)
        and each row's points from it, as the lowered card computes them."""
        table = np.asarray(self.model_.term_scores_[t], dtype=np.float64)
        points = np.asarray([[round(-factor * v) for v in row] for row in table], dtype=np.int64)
        axes: list[CardAxis] = []
        for k, i in enumerate(term):
            levels = self.model_.bins_[i]
            binning = levels[min(len(levels), 2) - 1]  # interpret's bins for a pair's axis
            column = self.columns_.features[i]
            if column in self.columns_.categorical:
                order = sorted(binning.items(), key=lambda item: item[1])
                keep = [0, *(idx for _, idx in order)]
                groups = tuple((str(c),) for c, _ in order)
                points = np.take(points, keep, axis=k)
                axes.append(CardAxis(features[i].name, categories=groups))
                continue
            cuts = [float(c) for c in binning]
            points = np.take(points, range(len(cuts) + 2), axis=k)  # missing, bins
            axis_points = np.moveaxis(points, k, 0)
            kept_edges: list[float] = []
            kept_rows = [0, 1]
            for r in range(2, len(cuts) + 2):
                if not np.array_equal(axis_points[r], axis_points[kept_rows[-1]]):
                    kept_edges.append(cuts[r - 2])
                    kept_rows.append(r)
            points = np.take(points, kept_rows, axis=k)
            axes.append(CardAxis(features[i].name, edges=tuple(kept_edges)))
        name = f"{features[term[0]].name}_x_{features[term[1]].name}"
        pair = CardPair(name, (axes[0], axes[1]), tuple(tuple(int(v) for v in r) for r in points))
        index = []
        for k, i in enumerate(term):
            column = self.columns_.features[i]
            categorical = column in self.columns_.categorical
            a = axes[k]
            bins = (
                [CardBin(0, categories=g) for g in a.categories]
                if categorical
                else [CardBin(0, None, e) for e in a.edges] + [CardBin(0, None, None)]
            )
            index.append(card_bins(X[column], bins, categorical) + 1)  # -1 missing -> row 0
        return pair, points[index[0], index[1]].astype(np.float64)

    @staticmethod
    def _numeric_bins(cuts: np.ndarray[Any, Any], points: list[int]) -> list[CardBin]:
        """EBM bin k+1 is ``[cuts[k-1], cuts[k])``; adjacent bins with equal points merge."""
        edges: list[float | None] = [None, *(float(c) for c in cuts), None]
        bins: list[CardBin] = []
        for k in range(len(cuts) + 1):
            p = points[k + 1]
            if bins and bins[-1].points == p:
                bins[-1] = _with(bins[-1], upper=edges[k + 1])
            else:
                bins.append(CardBin(p, edges[k], edges[k + 1]))
        return bins

    @staticmethod
    def _category_bins(mapping: Mapping[str, int], points: list[int]) -> list[CardBin]:
        """Categories with equal points share a bin; bins ordered worst first."""
        groups: dict[int, list[str]] = {}
        for category, k in mapping.items():
            groups.setdefault(points[k], []).append(str(category))
        return [CardBin(p, categories=tuple(sorted(groups[p]))) for p in sorted(groups)]

    # ------------------------------------------------------------------ scores

    def model_logit(self, frame: pd.DataFrame) -> np.ndarray[Any, np.dtype[np.float64]]:
        """The fitted model's log-odds of *bad* (the reference the card must reproduce)."""
        X = self._inputs(frame)  # noqa: N806
        return np.asarray(self.model_.decision_function(X), dtype=np.float64)

    def model_score(self, frame: pd.DataFrame) -> np.ndarray[Any, np.dtype[np.float64]]:
        """The model's log-odds on the card's PDO scale, unrounded."""
        offset, factor = self._scale()
        return offset - factor * self.model_logit(frame)

    @staticmethod
    def card_score(frame: pd.DataFrame, card: Artifact) -> np.ndarray[Any, np.dtype[np.float64]]:
        from creditgate.scorecard.scoring import score_table

        table = pa.Table.from_pandas(frame[list(card.columns)], preserve_index=False)
        scored = score_table(table, card).column("score").to_numpy()
        return np.asarray(scored, dtype=np.float64)

    def score(self, frame: pd.DataFrame) -> np.ndarray[Any, np.dtype[np.float64]]:
        """The exported card's integer score, through the row engine as serving computes it."""
        return self.card_score(frame, self.artifact_)


def card_bins(
    values: pd.Series, bins: Sequence[CardBin], categorical: bool
) -> np.ndarray[Any, Any]:
    """Bin index per row as the lowered card computes it (-1 missing / unseen)."""
    out = np.full(len(values), -1, dtype=np.int64)
    if categorical:
        lookup = {c: j for j, b in enumerate(bins) for c in b.categories}
        codes, uniques = pd.factorize(values)  # NaN -> -1; a category is read as its text
        per_unique = np.asarray([lookup.get(str(u), -1) for u in uniques] + [-1], dtype=np.int64)
        return np.asarray(per_unique[codes], dtype=np.int64)
    x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
    uppers = np.asarray([b.upper for b in bins[:-1]], dtype=np.float64)
    known = np.isfinite(x)
    out[known] = np.searchsorted(uppers, x[known], side="right")
    return out


def _with(b: CardBin, **changes: Any) -> CardBin:
    return replace(b, **changes)
