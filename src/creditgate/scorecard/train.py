"""Train a scorecard with optbinning and export it as plain data (``artifact.Artifact``).

scikit-learn contract, as optbinning's own ``Scorecard``: parameters in ``__init__``, ``fit``
returns self, fitted attributes end in ``_``. Only this module imports optbinning; serving reads
the exported artefact. Binning: optimal monotonic bins per numeric column (trend chosen
automatically, ascending or descending), grouped categories, separate special and missing bins,
IV-based selection; then a logistic regression on WoE and PDO scaling to integer points.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from creditgate.policy.nodes import Scaling
from creditgate.schema import PROFILE_FIELDS, Direction
from creditgate.scorecard.artifact import Artifact, CardBin, CardFeature, Excluded
from creditgate.scorecard.columns import choose_columns, is_decimal
from creditgate.scorecard.metrics import discrimination

LARGE = 200_000  # rows above which pre-binning switches from CART to quantiles


class TrainingError(ValueError):
    """The data cannot train a card; the message names the column at fault."""


@dataclass(frozen=True, slots=True)
class FactorCodes:
    """Reason codes per column; columns not listed get the generic ``SCORE_FACTOR``."""

    codes: dict[str, str]
    default: str = "SCORE_FACTOR"

    def get(self, column: str) -> str:
        return self.codes.get(column, self.default)


CONTRACT_FACTORS = FactorCodes(
    {
        "avg_daily_opens_90d": "LOW_ACTIVITY",
        "monthly_spend_cny_6m": "LOW_SPEND",
        "ecosystem_repayment_score": "LOW_REPAYMENT_SCORE",
        "pay_score": "PAY_SCORE_BAND",
        "account_age_days": "SHORT_TENURE",
        "ecosystem_active_products": "FEW_PRODUCTS",
        "monthly_flow_cv_6m": "FLOW_VOLATILITY",
    }
)


def bad_labels(target: pd.Series, bad: str) -> np.ndarray[Any, np.dtype[np.int64]]:
    """1 where ``target`` equals ``bad`` (compared as text, so ``1`` matches 1 and 1.0)."""
    if target.isna().any():
        row = int(np.flatnonzero(target.isna().to_numpy())[0])
        raise TrainingError(f"target column {target.name!r} is empty at row {row + 1}")
    text = target.astype(str)
    numeric = pd.to_numeric(target, errors="coerce")
    try:
        as_number = float(bad)
    except ValueError:
        as_number = None
    y = (text == bad) | ((numeric == as_number) if as_number is not None else False)
    labels = np.asarray(y, dtype=np.int64)
    if labels.sum() == 0 or labels.sum() == len(labels):
        seen = ", ".join(sorted(text.unique())[:5])
        raise TrainingError(
            f"target {target.name!r}: --bad {bad!r} must split the rows (values seen: {seen})"
        )
    return labels


def as_model_input(frame: pd.DataFrame, categorical: Sequence[str]) -> None:
    """What optbinning bins, in place: categories as text, decimal columns (money) as floats,
    never as categories (one bin per amount would memorise the training rows)."""
    as_text(frame, categorical)
    for col in frame.columns:
        if col not in categorical and is_decimal(frame[col]):
            frame[col] = pd.to_numeric(frame[col].astype(object), errors="coerce").astype(float)


def as_text(frame: pd.DataFrame, columns: Sequence[str]) -> None:
    """Categories as strings (scoring compares them as text), NULL kept as NaN: in place."""
    for col in columns:
        values = frame[col]
        frame[col] = values.astype(str).astype(object).where(values.notna(), np.nan)


def trend_direction(points: Sequence[int]) -> Direction:
    """Monotonic points give recourse a direction: raising the value helps, or lowering it."""
    steps = np.diff(np.asarray(points))
    if len(steps) == 0 or (steps == 0).all():
        return Direction.NONE
    if (steps >= 0).all():
        return Direction.UP
    if (steps <= 0).all():
        return Direction.DOWN
    return Direction.NONE


def feature_name(column: str, taken: set[str]) -> str:
    base = "".join(ch if ch.isalnum() else "_" for ch in column.lower()).strip("_") or "f"
    if not base[0].isalpha():
        base = "f_" + base
    name, k = base, 2
    while name in taken:
        name, k = f"{base}_{k}", k + 1
    taken.add(name)
    return name


class ScorecardTrainer:
    """optbinning ``BinningProcess`` + ``Scorecard``, exported to ``artifact_``.

    >>> trainer = ScorecardTrainer(pdo=20, base_score=600, base_odds=50).fit(frame, "bad", "1")
    >>> trainer.artifact_.features[0].bins
    """

    def __init__(
        self,
        pdo: float = 20.0,
        base_score: float = 600.0,
        base_odds: float = 50.0,
        min_iv: float = 0.02,
        max_n_bins: int = 8,
        min_bin_size: float = 0.05,
        special_values: Sequence[float] = (),
        include_protected: Sequence[str] = (),
        exclude: Sequence[str] = (),
        immutable: Sequence[str] = (),
        costs: dict[str, int] | None = None,
        factors: FactorCodes = CONTRACT_FACTORS,
        C: float = 1.0,  # noqa: N803  (scikit-learn's name for the inverse regularisation)
        prebinning: str = "auto",
        n_jobs: int | None = None,
        drop_reversed: bool = True,
        fixed_edges: Mapping[str, Sequence[float]] | None = None,
    ) -> None:
        self.pdo = pdo
        self.base_score = base_score
        self.base_odds = base_odds
        self.min_iv = min_iv
        self.max_n_bins = max_n_bins
        self.min_bin_size = min_bin_size
        self.special_values = tuple(special_values)
        self.include_protected = tuple(include_protected)
        self.exclude = tuple(exclude)
        self.immutable = tuple(immutable)
        self.costs = dict(costs or {})
        self.factors = factors
        self.C = C
        self.prebinning = prebinning
        self.n_jobs = n_jobs
        self.drop_reversed = drop_reversed
        # Bin edges a policy requires (e.g. the seed's 2,000-yuan spend mark): kept whatever
        # the optimal merge prefers, so the points on either side of them can differ.
        self.fixed_edges = {c: tuple(e) for c, e in (fixed_edges or {}).items()}

    def _model(
        self,
        features: Sequence[str],
        categorical: Sequence[str],
        rows: int,
        prebins: Mapping[str, Sequence[float]] | None = None,
    ) -> Any:
        from optbinning import BinningProcess, Scorecard
        from sklearn.linear_model import LogisticRegression

        # CART pre-binning sorts every column at every split: on large data quantile
        # pre-bins (then the same optimal, monotonic merge) are as good and several times faster.
        method = self.prebinning
        if method == "auto":
            method = "cart" if rows <= LARGE else "quantile"
        params: dict[str, dict[str, Any]] = {
            c: {"monotonic_trend": "auto_asc_desc", "prebinning_method": method}
            for c in features
            if c not in categorical
        }
        for c, splits in (prebins or {}).items():
            if c in params:
                fixed = [s in self.fixed_edges.get(c, ()) for s in splits]
                params[c] |= {"user_splits": list(splits), "user_splits_fixed": fixed}
        process = BinningProcess(
            list(features),
            categorical_variables=list(categorical) or None,
            max_n_bins=self.max_n_bins,
            min_bin_size=self.min_bin_size,
            special_codes=list(self.special_values) or None,
            selection_criteria={"iv": {"min": self.min_iv}},
            binning_fit_params=params,
            n_jobs=self.n_jobs,
        )
        return Scorecard(
            binning_process=process,
            estimator=LogisticRegression(C=self.C, max_iter=1000),
            scaling_method="pdo_odds",
            scaling_method_params={
                "pdo": self.pdo,
                "odds": self.base_odds,
                "scorecard_points": self.base_score,
            },
            intercept_based=False,
            rounding=True,
        )

    def fit(self, frame: pd.DataFrame, target: str, bad: str) -> ScorecardTrainer:
        if target not in frame.columns:
            raise TrainingError(f"target column {target!r} is not in the data")
        y = bad_labels(frame[target], bad)
        choice = choose_columns(frame, target, self.include_protected, self.exclude)
        if not choice.features:
            raise TrainingError("no usable feature columns (all excluded: see --help)")
        for col in self.include_protected:
            if col not in frame.columns:
                raise TrainingError(f"--include-protected: column {col!r} is not in the data")
        X = frame[list(choice.features)].copy()  # noqa: N806
        as_model_input(X, choice.categorical)
        self.columns_ = choice
        self.reversed_: list[str] = []
        while True:
            features = [c for c in choice.features if c not in self.reversed_]
            categorical = [c for c in choice.categorical if c not in self.reversed_]
            prebins = {c: self.prebins(X[c], c) for c in self.fixed_edges if c in features}
            model = self._model(features, categorical, len(X), prebins)
            self.model_ = model.fit(X[features], y)
            support = self.model_.binning_process_.get_support(names=True)
            self.selected_ = tuple(str(c) for c in support)
            if not self.selected_:
                raise TrainingError(f"no column reaches the minimum IV {self.min_iv}")
            coef = np.asarray(self.model_.estimator_.coef_).reshape(-1)
            # WoE is ln(good share / bad share): a sound feature has a negative coefficient.
            # A positive one means collinearity flipped it, so its points would run against
            # its own bins' default rates (and against recourse): drop it and refit.
            flipped = [c for c, w in zip(self.selected_, coef, strict=True) if w > 0]
            if not self.drop_reversed or not flipped or len(flipped) == len(self.selected_):
                break
            self.reversed_ += flipped
        self.artifact_ = self.export(X, y, target, bad)
        return self

    def prebins(self, column: pd.Series, name: str) -> tuple[float, ...]:
        """Pre-bin splits of a column with fixed edges: its 5%..95% quantiles (one per 5%, the
        minimum bin size) and the fixed edges, which the optimal merge then keeps."""
        values = pd.to_numeric(column, errors="coerce").dropna().to_numpy(dtype=float)
        quantiles = np.quantile(values, np.linspace(0.05, 0.95, 19)) if values.size else []
        return tuple(sorted({float(q) for q in quantiles} | set(self.fixed_edges[name])))

    def points_table(self) -> pd.DataFrame:
        table: pd.DataFrame = self.model_.table(style="detailed")
        return table

    def export(self, X: pd.DataFrame, y: np.ndarray[Any, Any], target: str, bad: str) -> Artifact:  # noqa: N803
        """The fitted card as plain data, bin for bin, point for point."""
        table = self.points_table()
        taken: set[str] = set()
        features: list[CardFeature] = []
        for column in self.selected_:
            rows = table[table["Variable"] == column]
            features.append(self._feature(column, rows, X[column], taken))
        excluded = [Excluded(c, r) for c, r in self.columns_.excluded]
        excluded += [
            Excluded(c, "coefficient sign reversed by collinear features") for c in self.reversed_
        ]
        dropped_iv = [
            c for c in self.columns_.features if c not in self.selected_ and c not in self.reversed_
        ]
        excluded += [Excluded(c, f"information value below {self.min_iv}") for c in dropped_iv]
        scores = self.model_.score(X)
        card = Artifact(
            target=target,
            bad_value=bad,
            base_points=0,
            scaling=Scaling(self.pdo, self.base_score, self.base_odds),
            features=tuple(features),
            excluded=tuple(excluded),
            protected_included=tuple(
                c for c in self.columns_.protected_included if c in self.selected_
            ),
            metrics={f"train_{k}": v for k, v in discrimination(y, scores).items()},
            trained_rows=len(X),
        )
        return card

    def _feature(
        self, column: str, rows: pd.DataFrame, values: pd.Series, taken: set[str]
    ) -> CardFeature:
        optb = self.model_.binning_process_.get_binned_variable(column)
        n = len(optb.splits) + (0 if optb.dtype == "categorical" else 1)
        points = [round(float(p)) for p in rows["Points"].to_numpy()]
        counts = [int(c) for c in rows["Count"].to_numpy()]
        rates = [round(float(r), 6) for r in rows["Event rate"].to_numpy()]
        bins: list[CardBin] = []
        if optb.dtype == "categorical":
            for i, cats in enumerate(optb.splits):
                categories = tuple(sorted(str(c) for c in cats))
                bins.append(
                    CardBin(points[i], categories=categories, count=counts[i], event_rate=rates[i])
                )
        else:
            edges = [None, *(float(s) for s in optb.splits), None]
            for i in range(n):
                bins.append(
                    CardBin(points[i], edges[i], edges[i + 1], count=counts[i], event_rate=rates[i])
                )
        special, missing = points[n], points[n + 1]
        if optb.dtype == "categorical" or column in self.immutable:
            direction = Direction.NONE
        else:
            direction = trend_direction([b.points for b in bins])
        if column in PROFILE_FIELDS:
            direction = PROFILE_FIELDS[column].direction
        numeric = pd.to_numeric(values, errors="coerce") if optb.dtype != "categorical" else None
        integer = bool(numeric is not None and (numeric.dropna() % 1 == 0).all())
        iv = float(rows["IV"].to_numpy()[:n].sum())
        return CardFeature(
            name=feature_name(column, taken),
            column=column,
            kind="categorical" if optb.dtype == "categorical" else "numerical",
            bins=tuple(bins),
            missing_points=missing,
            special_points=special,
            special_values=self.special_values if optb.dtype != "categorical" else (),
            factor=self.factors.get(column),
            direction=direction.value,
            cost=int(self.costs.get(column, 1)),
            integer=integer,
            low=float(numeric.min()) if numeric is not None and numeric.notna().any() else None,
            high=float(numeric.max()) if numeric is not None and numeric.notna().any() else None,
            iv=round(iv, 6),
        )

    def score(self, frame: pd.DataFrame) -> np.ndarray[Any, np.dtype[np.float64]]:
        """optbinning's own score (the reference the exported card must reproduce)."""
        X = frame[list(self.columns_.features)].copy()  # noqa: N806
        as_model_input(X, self.columns_.categorical)
        return np.asarray(self.model_.score(X), dtype=np.float64)
