"""In-process decision throughput and latency, full explanations included, against GoRules
zen-engine deciding the same gates per record in the same process.

    .venv/bin/python benchmarks/bench_decide.py --users 20000
    .venv/bin/python benchmarks/bench_decide.py --users 20000 --policy my_policy.yaml

Population: the synthetic generator (realistic mix of invited, rejected, reviewed users).
creditgate: ``Decider.decide`` on validated rows, after a warm-up on other users (so the timed
users are new to every cache) -> outcome, score, PD, limit, APR, reasons
with zh-CN/en messages, recourse (exact score moves included), alternatives, review info.
zen-engine: one expression node computing every hard gate, the region gate, the fraud rules
and the outcome, given derived fields (age, account age...) precomputed for it, untimed.
Targets (issue 2): >= 5x zen-engine's throughput, median <= 20 us per full decision.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import time
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import zen

from creditgate.decider import Decider
from creditgate.policy.loader import load_policy
from creditgate.policy.nodes import Condition, Gate
from creditgate.population.synth import generate
from creditgate.profile import validate_profile

AS_OF = date(2026, 11, 28)


def zen_literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def zen_condition(c: Gate | Condition) -> str:
    if c.op is None:
        listed = ", ".join(zen_literal(v) for v in c.values)
        test = f"{c.field} in [{listed}]"
        return f"not ({test})" if c.negate_values else test
    return f"({c.field} != null and {c.field} {c.op.value} {zen_literal(c.value)})"


def zen_decision(decider: Decider) -> Any:
    """The policy's gates as one zen expression node (the baseline decides the same gates)."""
    policy = decider.policy
    exprs = []
    for g in policy.gates:
        cond = zen_condition(g)
        if g.when_missing:
            cond = f"({g.field} == null or {cond})"
        exprs.append((f"pass_{g.id}", cond))
    closed = [r.region_class for r in policy.regions if r.status.value == "closed"]
    exprs.append(("region_closed", f"region_class in [{', '.join(map(zen_literal, closed))}]"))
    for r in policy.fraud:
        exprs.append((f"fraud_{r.id}", " and ".join(zen_condition(c) for c in r.conditions)))
    declines = []  # an any-of group declines only when none of its gates passes
    for g in policy.gates:
        group = policy.group_of(g)
        if g is group[0]:
            declines.append("not (" + " or ".join(f"$.pass_{m.id}" for m in group) + ")")
    declines.append("$.region_closed")
    declines += [f"$.fraud_{r.id}" for r in policy.fraud if r.action.value == "decline"]
    reviews = [f"$.fraud_{r.id}" for r in policy.fraud if r.action.value == "review"]
    exprs.append(
        (
            "outcome",
            f"({' or '.join(declines)}) ? 'not_invited' : "
            f"(({' or '.join(reviews)}) ? 'manual_review' : 'eligible')",
        )
    )
    content = {
        "nodes": [
            {"id": "in", "type": "inputNode", "name": "request", "position": {"x": 0, "y": 0}},
            {
                "id": "gates",
                "type": "expressionNode",
                "name": "gates",
                "position": {"x": 1, "y": 0},
                "content": {
                    "expressions": [
                        {"id": str(i), "key": k, "value": v} for i, (k, v) in enumerate(exprs)
                    ]
                },
            },
            {"id": "out", "type": "outputNode", "name": "response", "position": {"x": 2, "y": 0}},
        ],
        "edges": [
            {"id": "a", "sourceId": "in", "targetId": "gates", "type": "edge"},
            {"id": "b", "sourceId": "gates", "targetId": "out", "type": "edge"},
        ],
    }
    return zen.ZenEngine().create_decision(json.dumps(content))


def zen_input(decider: Decider, row: dict[str, Any]) -> dict[str, Any]:
    ev = decider.evaluate(row, AS_OF)
    out: dict[str, Any] = {}
    for k, v in row.items():
        out[k] = float(v) if isinstance(v, Decimal) else v.isoformat() if isinstance(v, date) else v
    for name in decider.program.derived:
        v = ev[name]
        out[name] = v.isoformat() if isinstance(v, date) else v
    return out


def timed(fn: Any, items: list[Any]) -> tuple[float, list[int]]:
    lat = []
    clock = time.perf_counter_ns
    start = time.perf_counter()
    for item in items:
        t0 = clock()
        fn(item)
        lat.append(clock() - t0)
    return time.perf_counter() - start, lat


def summary(name: str, total: float, lat: list[int], n: int) -> dict[str, float]:
    lat = sorted(lat)
    fig = {
        "per_s": n / total,
        "median_us": statistics.median(lat) / 1000,
        "p99_us": lat[int(0.99 * (len(lat) - 1))] / 1000,
    }
    print(
        f"{name:<34} {fig['per_s']:>12,.0f}/s   median {fig['median_us']:7.2f} us   "
        f"p99 {fig['p99_us']:8.2f} us"
    )
    return fig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--zen-users", type=int, default=5_000)
    parser.add_argument("--policy", type=Path, help="a policy file (default: the packaged one)")
    args = parser.parse_args()

    decider = Decider(load_policy(args.policy) if args.policy else None)
    if decider.policy.products:
        print(f"products: {', '.join(p.id for p in decider.policy.products)}")

    def population(seed: int) -> list[dict[str, Any]]:
        table = next(generate(args.users, seed, AS_OF, chunk_size=args.users))
        return [{k: v for k, v in r.items() if k != "defaulted"} for r in table.to_pylist()]

    raw = population(args.seed)
    t0 = time.perf_counter()
    rows = [validate_profile(r, AS_OF, decider.policy, decider.regions) for r in raw]
    validate_s = time.perf_counter() - t0
    # Warm up on *other* users, so the timed pass meets every user for the first time (the
    # explanation caches hold what a running service would have seen, not these users).
    for r in population(args.seed + 1):
        decider.decide(validate_profile(r, AS_OF, decider.policy, decider.regions), AS_OF)

    # Startup objects (policy, caches, the populations) live as long as the process: keep them
    # out of the cyclic GC's full passes, as the service does at startup (service/app.py).
    gc.collect()
    gc.freeze()
    decide = lambda r: decider.decide(r, AS_OF)  # noqa: E731
    run = lambda r: decider.run(r, AS_OF)  # noqa: E731
    ours = summary("creditgate decide (full, new users)", *timed(decide, rows), len(rows))
    summary("creditgate decide (same users again)", *timed(decide, rows), len(rows))
    summary("creditgate compiled rules only", *timed(run, rows), len(rows))
    outcomes: dict[str, int] = {}
    for r in rows:
        d = decider.decide(r, AS_OF)
        outcomes[d.outcome] = outcomes.get(d.outcome, 0) + 1
    mix = ", ".join(f"{k} {v / len(rows):.1%}" for k, v in sorted(outcomes.items()))
    print(f"population: {len(rows):,} synthetic users (seed {args.seed}), as of {AS_OF}: {mix}")
    print(
        f"validation (Pydantic, strict): {len(rows) / validate_s:,.0f} profiles/s "
        f"({validate_s / len(rows) * 1e6:.2f} us each), not included above"
    )

    zen_rows = [zen_input(decider, r) for r in rows[: args.zen_users]]
    graph = zen_decision(decider)
    agree = sum(
        (graph.evaluate(z)["result"]["outcome"] == "not_invited")
        == any(decider.evaluate(r, AS_OF)[f"fail.{g.id}"] for g in decider.policy.gates)
        or decider.evaluate(r, AS_OF)["fail.region_closed"]
        for z, r in zip(zen_rows, rows, strict=False)
    )
    theirs = summary(
        "zen-engine gates only (baseline)", *timed(graph.evaluate, zen_rows), len(zen_rows)
    )
    print(f"zen agreement on hard-gate declines: {agree / len(zen_rows):.1%}")
    ratio = ours["per_s"] / theirs["per_s"]
    print(
        f"ratio creditgate full / zen gates: {ratio:.1f}x (target >= 5x); "
        f"median {ours['median_us']:.2f} us (target <= 20 us)"
    )


if __name__ == "__main__":
    main()
