"""What queuing a snapshot's manual reviews at activation costs (``service/snapshot_reviews``).

A synthetic population (default 100,000 users: about 1 % are ``manual_review``) goes through
the DuckDB batch with a snapshot; a service on a fresh SQLite database starts with it (the
start-up activation), and its background job stores and queues every review row. Printed: the
review rows, the job's time and per-user cost, against a baseline measured in the same
process: the same job with one decision in flight at a time (no group commit).

    .venv/bin/python benchmarks/bench_snapshot_reviews.py --users 100000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from creditgate.batch.backends import duckdb_backend
from creditgate.batch.run import run_batch
from creditgate.decider import Decider
from creditgate.population.synth import write_parquet
from creditgate.service import snapshot_reviews
from creditgate.service.app import create_app
from creditgate.service.settings import Settings

AS_OF = date(2026, 11, 28)


def queue_once(work: Path, snapshot: Path, name: str) -> dict[str, Any]:
    """Start a service on a fresh database with ``snapshot``; wait for its queuing job."""
    settings = Settings(
        db_url=f"sqlite:///{work / name}.db",
        secret="bench-secret",
        tokens="bench:admin:bench-admin-token",
        rate_limit_per_s=0,
        access_log=False,
        snapshot_dir=str(work / f"snapshots-{name}"),
        snapshot_path=str(snapshot),
        log_level="WARNING",
    )
    start = time.perf_counter()
    app = create_app(settings)
    app.state.snapshot_reviews.join()
    waited = time.perf_counter() - start
    sid = app.state.services.state.snapshot.snapshot_id
    result: dict[str, Any] = app.state.snapshot_reviews.results[sid]
    app.state.services.engine.dispose()
    return result | {"start_and_queue_s": waited}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        source = work / "users.parquet"
        write_parquet(source, args.users, seed=args.seed, as_of=AS_OF)
        decider = Decider()
        snapshot = work / "batch" / "snapshot.parquet"
        snapshot.parent.mkdir()
        run_batch(
            duckdb_backend("1GB", 1),
            source,
            work / "decisions.parquet",
            decider.policy,
            decider.regions,
            AS_OF,
            snapshot=snapshot,
        )
        grouped = queue_once(work, snapshot, "grouped")
        snapshot_reviews.CONCURRENCY = 1  # the baseline: one decision committed at a time
        single = queue_once(work, snapshot, "single")
    rows = grouped["review_rows"]
    for label, r in (("concurrent (64 in flight)", grouped), ("baseline (1 in flight)", single)):
        per = r["ms"] / max(r["queued"], 1)
        print(
            f"{label:27} review rows {r['review_rows']:,}, queued {r['queued']:,}: "
            f"{r['ms'] / 1000:.2f} s = {per:.2f} ms/user "
            f"(start + queue {r['start_and_queue_s']:.2f} s)"
        )
    print(f"ratio concurrent / baseline: {grouped['ms'] / max(single['ms'], 1):.2f}")
    print(f"per 1,000 manual reviews: {grouped['ms'] / max(rows, 1):.2f} s")


if __name__ == "__main__":
    main()
