"""What recourse per product costs a decision, against the same decider without it, in one
process.

    .venv/bin/python benchmarks/bench_product_recourse.py --users 5000 --runs 3

Population: the synthetic generator, validated, decided under the default policy and its
three-product family (``tests/products/family.yaml`` appended if the default has none).
Baseline: the same decider whose product recourse returns no steps (``ProductRecourse.steps``
replaced), so both compile the same program. The runs alternate (baseline, with, baseline,
...) after a warm-up on other users; figures are the
medians per user, split by whether every product was offered: for those the decision must
cost what it did (no product is planned), the others pay for re-deciding where steps lead.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from datetime import date
from pathlib import Path
from typing import Any

from creditgate.decider import Decider
from creditgate.decision import Decision
from creditgate.explain.product_recourse import ProductRecourse
from creditgate.policy.loader import default_policy_path, parse_policy
from creditgate.population.synth import generate
from creditgate.profile import validate_profile

AS_OF = date(2026, 11, 28)
FAMILY = Path(__file__).resolve().parents[1] / "tests" / "products" / "family.yaml"


def family_decider() -> Decider:
    text = default_policy_path().read_text(encoding="utf-8")
    if "\nproducts:" not in text:
        text += FAMILY.read_text(encoding="utf-8")
    return Decider(parse_policy(text, "default.yaml (+ family.yaml)"))


def population(decider: Decider, users: int, seed: int) -> list[dict[str, Any]]:
    table = next(generate(users, seed, AS_OF, chunk_size=users))
    rows = [{k: v for k, v in r.items() if k != "defaulted"} for r in table.to_pylist()]
    return [validate_profile(r, AS_OF, decider.policy, decider.regions) for r in rows]


def latencies(decider: Decider, rows: list[dict[str, Any]]) -> list[int]:
    clock = time.perf_counter_ns
    out = []
    for row in rows:
        t0 = clock()
        decider.decide(row, AS_OF)
        out.append(clock() - t0)
    return out


def all_offered(d: Decision) -> bool:
    return all(o.status == "offered" for o in d.offers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=5_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    decider = family_decider()
    print(f"products: {', '.join(p.id for p in decider.policy.products)}")
    rows = population(decider, args.users, args.seed)
    kinds = [all_offered(decider.decide(r, AS_OF)) for r in rows]
    planned = sum(
        1 for r in rows for o in decider.decide(r, AS_OF).offers if o.status == "not_eligible"
    )
    for r in population(decider, args.users, args.seed + 1):  # warm-up on other users
        decider.decide(r, AS_OF)
    gc.collect()
    gc.freeze()
    steps = ProductRecourse.steps
    times: dict[str, list[list[int]]] = {"without": [], "with": []}
    for _ in range(args.runs):
        for name in ("without", "with"):
            if name == "without":
                ProductRecourse.steps = lambda *a, **k: ()  # type: ignore[method-assign]
            else:
                ProductRecourse.steps = steps  # type: ignore[method-assign]
            times[name].append(latencies(decider, rows))
    ProductRecourse.steps = steps  # type: ignore[method-assign]

    def median_us(name: str, offered: bool | None) -> float:
        per_run = [
            statistics.median(t for t, k in zip(run, kinds, strict=True) if offered in (None, k))
            for run in times[name]
        ]
        return statistics.median(per_run) / 1000

    share = sum(kinds) / len(kinds)
    print(
        f"{len(rows):,} users: {share:.1%} offered every product; "
        f"{planned:,} products not offered (each planned)"
    )
    for label, offered in (("every product offered", True), ("some not offered", False)):
        base, ours = median_us("without", offered), median_us("with", offered)
        print(
            f"{label:<24} median {base:8.2f} us without, {ours:8.2f} us with "
            f"product recourse (ratio {ours / base:.2f})"
        )
    total = {n: statistics.median(sum(run) for run in times[n]) / 1e9 for n in times}
    print(
        f"throughput: {len(rows) / total['without']:,.0f}/s without, "
        f"{len(rows) / total['with']:,.0f}/s with ({total['without'] / total['with']:.2f} of it)"
    )


if __name__ == "__main__":
    main()
