"""Calibration cost against one batch run of the same users, in one process.

    .venv/bin/python benchmarks/bench_calibrate.py --users 200000 [--ceiling 0.004]

Timed: (1) ``run_batch`` of the default policy over N synthetic users (decisions and
quarantine written, no snapshot); (2) one calibration of the same file: the pool batch run,
the pool's counts by (class, city, score), the exact search at the ceiling, the frontier's
ceilings and the relaxations that name the binding constraint. The input file is generated
first (untimed). Target (issue 14): calibration <= 2x the batch run. The search (the per-floor,
per-city quota counts, the exact search at every ceiling, the re-evaluations) is printed on a
line of its own: it depends on the number of distinct (class, city, score) counts, not on N.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date
from pathlib import Path

from creditgate.batch.backends import duckdb_backend
from creditgate.batch.run import run_batch
from creditgate.decider import Decider
from creditgate.lab.calibrate import calibrate
from creditgate.lab.pool import read_pool
from creditgate.population.synth import write_parquet

AS_OF = date(2026, 11, 28)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument("--ceiling", type=float, default=0.004)
    args = parser.parse_args()
    decider = Decider()
    backend = duckdb_backend()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        source = work / "users.parquet"
        write_parquet(source, args.users, seed=5, as_of=AS_OF)
        start = time.perf_counter()
        run_batch(backend, source, work / "d.parquet", decider.policy, decider.regions, AS_OF)
        batch_s = time.perf_counter() - start
        start = time.perf_counter()
        pool = read_pool(backend, source, decider.policy, decider.regions, AS_OF)
        pool_s = time.perf_counter() - start
        result = calibrate(
            pool.eligible, pool.all_users, decider.policy, decider.regions, args.ceiling
        )
        total_s = time.perf_counter() - start
        search_s = total_s - pool_s
    best = result.best
    print(
        f"users {args.users:,}; pool {sum(e.users for e in pool.eligible):,} in "
        f"{len(pool.eligible):,} (class, city, score) counts"
    )
    print(f"batch run        {batch_s:8.2f} s")
    print(f"calibration      {total_s:8.2f} s  (pool {pool_s:.2f} s + search)")
    print(f"  search         {search_s:8.2f} s  (per-city quota counts, exact search, frontier)")
    print(f"ratio            {total_s / batch_s:8.2f}x  (target <= 2x)")
    if best is not None:
        print(
            f"ceiling {args.ceiling}: invited {best.invited:,}, expected bad rate "
            f"{best.expected_bad_rate:.4%}, binding {result.binding}, floors {dict(best.floors)}"
        )


if __name__ == "__main__":
    main()
