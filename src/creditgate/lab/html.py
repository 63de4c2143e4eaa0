"""The lab's pages (simulate's ``index.html``, compare's ``compare.html``): self-contained, no
script, no external file.

Charts are inline SVG drawn here from the report's histograms, the cutoffs marked as lines.
Every string from a report (policy names, cities, codes) is escaped; the page declares UTF-8
and a CJK-capable font stack, so zh-CN city names render with Noto CJK where installed.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from html import escape
from pathlib import Path
from typing import Any

STYLE = """
body{font-family:"Noto Sans CJK SC","Noto Sans SC","PingFang SC","Microsoft YaHei",sans-serif;
margin:1.5rem;color:#1d2430;max-width:72rem}
h1{font-size:1.4rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ccd}
h3{font-size:1rem}table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0}
th,td{border:1px solid #d5d9e0;padding:.2rem .45rem;text-align:right}
th{background:#eef1f6}td.t,th.t{text-align:left}
.kpi{display:flex;flex-wrap:wrap;gap:.6rem}.kpi div{border:1px solid #d5d9e0;border-radius:6px;
padding:.45rem .7rem;min-width:9rem}.kpi b{display:block;font-size:1.15rem}
.scroll{max-height:24rem;overflow:auto;display:inline-block}svg{display:block;margin:.4rem 0}
@media print{.scroll{max-height:none;overflow:visible}h2,h3{break-after:avoid}}
"""
WIDTH, HEIGHT, PAD = 640, 200, 34


def _e(value: Any) -> str:
    return escape("—" if value is None else str(value), quote=True)


def _num(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else _e(value)


def _pct(value: str | None) -> str:
    return "—" if value is None else f"{float(value) * 100:.2f}%"


def bar_chart(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[int], str]],
    marks: Sequence[tuple[float, str]] = (),
    title: str = "",
) -> str:
    """Bars per label (series overlaid, first the widest), vertical lines at fractional bar
    positions ``marks`` (x in bar units, label)."""
    n = max(len(labels), 1)
    top = max((v for _, values, _ in series for v in values), default=0) or 1
    bw = (WIDTH - 2 * PAD) / n
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT + 40}" '
        f'role="img" aria-label="{_e(title)}">',
        f'<line x1="{PAD}" y1="{HEIGHT}" x2="{WIDTH - PAD}" y2="{HEIGHT}" stroke="#889"/>',
        f'<text x="{PAD}" y="12" font-size="11" fill="#556">max {top:,}</text>',
    ]
    for s, (name, values, colour) in enumerate(series):
        shrink = 0.15 * s
        for i, v in enumerate(values):
            h = (HEIGHT - 20) * v / top
            x = PAD + i * bw + bw * shrink
            w = max(bw * (0.9 - 2 * shrink), 1)
            tip = f"{_e(labels[i])}: {_e(name)} {v:,}"
            parts.append(
                f'<rect x="{x:.1f}" y="{HEIGHT - h:.1f}" width="{w:.1f}" height="{h:.1f}"'
                f' fill="{colour}"><title>{tip}</title></rect>'
            )
    step = max(1, n // 10)
    for i in range(0, n, step):
        x = PAD + i * bw
        parts.append(
            f'<text x="{x:.1f}" y="{HEIGHT + 14}" font-size="10" fill="#445">{_e(labels[i])}</text>'
        )
    for j, (pos, label) in enumerate(marks):
        x = PAD + pos * bw
        y = 24 + 12 * (j % 6)
        parts.append(
            f'<line x1="{x:.1f}" y1="16" x2="{x:.1f}" y2="{HEIGHT}" stroke="#c0392b" '
            f'stroke-dasharray="4 3"/><text x="{x + 3:.1f}" y="{y}" font-size="10" '
            f'fill="#c0392b">{_e(label)}</text>'
        )
    legend_x = PAD
    for name, _, colour in series:
        parts.append(
            f'<rect x="{legend_x}" y="{HEIGHT + 24}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{legend_x + 14}" y="{HEIGHT + 33}" font-size="11">{_e(name)}</text>'
        )
        legend_x += 110
    parts.append("</svg>")
    return "".join(parts)


def score_chart(dist: dict[str, Any]) -> str:
    bins = dist["bins"]
    if not bins:
        return "<p>no scores</p>"
    width = dist["bin_width"]
    first = bins[0]["lo"]
    by_lo = {b["lo"]: b for b in bins}
    los = list(range(first, bins[-1]["lo"] + width, width))
    users = [by_lo.get(lo, {}).get("users", 0) for lo in los]
    invited = [by_lo.get(lo, {}).get("invited", 0) for lo in los]
    at: dict[int, list[str]] = {}  # classes sharing a cutoff share one line and label
    for c, v in sorted(dist["marks"]["cutoff"].items()):
        at.setdefault(v, []).append(c)
    marks = [((v - first) / width, f"{', '.join(cs)} {v}") for v, cs in sorted(at.items())]
    series = [("users", users, "#9db4d6"), ("invited", invited, "#1f6f43")]
    return bar_chart([str(lo) for lo in los], series, marks, "score distribution")


def limit_chart(dist: dict[str, Any]) -> str:
    bins = dist["bins"]
    labels = [f"{b['lo']:,}+" if b["hi"] is None else f"{b['lo']:,}" for b in bins]
    cap = dist["marks"]["household_line_cap"]
    marks = [(float(i), f"cap {cap:,}") for i, b in enumerate(bins) if b["lo"] == cap]
    series = [("invited users", [b["users"] for b in bins], "#3f6fb5")]
    return bar_chart(labels, series, marks, "limit distribution")


def apr_chart(dist: dict[str, Any]) -> str:
    bins = dist["bins"]
    if not bins:
        return "<p>no offers</p>"
    labels = [_pct(b["apr"]) for b in bins]
    series = [("invited users", [b["users"] for b in bins], "#8e5ea2")]
    cap = dist["marks"]["apr_cap"]
    return bar_chart(labels, series, (), "APR distribution") + f"<p>APR cap {_pct(cap)}</p>"


def _table(head: Sequence[str], rows: Sequence[Sequence[Any]], text_cols: int = 0) -> str:
    out = ["<table><thead><tr>"]
    out += [f'<th class="{"t" if i < text_cols else ""}">{_e(h)}</th>' for i, h in enumerate(head)]
    out.append("</tr></thead><tbody>")
    for row in rows:
        out.append("<tr>")
        out += [
            f'<td class="{"t" if i < text_cols else ""}">{_num(v)}</td>' for i, v in enumerate(row)
        ]
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def policy_section(report: dict[str, Any]) -> str:
    p = report["policy"]
    kpis = [
        ("population", _num(report["population"])),
        ("invited", _num(report["invited"])),
        ("invited share", _pct(report["invited_share"])),
        ("expected bad rate", _pct(report["expected_bad_rate"])),
        ("realised bad rate", _pct(report["realised_bad_rate"])),
        ("exposure (CNY)", _num(report["exposure_cny"])),
        (f"expected loss (CNY, LGD {report['lgd']})", _e(report["expected_loss_cny"])),
        ("quarantined", _num(report["quarantined"])),
    ]
    funnel = _table(
        ["layer", "code", "gate", "stopped first here", "failing here"],
        [[s["layer"], s["code"], s["gate"], s["first"], s["any"]] for s in report["funnel"]],
        3,
    )
    regions = _table(
        ["class", "province", "city", "population", "invited", "expected bad rate", "cutoff"],
        [
            [
                r["region_class"],
                r["province"],
                r["city"],
                r["population"],
                r["invited"],
                _pct(r["expected_bad_rate"]),
                r["cutoff"],
            ]
            for r in report["by_region"]
        ],
        3,
    )
    cut = report["cutoffs"]
    cutoffs = _table(
        ["class", "policy cutoff", "cutoff", "quota (users)"],
        [[c, cut["policy"].get(c), v, cut["quotas"].get(c)] for c, v in cut["by_class"].items()],
        1,
    )
    city_rows = [
        [c, city, v, cut.get("city_quotas", {}).get(c, {}).get(city)]
        for c, xs in cut.get("by_city", {}).items()
        for city, v in xs.items()
    ]
    cities = (
        f'<div class="scroll">{_table(["class", "city", "cutoff", "quota (users)"], city_rows, 2)}'
        "</div>"
        if city_rows
        else ""
    )
    dist = report["distributions"]
    return "".join(
        [
            f"<section><h2>{_e(p['name'])} {_e(p['version'])} "
            f"<small>({_e(report.get('file', p['source']))})</small></h2>",
            '<div class="kpi">',
            *(f"<div>{_e(k)}<b>{v}</b></div>" for k, v in kpis),
            "</div>",
            f"<h3>Cutoffs (capacity {cut['capacity']:,} users)</h3>",
            cutoffs,
            "<h3>City cutoffs (partly open classes: each city's own quota)</h3>" + cities
            if cities
            else "",
            _products(report.get("products")),
            _rollout(report.get("rollout")),
            _stability(report.get("stability")),
            _churn(report.get("churn")),
            "<h3>Score distribution (dashed: each class's cutoff)</h3>",
            score_chart(dist["score"]),
            "<h3>Limits of the invited (CNY)</h3>",
            limit_chart(dist["limit_cny"]),
            "<h3>APR of the invited</h3>",
            apr_chart(dist["apr"]),
            "<h3>Funnel</h3>",
            funnel,
            "<h3>By region</h3>",
            f'<div class="scroll">{regions}</div>',
            "</section>",
        ]
    )


def _yuan(value: str | None) -> str:
    """A decimal string of yuan with thousands separators."""
    return "—" if value is None else f"{Decimal(value):,}"


def _both(name: dict[str, str]) -> str:
    """A name in both languages (zh-CN first), as the report holds it."""
    return " / ".join(name[lang] for lang in ("zh-CN", "en") if name.get(lang))


def _products(products: list[dict[str, Any]] | None) -> str:
    """The product family: per product its statuses, offered share (of all and of those the
    shared layers invite), exposure, mean and median line; a joint loan's yuan by lender."""
    if not products:
        return ""
    table = _table(
        [
            "product",
            "offered",
            "eligible (shared layers)",
            "own gates refused",
            "referred",
            "offered share",
            "offered of eligible",
            "exposure (CNY)",
            "mean line (CNY)",
            "median line (CNY)",
        ],
        [
            [
                f"{_both(p['name'])} ({p['product']})",
                p["offered"],
                p["eligible"],
                p["eligible"] - p["offered"],
                p["referred"],
                _pct(p["offered_share"]),
                _pct(p["offered_of_eligible"]),
                p["exposure_cny"],
                _yuan(p["mean_limit_cny"]),
                _yuan(p["median_limit_cny"]),
            ]
            for p in products
        ],
        1,
    )
    funding = "".join(
        f"<h4>{_e(_both(p['name']))}: funding by lender</h4>"
        + _table(
            ["lender", "funds (CNY)", "share of exposure"],
            [
                [
                    _both(f["name"]) + (" (own lender)" if f["own"] else ""),
                    f["amount_cny"],
                    _pct(str(f["amount_cny"] / p["exposure_cny"]) if p["exposure_cny"] else None),
                ]
                for f in p["funding"]
            ],
            1,
        )
        for p in products
        if p["funding"]
    )
    return '<h3 id="products">Products / 产品</h3>' + table + funding


def _rollout(rollout: dict[str, Any] | None) -> str:
    if rollout is None:
        return "<h3>Rollout</h3><p>no schedule: every province of an open class is open</p>"
    rows = [
        [
            ("▶ " if s["in_force"] else "") + s["from"],
            "all" if s["provinces"] == "all" else "、".join(s["provinces"]),
            "、".join(s["cities"]),
        ]
        for s in rollout["stages"]
    ]
    note = "" if rollout["stage"] is not None else "<p>before the first stage: all closed</p>"
    return f"<h3>Rollout at {_e(rollout['as_of'])}</h3>{note}" + _table(
        ["from", "provinces", "cities"], rows, 3
    )


def _stability(stab: dict[str, Any] | None) -> str:
    if stab is None:
        return ""
    rules = (
        f"invitations stand {stab['min_days']} days, then within {stab['band']} points of "
        "the cutoff"
        if stab["min_days"] or stab["band"]
        else "no hysteresis"
    )
    head = f"<h3>Stable entries ({_e(rules)})</h3>"
    return head + _table(
        [
            "kept by the rules (within capacity)",
            "servicing only",
            "lines cut (notified)",
            "withdrawn (notified)",
        ],
        [[stab[k] for k in ("retained", "servicing", "limit_reduced", "withdrawn")]],
    )


def _churn(churn: dict[str, Any] | None) -> str:
    if churn is None:
        return ""
    prev = churn["previous"]
    head = (
        f"<h3>Churn against {_e(prev['snapshot'])} ({_e(prev['policy_version'])}, as of "
        f"{_e(prev['as_of'])}: {_num(prev['invited'])} invited)</h3>"
    )
    counts = _table(
        ["kept", "lost", "gained", "not decided now", "churn rate", "lines cut", "lines raised"],
        [
            [
                churn["kept"],
                churn["lost"],
                churn["gained"],
                churn["not_decided"],
                _rate(churn["churn_rate"]),
                churn["limit_cut"],
                churn["limit_raised"],
            ]
        ],
    )
    reasons = _table(
        ["why the lost would be refused now", "users"],
        [[r["code"], r["users"]] for r in churn["lost_reasons"]],
        1,
    )
    return head + counts + (reasons if churn["lost_reasons"] else "")


def render(reports: Sequence[dict[str, Any]]) -> str:
    summary = _table(
        ["policy", "invited", "share", "expected bad rate", "realised", "exposure", "exp. loss"],
        [
            [
                f"{r['policy']['name']} {r['policy']['version']}",
                r["invited"],
                _pct(r["invited_share"]),
                _pct(r["expected_bad_rate"]),
                _pct(r["realised_bad_rate"]),
                r["exposure_cny"],
                r["expected_loss_cny"],
            ]
            for r in reports
        ],
        1,
    )
    return "".join(
        [
            '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            "<title>creditgate simulate</title>",
            f"<style>{STYLE}</style></head><body>",
            "<h1>creditgate simulate</h1>",
            summary,
            *(policy_section(r) for r in reports),
            "</body></html>\n",
        ]
    )


def write_html(path: Path, reports: Sequence[dict[str, Any]]) -> None:
    path.write_text(render(reports), encoding="utf-8")


def _rate(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.3f}%"


def render_compare(body: dict[str, Any]) -> str:
    """``compare.html``: both policies' totals, the swap set, the outcome transitions and the
    reasons that moved users, from ``compare.json``'s body."""
    sides = [("champion", body["champion"]), ("challenger", body["challenger"])]
    totals = _table(
        ["", "policy", "invited", "share", "expected bad rate", "realised", "exposure", "cutoffs"],
        [
            [
                side,
                f"{h['policy']['name']} {h['policy']['version']}",
                h["invited"],
                _pct(h["invited_share"]),
                _pct(h["expected_bad_rate"]),
                _pct(h["realised_bad_rate"]),
                h["exposure_cny"],
                ", ".join(f"{c} {v}" for c, v in sorted(h["cutoffs"].items())),
            ]
            for side, h in sides
        ],
        2,
    )
    cells = _table(
        [
            "champion",
            "challenger",
            "users",
            "expected bad rate (champion)",
            "expected bad rate (challenger)",
            "realised bad rate",
            "exposure champion (CNY)",
            "exposure challenger (CNY)",
        ],
        [
            [
                c["champion"],
                c["challenger"],
                c["users"],
                _rate(c["expected_bad_rate_champion"]),
                _rate(c["expected_bad_rate_challenger"]),
                _rate(c["realised_bad_rate"]),
                c["exposure_champion_cny"],
                c["exposure_challenger_cny"],
            ]
            for c in body["swap_set"]
        ],
        2,
    )
    transitions = _table(
        ["champion outcome", "challenger outcome", "users"],
        [[t["champion"], t["challenger"], t["users"]] for t in body["transitions"]],
        2,
    )
    by_class = _table(
        ["class", "swapped out", "swapped in"],
        [
            [r["region_class"], r["swapped_out"], r["swapped_in"]]
            for r in body["swaps_by_region_class"]
        ],
        1,
    )
    moved = [
        ("Why the challenger refuses users the champion invites", body["reasons_swapped_out"]),
        ("Why the champion refused users the challenger invites", body["reasons_swapped_in"]),
    ]
    return "".join(
        [
            '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            "<title>creditgate compare</title>",
            f"<style>{STYLE}</style></head><body>",
            "<h1>creditgate compare</h1>",
            f"<p>{_num(body['users'])} users decided by both (as of {_e(body['as_of'])}): "
            f"{_num(body['unchanged'])} keep their answer, {_num(body['changed'])} change it.</p>",
            totals,
            "<h2>Swap set</h2>",
            cells,
            "<h2>Outcome transitions</h2>",
            transitions,
            "<h2>Swaps by region class</h2>",
            by_class,
            *(
                f"<h2>{_e(title)}</h2>"
                + _table(["reason", "users"], [[r["code"], r["users"]] for r in rows], 1)
                for title, rows in moved
            ),
            _product_deltas(body.get("products")),
            "</body></html>\n",
        ]
    )


def _product_deltas(deltas: list[dict[str, Any]] | None) -> str:
    """Users offered each product under both policies (present when either has a family)."""
    if not deltas:
        return ""
    return '<h2 id="products">Products: users offered</h2>' + _table(
        ["product", "champion", "challenger", "change", "exposure champion", "exposure challenger"],
        [
            [
                d["product"],
                d["offered_champion"],
                d["offered_challenger"],
                f"{d['offered_delta']:+,}",
                d["exposure_champion_cny"],
                d["exposure_challenger_cny"],
            ]
            for d in deltas
        ],
        1,
    )


def write_compare_html(path: Path, body: dict[str, Any]) -> None:
    path.write_text(render_compare(body), encoding="utf-8")
