"""``simulate`` of 4 candidate policies against one ``batch`` run, same users, same process.

    .venv/bin/python benchmarks/bench_simulate.py --users 200000

Timed: ``run_batch`` (decisions, quarantine and report written; no snapshot) and one
``lab.evaluate`` call with four variants of the default policy (capacity shares 0.15, 0.12,
0.10, 0.08 and a stricter tier-1 floor) plus each one's report (``Evaluation.report``), over
the same synthetic Parquet file (generated first, untimed, in a subprocess). Target (issue 14):
simulate of 4 policies <= 2x one batch run. Prints both times and the ratio.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

from creditgate.batch.backends import duckdb_backend
from creditgate.batch.run import run_batch
from creditgate.decider import Decider
from creditgate.lab.evaluate import evaluate

AS_OF = date(2025, 6, 30)


def synthetic(users: int, prefix: str) -> tuple[Path, Path]:
    """A fresh directory holding ``users.parquet``: ``users`` synthetic users (seed 7, as of
    ``AS_OF``), generated in a subprocess so that its memory is not the benchmark's."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
    source = work / "users.parquet"
    subprocess.run(
        [sys.executable, "-m", "creditgate.cli.main", "synth", "--users", str(users),
         "--seed", "7", "--as-of", AS_OF.isoformat(), "--out", str(source)],
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return work, source


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument("--memory-limit", default="3GB")
    args = parser.parse_args()
    work, source = synthetic(args.users, "bench-simulate-")
    d = Decider()
    card = d.policy.scorecard
    stricter = replace(
        card, cutoffs=tuple((c, v + 10 if c == "tier1" else v) for c, v in card.cutoffs)
    )
    candidates = [
        d.policy,
        replace(d.policy, name="cap12", capacity_share=0.12),
        replace(d.policy, name="cap10", capacity_share=0.10),
        replace(d.policy, name="strict", capacity_share=0.08, scorecard=stricter),
    ]
    start = time.perf_counter()
    batch = run_batch(
        duckdb_backend(args.memory_limit), source, work / "decisions.parquet", d.policy,
        d.regions, AS_OF,
    )  # fmt: skip
    batch_s = time.perf_counter() - start
    start = time.perf_counter()
    with evaluate(duckdb_backend(args.memory_limit), source, candidates, d.regions, AS_OF) as ev:
        reports = [ev.report(run) for run in ev.runs]
    simulate_s = time.perf_counter() - start
    assert reports[0]["invited"] == batch.outcomes.get("invited", 0)
    print(f"users {args.users:,}")
    print(f"batch (1 policy):     {batch_s:7.2f} s  ({args.users / batch_s:,.0f} users/s)")
    print(f"simulate (4 policies): {simulate_s:7.2f} s")
    print(f"ratio simulate/batch:  {simulate_s / batch_s:7.2f}  (target <= 2)")
    for r in reports:
        name, bad = r["policy"]["name"], r["expected_bad_rate"]
        print(f"  {name:<8} invited {r['invited']:>9,}  expected bad rate {bad}")


if __name__ == "__main__":
    main()
