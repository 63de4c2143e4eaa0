"""Batch throughput with the product family against the cash loan alone, in one process.

    .venv/bin/python benchmarks/bench_products.py --users 200000 --runs 3

Timed: ``run_batch`` on DuckDB from a Parquet file of N synthetic users to the decisions, the
quarantine file, the report and the snapshot, under the default policy cut before its
``products:`` section (one product, the cash loan: no offers file) and under that cut with
the three-product family of ``tests/products/family.yaml`` appended (the default's own: cash
loan, instalments, a joint loan with two partners: also ``decisions.offers.parquet``, one
row per user and product). The runs alternate (single, family, single, ...) so both see the
same machine; the figures are the medians. Target (issue 17): the family keeps >= 0.6 of
the single product's throughput.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import date
from pathlib import Path

from bench_batch import synthesized
from creditgate.batch.backends import duckdb_backend
from creditgate.batch.run import run_batch
from creditgate.decider import Decider
from creditgate.policy.loader import default_policy_path, parse_policy

AS_OF = date(2025, 6, 30)
FAMILY = Path(__file__).resolve().parents[1] / "tests" / "products" / "family.yaml"


def timed(decider: Decider, source: Path, out: Path, memory: str, threads: int) -> float:
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    run_batch(
        duckdb_backend(memory, threads),
        source,
        out / "decisions.parquet",
        decider.policy,
        decider.regions,
        AS_OF,
        snapshot=out / "snapshot.parquet",
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument("--workdir", type=Path, default=Path(".bench"))
    parser.add_argument("--memory-limit", default="2GB")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    work: Path = args.workdir
    source = synthesized(args.users, work)
    packaged = default_policy_path().read_text(encoding="utf-8")
    cash = packaged[: packaged.find("\nproducts:\n")] if "\nproducts:\n" in packaged else packaged
    single = Decider(parse_policy(cash, "default.yaml, cash loan alone"))
    text = cash + FAMILY.read_text(encoding="utf-8")
    family = Decider(parse_policy(text, "default.yaml + family.yaml"), single.regions)
    print(f"products: {', '.join(f'{p.id} ({p.kind.value})' for p in family.policy.products)}")
    times: dict[str, list[float]] = {"single": [], "family": []}
    for i in range(max(1, args.runs)):
        for name, decider in (("single", single), ("family", family)):
            seconds = timed(
                decider, source, work / f"products_{name}", args.memory_limit, args.threads
            )
            times[name].append(seconds)
            print(f"run {i + 1} {name}: {seconds:.2f} s ({args.users / seconds:,.0f} users/s)")
    single_s, family_s = statistics.median(times["single"]), statistics.median(times["family"])
    print(f"single product: {args.users / single_s:,.0f} users/s (median {single_s:.2f} s)")
    print(f"three products: {args.users / family_s:,.0f} users/s (median {family_s:.2f} s)")
    print(f"ratio (three / single throughput): {single_s / family_s:.2f} (target >= 0.6)")


if __name__ == "__main__":
    main()
