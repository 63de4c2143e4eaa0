"""Training report: AUC, KS, Gini, IV table, score distribution, calibration, PSI.

One self-contained HTML file (plots as embedded PNGs) so it can be attached to a model review.
Metrics computed here on the held-out part are also written into the artefact.
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from creditgate.scorecard.artifact import Artifact
from creditgate.scorecard.methods import Trainer
from creditgate.scorecard.metrics import discrimination, psi
from creditgate.scorecard.train import bad_labels


def split(
    frame: pd.DataFrame, target: str, bad: str, test_size: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stratified train/test split (test empty when ``test_size`` is 0)."""
    if test_size <= 0:
        return frame, frame.iloc[0:0]
    y = bad_labels(frame[target], bad)
    rng = np.random.default_rng(seed)
    test = np.zeros(len(frame), dtype=bool)
    for label in (0, 1):
        rows = np.flatnonzero(y == label)
        take = rng.choice(rows, size=round(len(rows) * test_size), replace=False)
        test[take] = True
    return frame[~test], frame[test]


def png(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def calibration(
    y: np.ndarray[Any, Any], pd_: np.ndarray[Any, Any], buckets: int = 10
) -> pd.DataFrame:
    """Mean predicted PD vs observed default rate per predicted-PD decile."""
    frame = pd.DataFrame({"y": y, "pd": pd_})
    frame["bucket"] = pd.qcut(frame["pd"].rank(method="first"), buckets, labels=False)
    grouped: pd.DataFrame = frame.groupby("bucket").agg(
        predicted=("pd", "mean"), observed=("y", "mean")
    )
    return grouped


def plots(scores: dict[str, np.ndarray[Any, Any]], calib: pd.DataFrame) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for name, values in scores.items():
        if len(values):
            ax.hist(values, bins=40, alpha=0.5, density=True, label=name)
    ax.set_xlabel("score (points, higher is better)")
    ax.legend()
    dist = png(fig)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.plot(calib["predicted"], calib["observed"], "o-", label="deciles")
    top = float(max(calib["predicted"].max(), calib["observed"].max()))
    ax.plot([0, top], [0, top], "k--", lw=1, label="perfect")
    ax.set_xlabel("predicted PD")
    ax.set_ylabel("observed default rate")
    ax.legend()
    cal = png(fig)
    plt.close(fig)
    return [("Score distribution", dist), ("Calibration (held-out)", cal)]


def table_html(frame: pd.DataFrame) -> str:
    rendered: str = frame.to_html(index=False, float_format=lambda v: f"{v:.4f}", border=0)
    return rendered


def write_report(
    trainer: Trainer, fit: pd.DataFrame, test: pd.DataFrame, directory: Path | None
) -> Artifact:
    """Held-out metrics into the artefact; the HTML report too when ``directory`` is given."""
    card = trainer.artifact_
    target, bad = card.target, card.bad_value
    eval_part = test if len(test) else fit
    y_test = bad_labels(eval_part[target], bad)
    s_fit, s_test = trainer.score(fit), trainer.score(eval_part)
    metrics = dict(card.metrics)
    if len(test):
        metrics |= {f"test_{k}": v for k, v in discrimination(y_test, s_test).items()}
        metrics["psi_train_test"] = round(psi(s_fit, s_test), 6)
    card = replace(card, metrics=metrics)
    if directory is None:
        return card
    directory.mkdir(parents=True, exist_ok=True)
    offset = card.scaling.base_score - card.scaling.pdo / np.log(2) * np.log(card.scaling.base_odds)
    pd_test = 1.0 / (1.0 + np.exp((s_test - offset) / (card.scaling.pdo / np.log(2))))
    calib = calibration(y_test, pd_test)
    iv = pd.DataFrame(
        [(f.column, f.kind, len(f.bins), f.iv, f.direction) for f in card.features],
        columns=["column", "kind", "bins", "IV", "recourse direction"],
    ).sort_values("IV", ascending=False)
    excluded = pd.DataFrame(
        [(e.column, e.reason) for e in card.excluded], columns=["column", "reason"]
    )
    figures = plots({"train": s_fit, "test": s_test if len(test) else s_test[:0]}, calib)
    parts = [
        "<!doctype html><meta charset='utf-8'><title>Scorecard report</title>",
        "<style>body{font-family:sans-serif;max-width:60em;margin:auto}"
        "td,th{padding:2px 8px}</style>",
        f"<h1>Scorecard: {html.escape(card.target)} = {html.escape(card.bad_value)} is bad</h1>",
        f"<p>{card.trained_rows:,} training rows, {len(test):,} held out.</p>",
        "<h2>Metrics</h2>",
        table_html(pd.DataFrame(sorted(metrics.items()), columns=["metric", "value"])),
        "<h2>Information value</h2>",
        table_html(iv),
        "<h2>Excluded columns</h2>",
        table_html(excluded),
        "<h2>Calibration by decile</h2>",
        table_html(calib.reset_index()),
    ]
    if card.protected_included:
        parts.insert(
            4,
            "<p><b>Protected attributes used (explicitly included):</b> "
            + html.escape(", ".join(card.protected_included))
            + "</p>",
        )
    for title, data in figures:
        parts.append(f"<h2>{title}</h2><img alt='{title}' src='data:image/png;base64,{data}'>")
    (directory / "index.html").write_text("\n".join(parts), encoding="utf-8")
    return card
