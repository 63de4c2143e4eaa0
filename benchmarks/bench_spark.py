"""Users/s of one batch run on DuckDB, on Spark ``local[*]`` and on a standalone Spark cluster
(a master and one worker started from the installed pyspark, on loopback), same input, same
process, with the time of each step (docs/scale.md reads these).

    python benchmarks/bench_spark.py --users 1000000
    python benchmarks/bench_spark.py --users 200000 --shuffle-partitions 2,8,32

``--shuffle-partitions``: extra ``local[*]`` runs, one per value of
``spark.sql.shuffle.partitions``, to see how the duplicate check and the ranking (the
shuffles) scale with partitions. Every Spark run's outcomes and cutoffs are checked against
DuckDB's.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "batch"))  # the tests' standalone cluster

from spark_cluster import standalone_cluster  # noqa: E402

from creditgate.batch.backends import Backend, duckdb_backend, spark_backend  # noqa: E402
from creditgate.batch.run import BatchReport, run_batch  # noqa: E402
from creditgate.batch.spark import spark_session  # noqa: E402
from creditgate.decider import Decider  # noqa: E402
from creditgate.population.synth import write_parquet  # noqa: E402

AS_OF = date(2026, 11, 28)


class Steps:
    """Wall time per ``run_batch`` step (the step names are its progress messages)."""

    def __init__(self) -> None:
        self.times: dict[str, float] = {}
        self.current: tuple[str, float] | None = None

    def __call__(self, name: str) -> None:
        now = time.perf_counter()
        if self.current is not None:
            before, start = self.current
            self.times[before] = self.times.get(before, 0.0) + now - start
        self.current = (name, now)

    def close(self) -> None:
        self("")


def timed(
    backend: Backend, source: Path, out: Path, snapshot: Path
) -> tuple[float, BatchReport, Steps]:
    d = Decider()
    steps = Steps()
    start = time.perf_counter()
    report = run_batch(backend, source, out, d.policy, d.regions, AS_OF, snapshot, step=steps)
    seconds = time.perf_counter() - start
    steps.close()
    return seconds, report, steps


@contextmanager
def spark(master: str, conf: dict[str, str]) -> Iterator[Backend]:
    session = spark_session(master, conf)
    try:
        yield spark_backend(session)
    finally:
        session.stop()


def line(label: str, users: int, seconds: float, report: BatchReport, cores: int) -> str:
    rate = users / seconds
    return (
        f"{label:<34} {seconds:8.1f} s  {rate:>10,.0f} users/s  "
        f"{rate / cores:>10,.0f} users/s per core  invited {report.outcomes.get('invited', 0):,}"
    )


def check(base: BatchReport, other: BatchReport, label: str) -> None:
    same = (base.outcomes, base.quarantined, base.cutoffs) == (
        other.outcomes,
        other.quarantined,
        other.cutoffs,
    )
    print(f"  {label}: outcomes, quarantine and cutoffs {'identical' if same else 'DIFFER'}")


def steps_line(steps: Steps) -> str:
    return "  steps: " + ", ".join(f"{k} {v:.1f}" for k, v in steps.times.items() if k)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--users", type=int, default=1_000_000)
    p.add_argument("--workdir", type=Path, default=ROOT / ".bench")
    p.add_argument("--worker-cores", type=int, default=os.cpu_count() or 1)
    p.add_argument("--worker-memory", default="4g")
    p.add_argument("--shuffle-partitions", default="", help="e.g. 2,8,32: extra local[*] runs")
    p.add_argument("--skip-cluster", action="store_true")
    args = p.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    source = args.workdir / f"users_{args.users}_dirty.parquet"
    if not source.exists():
        write_parquet(source, args.users, seed=7, as_of=AS_OF, dirty_fraction=0.01)
    cores = os.cpu_count() or 1
    print(f"{args.users:,} users (1 % dirty), {cores} cores, load {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        out = Path(tmp)

        def run(backend: Backend, name: str) -> tuple[float, BatchReport, Steps]:
            return timed(backend, source, out / name / "decisions", out / name / "snapshot.parquet")

        for name in ("duckdb", "local", "cluster"):
            (out / name).mkdir()
        seconds, base, steps = run(duckdb_backend(), "duckdb")
        print(line("DuckDB (all cores, 3GB)", args.users, seconds, base, cores))
        print(steps_line(steps))
        with spark("local[*]", {}) as backend:
            seconds, report, steps = run(backend, "local")
        print(line("Spark local[*]", args.users, seconds, report, cores))
        print(steps_line(steps), flush=True)
        check(base, report, "local[*]")
        if not args.skip_cluster:
            cluster_run(args, out, run, base)
        for n in [int(x) for x in args.shuffle_partitions.split(",") if x]:
            (out / f"p{n}").mkdir()
            with spark("local[*]", {"spark.sql.shuffle.partitions": str(n)}) as backend:
                seconds, report, steps = run(backend, f"p{n}")
            print(
                line(f"Spark local[*], {n} shuffle partitions", args.users, seconds, report, cores)
            )
            print(steps_line(steps))


def cluster_run(
    args: argparse.Namespace,
    out: Path,
    run: Callable[[Backend, str], tuple[float, BatchReport, Steps]],
    base: BatchReport,
) -> None:
    memory = args.worker_memory
    with standalone_cluster(out / "cluster-daemons", args.worker_cores, memory) as cluster:
        conf: dict[str, Any] = {"spark.executor.memory": memory}
        with spark(cluster.master_url, conf) as backend:
            seconds, report, steps = run(backend, "cluster")
    label = f"Spark standalone ({args.worker_cores} cores)"
    print(line(label, args.users, seconds, report, args.worker_cores))
    print(steps_line(steps), flush=True)
    check(base, report, "standalone")


if __name__ == "__main__":
    main()
