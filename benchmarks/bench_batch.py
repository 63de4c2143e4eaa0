"""End-to-end batch throughput and peak memory on DuckDB, against hand-written DuckDB SQL.

    .venv/bin/python benchmarks/bench_batch.py --users 10000000

Timed: ``run_batch`` from a Parquet file of N synthetic users to the decisions Parquet (outcome,
score, PD, limit, prices, reason codes in Decider order), the quarantine file and the
whitelist snapshot: validation, duplicate check, ranking and every write included.
Baseline, same file, same process: one hand-written ``COPY (SELECT ...) TO`` computing the
default policy's gates, fraud rules, score, cutoff and outcome (no validation, no reasons, no
quotas), i.e. the least a hand-rolled SQL job would do. The input file is generated first in a
subprocess (untimed, and outside this process's peak RSS). Peak RSS is this process's
``ru_maxrss``, which includes DuckDB (it runs in-process).
Targets (issue 3): >= 2M users/s, peak <= 4 GiB, ratio to the hand-written SQL >= 0.5.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from creditgate.batch.backends import duckdb_backend
from creditgate.batch.run import run_batch
from creditgate.decider import Decider

AS_OF = date(2025, 6, 30)

HAND_WRITTEN = """
COPY (
  WITH d AS (
    SELECT *,
      date_diff('year', birth_date, DATE '{as_of}')
        - CASE WHEN strftime(birth_date, '%m%d') > '{mmdd}' THEN 1 ELSE 0 END AS age,
      date_diff('day', registered_at, DATE '{as_of}') AS account_age_days,
      CASE WHEN current_overdue_days > 0 THEN DATE '{as_of}' ELSE last_overdue_on END AS lod,
      CASE WHEN is_county_area THEN 'county'
           ELSE (SELECT region_class FROM cities c WHERE c.city = p.city) END AS region_class
    FROM read_parquet('{path}') p
  ), s AS (
    SELECT *,
      500
      + CASE WHEN avg_daily_opens_90d < 1 THEN 0 WHEN avg_daily_opens_90d < 3 THEN 12 ELSE 30 END
      + CASE WHEN monthly_spend_cny_6m < 500 THEN 0 WHEN monthly_spend_cny_6m < 2000 THEN 15
             WHEN monthly_spend_cny_6m < 5000 THEN 30 ELSE 38 END
      + CASE WHEN ecosystem_repayment_score < 60 THEN 0 WHEN ecosystem_repayment_score < 80 THEN 20
             WHEN ecosystem_repayment_score < 90 THEN 35 ELSE 45 END
      + CASE WHEN pay_score < 650 THEN 0 WHEN pay_score < 700 THEN 15
             WHEN pay_score < 750 THEN 30 ELSE 40 END
      + CASE WHEN account_age_days < 730 THEN 0 WHEN account_age_days < 1825 THEN 10 ELSE 20 END
      + CASE WHEN ecosystem_active_products < 2 THEN 0
             WHEN ecosystem_active_products < 4 THEN 10 ELSE 18 END
      + CASE WHEN monthly_flow_cv_6m < 0.2 THEN 20 WHEN monthly_flow_cv_6m < 0.35 THEN 12
             WHEN monthly_flow_cv_6m < 0.5 THEN 4 ELSE 0 END AS score,
      CASE region_class WHEN 'tier1' THEN 620 WHEN 'new_tier1' THEN 630
           WHEN 'capital' THEN 640 WHEN 'prefecture' THEN 650 END AS cutoff
    FROM d
  )
  SELECT user_id, score, CASE
    WHEN NOT consent_credit_data OR NOT consent_behaviour_data OR age < 18 OR is_student
      OR NOT real_name_verified OR pay_score < 600 OR current_overdue_days > 0
      OR coalesce(lod > DATE '{as_of}' - INTERVAL 24 MONTH, false)
      OR account_age_days < 365 OR NOT bank_card_bound OR monthly_flow_cv_6m > 0.5
      OR ecosystem_active_products < 1 OR coalesce(region_class = 'county', true)
      OR blacklist_hit OR accounts_on_device >= 6 OR score < cutoff - 5 THEN 'not_invited'
    WHEN accounts_on_device >= 3 OR applications_7d >= 5 OR score < cutoff
      OR coalesce(sim_changed_days_ago <= 7 AND applications_7d >= 1, false) THEN 'manual_review'
    WHEN occupation = 'small_business_owner' THEN 'referred'
    ELSE 'invited' END AS outcome
  FROM s
) TO '{out}' (FORMAT parquet, COMPRESSION zstd)
"""


def hand_written(path: Path, out: Path, memory_limit: str, threads: int) -> float:
    decider = Decider()
    backend = duckdb_backend(memory_limit, threads)
    raw = backend.con.con
    raw.execute("CREATE TABLE cities (city VARCHAR, region_class VARCHAR)")
    rows = [(c.name, c.region_class.value) for c in decider.regions.cities.values()]
    raw.executemany("INSERT INTO cities VALUES (?, ?)", rows)
    sql = HAND_WRITTEN.format(
        as_of=AS_OF.isoformat(), mmdd=AS_OF.strftime("%m%d"), path=path, out=out
    )
    start = time.perf_counter()
    raw.execute(sql)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=10_000_000)
    parser.add_argument("--workdir", type=Path, default=Path(".bench"))
    parser.add_argument("--memory-limit", default="3GB")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip-baseline", action="store_true")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    source = args.workdir / f"users_{args.users}.parquet"
    if not source.exists():
        print(f"generating {args.users:,} users -> {source} (untimed, in a subprocess)")
        cli = Path(sys.executable).with_name("creditgate")
        subprocess.run(
            [str(cli), "synth", "--users", str(args.users), "--seed", "7", "--out", str(source)],
            check=True,
        )
    decider = Decider()
    backend = duckdb_backend(args.memory_limit, args.threads)
    start = time.perf_counter()
    report = run_batch(
        backend,
        source,
        args.workdir / "decisions.parquet",
        decider.policy,
        decider.regions,
        AS_OF,
        snapshot=args.workdir / "snapshot.parquet",
    )
    seconds = time.perf_counter() - start
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    rate = report.input_rows / seconds
    print(f"creditgate batch: {report.input_rows:,} users in {seconds:.2f}s = {rate:,.0f} users/s")
    print(f"  reconciles: {report.reconciles}; outcomes {report.outcomes}")
    print(f"  invited share {report.outcomes.get('invited', 0) / report.input_rows:.2%}")
    print(f"  peak RSS {peak_gib:.2f} GiB (DuckDB memory_limit {args.memory_limit})")
    if not args.skip_baseline:
        base = hand_written(source, args.workdir / "hand.parquet", args.memory_limit, args.threads)
        base_rate = report.input_rows / base
        print(f"hand-written SQL: {base:.2f}s = {base_rate:,.0f} users/s")
        print(f"ratio creditgate / hand-written: {rate / base_rate:.2f}")
        peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        print(f"peak RSS incl. baseline {peak_gib:.2f} GiB")


if __name__ == "__main__":
    main()
