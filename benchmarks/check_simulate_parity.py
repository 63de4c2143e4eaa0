"""``simulate`` against ``batch`` (and Spark against DuckDB) on a large population: every count.

    .venv/bin/python benchmarks/check_simulate_parity.py --users 1000000 [--spark]

Runs ``batch`` once (DuckDB), then the lab's evaluation of the same policy over the same file
on DuckDB (and on Spark with ``--spark``), and compares: outcome counts, invited per region
class, exposure and the funnel against the batch's decisions file, and the Spark report with
the DuckDB one field by field. Prints the times and every disagreement (none expected); exits 1
on any. The tests hold the same on small populations (tests/lab); this is the issue's 1M check.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from bench_simulate import AS_OF, synthetic  # this directory's (run as a script)
from creditgate.batch.backends import duckdb_backend, spark_backend
from creditgate.batch.run import run_batch
from creditgate.decider import Decider
from creditgate.lab.evaluate import evaluate


def simulated(backend: Any, source: Path, d: Decider) -> tuple[dict[str, Any], float]:
    start = time.perf_counter()
    with evaluate(backend, source, [d.policy], d.regions, AS_OF, "defaulted") as ev:
        report = ev.report(ev.runs[0])
    return report, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--spark", action="store_true")
    args = parser.parse_args()
    work, source = synthetic(args.users, "check-simulate-")
    d = Decider()
    start = time.perf_counter()
    out = work / "decisions.parquet"
    batch = run_batch(duckdb_backend(), source, out, d.policy, d.regions, AS_OF)
    batch_s = time.perf_counter() - start
    rows = pq.read_table(out, columns=["outcome", "region_class", "limit_cny", "reason_codes"])
    decided = rows.to_pydict()
    duck, duck_s = simulated(duckdb_backend(), source, d)
    problems: list[str] = []

    def same(name: str, got: object, want: object) -> None:
        if got != want:
            problems.append(f"{name}: simulate {got!r} != batch {want!r}")

    same("outcomes", duck["outcomes"], dict(sorted(batch.outcomes.items())))
    same("decided", duck["population"], batch.decided)
    same("quarantined", duck["quarantined"], batch.quarantined)
    invited = [i for i, o in enumerate(decided["outcome"]) if o == "invited"]
    same("exposure", duck["exposure_cny"], sum(decided["limit_cny"][i] for i in invited))
    by_class = Counter(decided["region_class"][i] for i in invited)
    got = Counter()
    for r in duck["by_region"]:
        got[r["region_class"]] += r["invited"]
    same("invited by class", +got, +by_class)
    codes = Counter(c for cs in decided["reason_codes"] for c in set(cs))
    for step in duck["funnel"]:
        if step["code"] in codes and step["any"] > codes[step["code"]]:
            problems.append(f"funnel {step['gate']}: {step['any']} > {codes[step['code']]}")
    print(f"users {args.users:,}; batch {batch_s:.1f} s, simulate (DuckDB) {duck_s:.1f} s")
    if args.spark:
        spark, spark_s = simulated(spark_backend(), source, d)
        print(f"simulate (Spark local) {spark_s:.1f} s")
        for key in sorted(set(duck) | set(spark)):
            if key != "policy" and duck.get(key) != spark.get(key):
                problems.append(f"Spark differs from DuckDB in {key}")
    for p in problems:
        print("DISAGREE", p)
    print("agree" if not problems else f"{len(problems)} disagreements")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
