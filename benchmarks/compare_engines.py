"""DuckDB and Spark decide a synthetic file identically, row for row.

    .venv/bin/python benchmarks/compare_engines.py --users 100000

The file is decided by the full DuckDB batch (validation, ranking, snapshot cutoffs); then the
same lowered program, with those cutoffs, is compiled to Ibis once more and run on Spark over
the same Parquet file. Every output column of every row must match. (The Spark run skips the
validation expression: Spark's planner takes minutes on it; see the report.)
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq

from creditgate.batch.backends import duckdb_backend, spark_backend
from creditgate.batch.decisions import decision_columns
from creditgate.batch.run import run_batch
from creditgate.batch.whitelist import apply_cutoffs
from creditgate.decider import Decider
from creditgate.policy.lower import lower
from creditgate.schema import PROFILE_FIELDS

AS_OF = date(2025, 6, 30)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--workdir", type=Path, default=Path(".bench"))
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    source = args.workdir / f"users_{args.users}.parquet"
    if not source.exists():
        cli = Path(sys.executable).with_name("creditgate")
        subprocess.run(
            [str(cli), "synth", "--users", str(args.users), "--out", str(source)], check=True
        )
    d = Decider()
    out = args.workdir / "compare_duckdb.parquet"
    start = time.perf_counter()
    report = run_batch(duckdb_backend(), source, out, d.policy, d.regions, AS_OF)
    print(f"duckdb batch: {report.input_rows:,} users in {time.perf_counter() - start:.1f}s")
    duck = pq.read_table(out).sort_by("user_id")

    cut = apply_cutoffs(d.policy, report.cutoffs.by_class, by_city=report.cutoffs.by_city)
    program = lower(cut, d.regions)
    spark = spark_backend()
    start = time.perf_counter()
    table = spark.read(source).select(*PROFILE_FIELDS)
    expr = decision_columns(program, table, AS_OF, extra=("region_class",))
    sparked = spark.fetch(expr).select(duck.column_names).sort_by("user_id")
    print(f"spark: {sparked.num_rows:,} users in {time.perf_counter() - start:.1f}s")
    same = duck.cast(sparked.schema).equals(sparked)
    print(f"identical rows: {same} ({duck.num_rows:,} rows, {len(duck.column_names)} columns)")
    sys.exit(0 if same else 1)


if __name__ == "__main__":
    main()
