"""The training report as a risk committee reads it: one printable HTML page, no external
assets (charts are inline SVG, styles inline), from the artefact and the evaluation rows.

Sections: metrics, ROC and KS curves, calibration by decile, score distribution by outcome,
each feature's shape (points by bin) with its IV, the fairness audit, the training settings
(method, scaling, selection by cross-validation, excluded columns).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from creditgate.scorecard.artifact import Artifact, CardFeature

W, H, PAD = 360, 240, 36
STYLE = (
    "body{font-family:Georgia,serif;max-width:52em;margin:1em auto;color:#111}"
    "h1{font-size:1.4em}h2{font-size:1.15em;border-bottom:1px solid #999;margin-top:1.4em}"
    "table{border-collapse:collapse;font-size:.85em}td,th{border:1px solid #bbb;padding:2px 6px;"
    "text-align:right}th{background:#eee}td:first-child{text-align:left}"
    "figure{display:inline-block;margin:.3em;page-break-inside:avoid}"
    "figcaption{font-size:.8em;text-align:center}.adverse{color:#a00;font-weight:bold}"
    "section{page-break-inside:avoid}@media print{body{max-width:none}}"
)
COLORS = ("#1f5f9e", "#c0392b", "#777")


def esc(value: object) -> str:
    return html.escape(str(value))


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def cell(v: object) -> str:
    if isinstance(v, float):
        return f"{v:.4f}"
    return esc(v)


def svg_lines(
    series: Sequence[tuple[str, npt.ArrayLike, npt.ArrayLike]],
    x_label: str,
    y_label: str,
    diagonal: bool = False,
) -> str:
    """A small line chart; every series' (x, y) scaled to the union of ranges."""
    xs = np.concatenate([np.asarray(x, dtype=float) for _, x, _ in series])
    ys = np.concatenate([np.asarray(y, dtype=float) for _, _, y in series])
    x0, x1 = float(xs.min()), float(xs.max()) or 1.0
    y0, y1 = min(0.0, float(ys.min())), float(ys.max()) or 1.0
    if x1 == x0:
        x1 = x0 + 1
    if y1 == y0:
        y1 = y0 + 1

    def px(x: float) -> float:
        return PAD + (x - x0) / (x1 - x0) * (W - 2 * PAD)

    def py(y: float) -> float:
        return H - PAD - (y - y0) / (y1 - y0) * (H - 2 * PAD)

    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{W}' height='{H}' font-size='10'>",
        f"<rect x='{PAD}' y='{PAD}' width='{W - 2 * PAD}' height='{H - 2 * PAD}' fill='none' "
        "stroke='#999'/>",
        f"<text x='{W / 2}' y='{H - 6}' text-anchor='middle'>{esc(x_label)}</text>",
        f"<text x='10' y='{H / 2}' transform='rotate(-90 10 {H / 2})' text-anchor='middle'>"
        f"{esc(y_label)}</text>",
        f"<text x='{PAD}' y='{H - PAD + 12}'>{x0:.3g}</text>",
        f"<text x='{W - PAD}' y='{H - PAD + 12}' text-anchor='end'>{x1:.3g}</text>",
        f"<text x='{PAD - 3}' y='{H - PAD}' text-anchor='end'>{y0:.3g}</text>",
        f"<text x='{PAD - 3}' y='{PAD + 8}' text-anchor='end'>{y1:.3g}</text>",
    ]
    if diagonal:
        lo, hi = max(x0, y0), min(x1, y1)
        parts.append(
            f"<line x1='{px(lo):.1f}' y1='{py(lo):.1f}' x2='{px(hi):.1f}' y2='{py(hi):.1f}' "
            "stroke='#aaa' stroke-dasharray='4 3'/>"
        )
    for k, (name, x, y) in enumerate(series):
        pairs = zip(np.asarray(x, dtype=float), np.asarray(y, dtype=float), strict=True)
        points = " ".join(f"{px(a):.1f},{py(b):.1f}" for a, b in pairs)
        color = COLORS[k % len(COLORS)]
        parts.append(
            f"<polyline points='{points}' fill='none' stroke='{color}' stroke-width='1.5'/>"
        )
        parts.append(
            f"<text x='{PAD + 6}' y='{PAD + 14 + 12 * k}' fill='{color}'>{esc(name)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def svg_bars(labels: Sequence[str], values: Sequence[float], y_label: str) -> str:
    """Vertical bars (a feature's points by bin), zero line drawn, labels under each bar."""
    n = max(len(values), 1)
    width = max(W, 26 * n + 2 * PAD)
    lo, hi = min(0.0, min(values, default=0.0)), max(0.0, max(values, default=1.0))
    span = (hi - lo) or 1.0

    def py(v: float) -> float:
        return PAD + (hi - v) / span * (H - 2 * PAD - 30)

    step = (width - 2 * PAD) / n
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{H}' font-size='9'>"]
    for i, (label, v) in enumerate(zip(labels, values, strict=True)):
        x = PAD + i * step
        top, bottom = sorted((py(v), py(0.0)))
        parts.append(
            f"<rect x='{x + 2:.1f}' y='{top:.1f}' width='{step - 4:.1f}' "
            f"height='{max(bottom - top, 0.5):.1f}' fill='{COLORS[0]}'/>"
            f"<text x='{x + step / 2:.1f}' y='{top - 2:.1f}' text-anchor='middle'>{v:g}</text>"
            f"<text x='{x + step / 2:.1f}' y='{H - PAD + 4}' text-anchor='end' "
            f"transform='rotate(-45 {x + step / 2:.1f} {H - PAD + 4})'>{esc(label[:18])}</text>"
        )
    parts.append(
        f"<line x1='{PAD}' x2='{width - PAD}' y1='{py(0.0):.1f}' y2='{py(0.0):.1f}' stroke='#333'/>"
        f"<text x='4' y='{PAD}'>{esc(y_label)}</text></svg>"
    )
    return "".join(parts)


def figure(svg: str, caption: str) -> str:
    return f"<figure>{svg}<figcaption>{esc(caption)}</figcaption></figure>"


def roc_ks(bad: npt.NDArray[Any], scores: npt.NDArray[Any]) -> tuple[str, str]:
    """ROC (bads caught vs goods rejected, rejecting the lowest scores first) and KS (both
    classes' cumulative score distributions)."""
    grid = np.unique(scores)
    bads, goods = np.sort(scores[bad == 1]), np.sort(scores[bad == 0])
    cdf_bad = np.searchsorted(bads, grid, side="right") / max(len(bads), 1)
    cdf_good = np.searchsorted(goods, grid, side="right") / max(len(goods), 1)
    roc = svg_lines(
        [("card", [0.0, *cdf_good], [0.0, *cdf_bad])],
        "goods rejected (FPR)",
        "bads rejected (TPR)",
        diagonal=True,
    )
    ks = svg_lines(
        [("bads", grid, cdf_bad), ("goods", grid, cdf_good)], "score", "cumulative share"
    )
    return roc, ks


def calibration_rows(
    bad: npt.NDArray[Any], pd_: npt.NDArray[Any], buckets: int = 10
) -> list[tuple[int, int, float, float]]:
    """Per predicted-PD decile: rows, mean predicted PD, observed bad rate."""
    order = np.argsort(pd_, kind="mergesort")
    rows = []
    for k, idx in enumerate(np.array_split(order, buckets)):
        if len(idx):
            rows.append((k + 1, len(idx), float(pd_[idx].mean()), float(bad[idx].mean())))
    return rows


def distribution(bad: npt.NDArray[Any], scores: npt.NDArray[Any]) -> str:
    edges = np.histogram_bin_edges(scores, bins=30)
    mids = (edges[:-1] + edges[1:]) / 2
    series: list[tuple[str, npt.ArrayLike, npt.ArrayLike]] = []
    for name, mask in (("bads", bad == 1), ("goods", bad == 0)):
        counts, _ = np.histogram(scores[mask], bins=edges)
        series.append((name, mids, counts / max(mask.sum(), 1)))
    return svg_lines(series, "score", "share of class")


def bin_label(f: CardFeature, i: int) -> str:
    b = f.bins[i]
    if b.categories:
        return ", ".join(b.categories)
    lo = "-inf" if b.lower is None else f"{b.lower:g}"
    hi = "inf" if b.upper is None else f"{b.upper:g}"
    return f"[{lo}, {hi})"


def shapes(card: Artifact) -> str:
    parts = []
    for f in sorted(card.features, key=lambda f: -f.iv):
        labels = [bin_label(f, i) for i in range(len(f.bins))] + ["missing"]
        values = [float(b.points) for b in f.bins] + [float(f.missing_points)]
        parts.append(
            f"<section><h3>{esc(f.column)} (IV {f.iv:.3f}, {f.kind}, direction {f.direction})"
            f"</h3>{svg_bars(labels, values, 'points')}</section>"
        )
    return "".join(parts)


def fairness(card: Artifact) -> str:
    audit = card.metadata.get("fairness")
    if not audit:
        return "<p>No audit columns were given (<code>--audit-column</code>).</p>"
    parts = [
        f"<p>On {audit['rows']:,} evaluation rows. Adverse-impact ratio: approval rate over the "
        "most approved group's; under 0.8 fails the four-fifths rule. 95% intervals by the "
        "delta method on the log ratio. Drivers: the features whose mean points are lowest "
        "against the reference group.</p>"
    ]
    for col in audit["columns"]:
        rows = []
        for g in col["groups"]:
            drivers = "; ".join(f"{d['column']} {d['points']:+.1f}" for d in g["drivers"])
            ratio = f"{g['impact_ratio']:.3f} [{g['impact_low']:.3f}, {g['impact_high']:.3f}]"
            if g["adverse"]:
                ratio = f"<span class='adverse'>{ratio}</span>"
            rows.append(
                "<tr>"
                + "".join(
                    f"<td>{v}</td>"
                    for v in (
                        esc(g["group"]),
                        f"{g['rows']:,}",
                        f"{g['approval_rate']:.3f}",
                        ratio,
                        "" if g.get("auc") is None else f"{g['auc']:.3f}",
                        "" if g.get("mean_pd") is None else f"{g['mean_pd']:.3f}",
                        "" if g.get("bad_rate") is None else f"{g['bad_rate']:.3f}",
                        esc(drivers),
                    )
                )
                + "</tr>"
            )
        head = "".join(
            f"<th>{h}</th>"
            for h in (
                "group",
                "rows",
                "approved",
                "impact ratio [95% CI]",
                "AUC",
                "mean PD",
                "bad rate",
                "drivers",
            )
        )
        parts.append(
            f"<h3>{esc(col['column'])} at cutoff {col['cutoff']:g} "
            f"(reference: {esc(col['reference'])})</h3><table><tr>{head}</tr>{''.join(rows)}"
            "</table>"
        )
    return "".join(parts)


def pair_section(card: Artifact) -> str:
    """What each pairwise table adds (``metadata.pairs``); nothing for a card without pairs."""
    gains = card.metadata.get("pairs")
    if not gains:
        return ""
    header = ["pair", "features", "cells", "AUC before", "AUC after", "delta"]
    rows = [
        [
            g["pair"],
            " x ".join(g["features"]),
            g["cells"],
            g["auc_without"],
            g["auc_with"],
            f"{g['delta']:+.4f}",
        ]
        for g in gains["added"]
    ]
    return "".join(
        [
            "<h2>Pairwise tables: what each adds</h2>",
            f"<p>AUC on {gains['rows']:,} {esc(gains['on'])} rows, pairs added in ranked order: "
            f"{gains['auc_without_pairs']:.4f} without pairs, "
            f"{gains['auc_with_pairs']:.4f} with all.</p>",
            table(header, rows),
        ]
    )


def settings(card: Artifact) -> str:
    s = card.scaling
    rows: list[tuple[str, object]] = [
        ("target", f"{card.target} = {card.bad_value} is bad"),
        ("training rows", f"{card.trained_rows:,}"),
        ("scaling", f"PDO {s.pdo:g}, {s.base_score:g} points at good:bad odds {s.base_odds:g}"),
    ]
    for key, value in card.metadata.get("training", {}).items():
        rows.append((key, value))
    selection = card.metadata.get("selection")
    if selection:
        means = ", ".join(f"{m} {v:.4f}" for m, v in selection["mean_auc"].items())
        rows.append(
            ("method chosen", f"{selection['chosen']} ({selection['folds']}-fold CV AUC: {means})")
        )
    if card.protected_included:
        rows.append(("protected attributes used", ", ".join(card.protected_included)))
    excluded = [(e.column, e.reason) for e in card.excluded]
    return (
        table(["setting", "value"], rows)
        + "<h3>Excluded columns</h3>"
        + table(["column", "reason"], excluded)
    )


def render(card: Artifact, bad: npt.NDArray[Any], scores: npt.NDArray[Any], held_out: bool) -> str:
    from creditgate.policy.lower import pd_scale

    offset, scale = pd_scale(card.scaling)
    pd_ = 1.0 / (1.0 + np.exp((scores - offset) / scale))
    roc, ks = roc_ks(bad, scores)
    calib = calibration_rows(bad, pd_)
    where = "held-out" if held_out else "training"
    return "".join(
        [
            "<!doctype html><html lang='en'><meta charset='utf-8'><title>Scorecard report</title>",
            f"<style>{STYLE}</style><body>",
            f"<h1>Scorecard: {esc(card.target)} = {esc(card.bad_value)} is bad</h1>",
            f"<p>{card.trained_rows:,} training rows; figures below on {len(scores):,} "
            f"{where} rows.</p>",
            "<h2>Metrics</h2>",
            table(["metric", "value"], sorted(card.metrics.items())),
            f"<h2>Discrimination ({where})</h2>",
            figure(roc, "ROC"),
            figure(ks, "KS: cumulative score distribution by outcome"),
            "<h2>Calibration by decile of predicted PD</h2>",
            figure(
                svg_lines(
                    [("deciles", [r[2] for r in calib], [r[3] for r in calib])],
                    "predicted PD",
                    "observed bad rate",
                    diagonal=True,
                ),
                "calibration",
            ),
            table(["decile", "rows", "predicted PD", "observed"], calib),
            "<h2>Score distribution by outcome</h2>",
            figure(distribution(bad, scores), "share of each class by score"),
            "<h2>Features: points by bin</h2>",
            shapes(card),
            pair_section(card),
            "<h2>Fairness audit</h2>",
            fairness(card),
            "<h2>Training settings</h2>",
            settings(card),
            "</body></html>",
        ]
    )


def write_committee_report(
    card: Artifact,
    bad: npt.NDArray[Any],
    scores: npt.NDArray[Any],
    directory: Path,
    held_out: bool = True,
) -> Path:
    """Write ``directory/index.html``; returns its path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "index.html"
    text = render(card, np.asarray(bad), np.asarray(scores, dtype=np.float64), held_out)
    path.write_text(text, encoding="utf-8")
    return path
