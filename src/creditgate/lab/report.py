"""The figures of one policy over one population, as a plain JSON-ready dict.

Computed by three aggregations on the backend over the decided rows (``batch.run.decided``'s
columns: never the rows themselves in Python): one ``GROUP BY`` of (region class, city,
segment, outcome, first funnel step) carrying every sum the headline, the funnel and the
regional tables need, one of the scores and one of the invited users' offers. Everything
else is summed in Python over those small results.

Units: money in whole yuan as integers (``exposure_cny``) or, where a fraction of a yuan
arises, a decimal string to the fen (``expected_loss_cny``); rates and shares as decimal
strings to six places (``"0.004512"``), so both engines print the same text. PD sums are
exact: each PD is a multiple of 1e-6 (the program rounds it), summed as integers.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from operator import itemgetter
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir
import pyarrow as pa

from creditgate.batch.backends import Backend
from creditgate.batch.whitelist import Cutoffs
from creditgate.explain.catalogue import text
from creditgate.lab.funnel import FIRST, MASK, FunnelStep, failed_at
from creditgate.policy.bindings import Funding, ProductPart, ProductValue
from creditgate.policy.nodes import Outcome, Policy, ProductStatus
from creditgate.policy.schedule import stage_at
from creditgate.population.regions import RegionTable

OUTCOME = "_outcome"
RATE = Decimal("0.000001")
FEN = Decimal("0.01")
MICRO = 1_000_000
SCORE_BIN = 10  # points per score histogram bin
LIMIT_EDGES = (
    500,
    1000,
    2000,
    3000,
    5000,
    8000,
    10_000,
    20_000,
    30_000,
    50_000,
    80_000,
    100_000,
    150_000,
    200_000,
    300_000,
)  # yuan; the last bin is ">= 300,000"
DIMENSIONS = ("region_class", "province", "city", "segment")
TEXT_KEYS = frozenset(("region_class", "city", "segment", "outcome", "province"))


def rate(numerator: int | Decimal, denominator: int | Decimal) -> str | None:
    """``numerator / denominator`` as a six-place decimal string; None for 0 / 0."""
    if not denominator:
        return None
    value = Decimal(numerator) / Decimal(denominator)
    return str(value.quantize(RATE, rounding=ROUND_HALF_EVEN))


def report_of(
    backend: Backend,
    rows: ir.Table,
    steps: Sequence[FunnelStep],
    policy: Policy,
    cutoffs: Cutoffs,
    regions: RegionTable,
    as_of: date,
) -> dict[str, Any]:
    """The report of ``rows`` (one policy's decided rows at ``as_of``); counts of the input
    (rows read, quarantined) are the caller's to add (``with_counts``)."""
    has_outcome = OUTCOME in rows.columns
    invited = rows["outcome"] == Outcome.INVITED.value
    zero = ibis.literal(0, type="int64")
    pd_micro = (rows["pd"] * MICRO).round().cast("int64")
    limit = rows["limit_cny"].cast("int64")
    sums: dict[str, ir.Value] = {
        "n": rows.count(),
        "invited": invited.cast("int64").sum(),
        "pd_micro": ibis.ifelse(invited, pd_micro, zero).sum(),
        "exposure": ibis.ifelse(invited, limit, zero).sum(),
        "loss_micro": ibis.ifelse(invited, pd_micro * limit, zero).sum(),
    }
    sums |= stability_sums(rows)
    if has_outcome:
        bad = rows[OUTCOME].cast("int64")
        known = rows[OUTCOME].notnull().cast("int64")
        sums |= {"known": known.sum(), "bad": bad.fill_null(0).sum()}
    keys = {
        "region_class": rows["region_class"].cast("string"),
        "city": rows["city"].cast("string"),
        "segment": rows["segment"].cast("string"),
        "outcome": rows["outcome"].cast("string"),
        "first": rows[FIRST],
    }
    # Grouped twice: the rows by the keys and their funnel mask, then those groups by the keys
    # alone, each step's ``any`` counted from the masks. A row then costs one lookup and a
    # dozen sums, not one more sum per funnel step (26 in the default policy: most of the
    # pass), and the masks are few beside the rows.
    masked = rows.group_by(**keys, _mask=rows[MASK]).agg(**sums)
    resums = {k: masked[k].sum() for k in sums}
    anys = {
        f"any{i}": (failed_at(masked["_mask"], i) * masked["n"]).sum() for i in range(len(steps))
    }
    grouped = backend.fetch(masked.group_by(*keys).agg(**resums, **anys))
    # Sums a backend returns as other than integers (decimals) become ints; the rest are.
    convert = [
        f.name
        for f in grouped.schema
        if f.name not in TEXT_KEYS and not pa.types.is_integer(f.type)
    ]
    groups = grouped.to_pylist()
    scored = rows.filter(rows["score"].notnull())
    scores = backend.fetch(
        scored.group_by(
            region_class=scored["region_class"].cast("string"),
            score=scored["score"],
            invited=scored["outcome"] == Outcome.INVITED.value,
        ).agg(n=scored.count())
    ).to_pylist()
    offered = rows.filter(invited)
    offers = backend.fetch(
        offered.group_by(limit_cny=offered["limit_cny"], apr=offered["apr"].cast("string")).agg(
            n=offered.count()
        )
    ).to_pylist()
    provinces: dict[str, str | None] = {}  # a few hundred cities among thousands of groups
    for g in groups:
        name = g["city"]
        if name is not None and name not in provinces:
            city = regions.lookup(name)
            provinces[name] = city.province if city is not None else None
        g["province"] = provinces.get(name) if name is not None else None
        for k in convert:
            if g[k] is not None:
                g[k] = int(g[k])
    report = assemble(groups, scores, offers, steps, policy, cutoffs, has_outcome)
    report |= {"rollout": rollout(policy, regions, as_of)}
    if policy.products:
        report["products"] = product_counts(backend, rows, policy)
    return report


def product_counts(backend: Backend, rows: ir.Table, policy: Policy) -> list[dict[str, Any]]:
    """Per product of the family (docs/policy.md, "Products"): users by status, those the
    shared layers invite (``eligible``: the product's own gates then decide), the offered
    share of all and of the eligible, the exposure offered (the sum of its lines), the mean
    and median line, and a joint loan's yuan by lender. One grouped pass over the decided
    rows (by outcome and each product's status and line: a few hundred groups at most, since
    a product's lines are a table of the cash loan's), summed up here."""
    columns: dict[str, ir.Value] = {"outcome": rows["outcome"].cast("string")}
    for i, p in enumerate(policy.products):
        columns[f"s{i}"] = rows[ProductValue(p.id, ProductPart.STATUS).column].cast("string")
        columns[f"l{i}"] = rows[ProductValue(p.id, ProductPart.LIMIT).column].cast("int64")
        for j, lender in enumerate(p.lenders):
            columns[f"f{i}_{j}"] = rows[Funding(p.id, lender.id).column].cast("int64")
    # Staged first: grouping by the product expressions themselves lets DuckDB expand them
    # into the grouping (minutes for a few thousand users); computed once, it is milliseconds.
    # Rows that are a stored table already (the batch's staged decided rows on DuckDB) hold
    # those columns as values: grouped as they are, without a copy of every row.
    stored = isinstance(rows.op(), ops.DatabaseTable)
    staged = rows.select(**columns) if stored else backend.stage(rows.select(**columns))
    try:
        keys = [k for k in columns if not k.startswith("f")]
        sums = {k: staged[k].fill_null(0).sum() for k in columns if k.startswith("f")}
        groups = backend.fetch(staged.group_by(keys).agg(n=staged.count(), **sums)).to_pylist()
    finally:
        if not stored:
            backend.release(staged)
    population = sum(int(g["n"]) for g in groups)
    eligible = sum(int(g["n"]) for g in groups if g["outcome"] == Outcome.INVITED.value)
    out = []
    for i, p in enumerate(policy.products):
        statuses = {s.value: 0 for s in ProductStatus}
        lines: dict[int, int] = defaultdict(int)
        for g in groups:
            statuses[g[f"s{i}"]] += int(g["n"])
            if g[f"l{i}"] is not None:
                lines[int(g[f"l{i}"])] += int(g["n"])
        offered = statuses[ProductStatus.OFFERED.value]
        own = p.own_lender.id if p.own_lender else None
        out.append(
            {
                "product": p.id,
                "kind": p.kind.value,
                "name": text("products", p.kind.value),
                **statuses,
                "eligible": eligible,
                "offered_share": rate(offered, population),
                "offered_of_eligible": rate(offered, eligible),
                "exposure_cny": sum(line * k for line, k in lines.items()),
                **line_summary(lines),
                "funding": [
                    {
                        "lender": lender.id,
                        "name": dict(lender.name),
                        "own": lender.id == own,
                        "amount_cny": sum(int(g[f"f{i}_{j}"] or 0) for g in groups),
                    }
                    for j, lender in enumerate(p.lenders)
                ],
            }
        )
    return out


def line_summary(counts: dict[int, int]) -> dict[str, str | None]:
    """The mean (two places) and median of lines given as ``{line: users}``: the median the
    middle line, or the mean of the two middle ones, as ``statistics.median`` would."""
    n = sum(counts.values())
    if not n:
        return {"mean_limit_cny": None, "median_limit_cny": None}
    total = sum(line * k for line, k in counts.items())
    mean = (Decimal(total) / n).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)
    middle: list[int] = []
    seen = 0
    for line in sorted(counts):
        before, seen = seen, seen + counts[line]
        for rank in sorted({(n - 1) // 2, n // 2}):
            if before <= rank < seen:
                middle.append(line)
    median = Decimal(sum(middle)) / len(middle)
    return {"mean_limit_cny": str(mean), "median_limit_cny": f"{median:f}"}


STABILITY = ("retained", "servicing", "limit_reduced", "withdrawn")


def stability_sums(rows: ir.Table) -> dict[str, ir.Value]:
    """Counts of the stable-entry rules (docs/policy.md, "Stable entries"): ``retained``
    (invited only by the hysteresis; within the capacity and quotas, which rank held
    invitations first), ``servicing``, and the notified changes ``limit_reduced`` and
    ``withdrawn``."""
    flags = {
        "retained": rows["retained"],
        "servicing": rows["entry"] == "servicing",
        "limit_reduced": rows["limit_reduced"],
        "withdrawn": rows["withdrawn"],
    }
    return {k: v.cast("int64").sum() for k, v in flags.items()}


def assemble(
    groups: list[dict[str, Any]],
    scores: list[dict[str, Any]],
    offers: list[dict[str, Any]],
    steps: Sequence[FunnelStep],
    policy: Policy,
    cutoffs: Cutoffs,
    has_outcome: bool,
) -> dict[str, Any]:
    """The report from the aggregated groups (module docstring says what each holds)."""
    total = _totals(groups, len(steps), has_outcome)
    invited = total["invited"]
    lgd = policy.lgd
    report: dict[str, Any] = {
        "policy": {"name": policy.name, "version": policy.version, "source": policy.source},
        "population": total["n"],
        "invited": invited,
        "invited_share": rate(invited, total["n"]),
        "expected_bad_rate": rate(Decimal(total["pd_micro"]) / MICRO, invited),
        "realised_bad_rate": rate(total["bad_invited"], total["known_invited"])
        if has_outcome
        else None,
        "exposure_cny": total["exposure"],
        "lgd": str(lgd),
        "expected_loss_cny": str(
            (Decimal(total["loss_micro"]) * lgd / MICRO).quantize(FEN, rounding=ROUND_HALF_EVEN)
        ),
        "outcomes": dict(sorted(_by(groups, "outcome", "n").items())),
        "stability": {
            "min_days": policy.stability.min_days,
            "band": policy.stability.band,
            **{k: total[k] for k in STABILITY},
        },
        "observed": _observed(groups) if has_outcome else None,
        "cutoffs": {
            "capacity": cutoffs.capacity,
            "quotas": dict(sorted(cutoffs.quotas.items())),
            "by_class": dict(sorted(cutoffs.by_class.items())),
            "policy": dict(policy.scorecard.cutoffs),
            "expected_invited": cutoffs.expected_invited,
            "after_quotas": cutoffs.after_quotas,
            "by_city": {c: dict(sorted(xs.items())) for c, xs in sorted(cutoffs.by_city.items())},
            "city_quotas": {
                c: dict(sorted(xs.items())) for c, xs in sorted(cutoffs.city_quotas.items())
            },
        },
        "funnel": _funnel(groups, steps),
        "funnel_by": {dim: _funnel_by(groups, steps, dim) for dim in DIMENSIONS},
        "by_region": _by_region(groups, cutoffs),
        "distributions": {
            "score": _score_bins(scores, cutoffs, policy),
            "limit_cny": _limit_bins(offers, policy),
            "apr": _apr_bins(offers, policy),
        },
    }
    return report


def _totals(groups: list[dict[str, Any]], n_steps: int, has_outcome: bool) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for g in groups:
        for k in ("n", "invited", "pd_micro", "exposure", "loss_micro", *STABILITY):
            out[k] += g[k]
        if has_outcome and g["outcome"] == Outcome.INVITED:
            out["known_invited"] += g["known"]
            out["bad_invited"] += g["bad"]
    return out


def _by(groups: list[dict[str, Any]], key: str, value: str) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for g in groups:
        out[g[key]] += g[value]
    return dict(out)


def _observed(groups: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Users with a known outcome and the bad ones among them, per decision outcome."""
    out: dict[str, dict[str, int]] = {}
    for g in groups:
        cell = out.setdefault(g["outcome"], {"known": 0, "bad": 0})
        cell["known"] += g["known"]
        cell["bad"] += g["bad"]
    return dict(sorted(out.items()))


def _any_sums(groups: list[dict[str, Any]], n_steps: int) -> list[int]:
    """Each step's ``any<i>`` summed over ``groups``: one C-level transpose instead of a
    Python loop per (group, step) (tens of thousands of groups times dozens of steps)."""
    if n_steps == 0:
        return []
    if n_steps == 1:
        return [sum(g["any0"] for g in groups)]
    rows = map(itemgetter(*(f"any{i}" for i in range(n_steps))), groups)
    return [sum(column) for column in zip(*rows, strict=True)] or [0] * n_steps


def _step_counts(groups: list[dict[str, Any]], steps: Sequence[FunnelStep]) -> list[dict[str, Any]]:
    first = _by(groups, "first", "n")
    anys = _any_sums(groups, len(steps))
    return [
        {
            "layer": s.layer,
            "code": s.code,
            "gate": s.gate,
            "first": first.get(i, 0),  # type: ignore[call-overload]
            "any": anys[i],
        }
        for i, s in enumerate(steps)
    ]


def _funnel(groups: list[dict[str, Any]], steps: Sequence[FunnelStep]) -> list[dict[str, Any]]:
    return _step_counts(groups, steps)


def _funnel_by(
    groups: list[dict[str, Any]], steps: Sequence[FunnelStep], dim: str
) -> list[dict[str, Any]]:
    """Per value of ``dim``: its population, invited users and the funnel's first/any."""
    parts: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for g in groups:
        key = (g[dim], g["region_class"]) if dim == "city" else g[dim]
        parts[key].append(g)
    out = []
    for key in sorted(parts, key=lambda k: str(k)):
        part = parts[key]
        entry: dict[str, Any] = (
            {"city": key[0], "region_class": key[1]} if dim == "city" else {dim: key}
        )
        entry |= {
            "population": sum(g["n"] for g in part),
            "invited": sum(g["invited"] for g in part),
            "steps": [
                {"gate": c["gate"], "first": c["first"], "any": c["any"]}
                for c in _step_counts(part, steps)
            ],
        }
        out.append(entry)
    return out


def _by_region(groups: list[dict[str, Any]], cutoffs: Cutoffs) -> list[dict[str, Any]]:
    cells: dict[tuple[Any, Any, Any], dict[str, int]] = {}
    for g in groups:
        key = (g["region_class"], g["province"], g["city"])
        cell = cells.setdefault(key, {"n": 0, "invited": 0, "pd_micro": 0, "exposure": 0})
        for k in cell:
            cell[k] += g[k]
    return [
        {
            "region_class": c,
            "province": p,
            "city": city,
            "population": cell["n"],
            "invited": cell["invited"],
            "expected_bad_rate": rate(Decimal(cell["pd_micro"]) / MICRO, cell["invited"]),
            "exposure_cny": cell["exposure"],
            "cutoff": cutoffs.cutoff(c, city) if c is not None else None,
        }
        for (c, p, city), cell in sorted(cells.items(), key=lambda kv: tuple(map(str, kv[0])))
    ]


def _score_bins(scores: list[dict[str, Any]], cutoffs: Cutoffs, policy: Policy) -> dict[str, Any]:
    bins: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for r in scores:
        lo = int(r["score"]) // SCORE_BIN * SCORE_BIN
        bins[lo][0] += int(r["n"])
        if r["invited"]:
            bins[lo][1] += int(r["n"])
    return {
        "bin_width": SCORE_BIN,
        "bins": [
            {"lo": lo, "hi": lo + SCORE_BIN, "users": n, "invited": inv}
            for lo, (n, inv) in sorted(bins.items())
        ],
        "marks": {
            "cutoff": dict(sorted(cutoffs.by_class.items())),
            "policy_cutoff": dict(policy.scorecard.cutoffs),
        },
    }


def _limit_bins(offers: list[dict[str, Any]], policy: Policy) -> dict[str, Any]:
    counts = [0] * len(LIMIT_EDGES)
    below = 0
    for r in offers:
        value = r["limit_cny"]
        if value is None:
            continue
        i = sum(1 for e in LIMIT_EDGES if value >= e) - 1
        if i < 0:
            below += int(r["n"])
        else:
            counts[i] += int(r["n"])
    bins = [
        {"lo": lo, "hi": LIMIT_EDGES[i + 1] if i + 1 < len(LIMIT_EDGES) else None, "users": n}
        for i, (lo, n) in enumerate(zip(LIMIT_EDGES, counts, strict=True))
    ]
    if below:
        bins.insert(0, {"lo": 0, "hi": LIMIT_EDGES[0], "users": below})
    return {
        "bins": bins,
        "marks": {
            "min": policy.offer.min_limit,
            "max": policy.offer.max_limit,
            "household_line_cap": policy.jurisdiction.household_line_cap_cny,
        },
    }


def _apr_bins(offers: list[dict[str, Any]], policy: Policy) -> dict[str, Any]:
    counts: dict[str, int] = defaultdict(int)
    for r in offers:
        if r["apr"] is not None:
            counts[r["apr"]] += int(r["n"])
    return {
        "bins": [
            {"apr": apr, "users": n}
            for apr, n in sorted(counts.items(), key=lambda kv: Decimal(kv[0]))
        ],
        "marks": {"apr_cap": str(policy.jurisdiction.apr_cap)},
    }


def with_counts(
    report: dict[str, Any], input_rows: int, decided: int, quarantined: int, duplicate_rows: int
) -> dict[str, Any]:
    """``report`` with the input's counts first (they are the run's, not the policy's)."""
    counts = {
        "input_rows": input_rows,
        "decided": decided,
        "quarantined": quarantined,
        "duplicate_rows": duplicate_rows,
    }
    return counts | report


def write_report(path: Path, reports: Sequence[dict[str, Any]]) -> None:
    """``{"reports": [...]}``, one entry per policy in the order given (a ``report.json``)."""
    path.write_text(report_text(reports), encoding="utf-8")


def report_text(reports: Sequence[dict[str, Any]]) -> str:
    """``write_report``'s text (``batch`` writes it through the engine's file system)."""
    document = {"format": "creditgate.lab.report/1", "reports": list(reports)}
    return json.dumps(document, ensure_ascii=False, indent=1) + "\n"


def rollout(policy: Policy, regions: RegionTable, as_of: date) -> dict[str, Any] | None:
    """The rollout stage in force at ``as_of`` and the stages of the schedule (None: the policy
    has no schedule, every province of an open or partial class is open)."""
    if not policy.schedule:
        return None
    index = stage_at(policy.schedule, as_of)
    return {
        "as_of": as_of.isoformat(),
        "stage": index,  # None: before the first stage, every class closed
        "stages": [
            {
                "from": stage.start.isoformat(),
                "provinces": "all" if stage.every_province else list(stage.provinces),
                "cities": list(stage.cities),
                "in_force": i == index,
            }
            for i, stage in enumerate(policy.schedule)
        ],
    }
