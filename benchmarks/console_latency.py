"""The console's pages answer in <= 200 ms p99 with a 1M-user snapshot active (issue 15).

    .venv/bin/python benchmarks/console_latency.py                      # 1,000,000 users
    .venv/bin/python benchmarks/console_latency.py --users 100000 --requests 200
    .venv/bin/python benchmarks/console_latency.py --dir /tmp/c1m --reuse   # time again

Untimed set-up: a synthetic population (``write_parquet``, seed 7) through the DuckDB batch
with ``snapshot=`` (which writes the decided profiles and the run report beside it); the app
under a real uvicorn server on a loopback port in a thread of this process (fresh SQLite,
``snapshot_path`` registers and activates the snapshot at start-up, staff tokens); a console
session signed in as a browser does (GET the form, POST it with its CSRF value and the admin
token, cookies kept); ``--decisions`` real-time decisions stored through ``POST /v1/decisions``
(profiles of decided users of the input) so that the decision pages and the chain have
content.

Timed, one request after another over one keep-alive httpx connection, after ``--warmup``
requests each: ``--requests`` GETs of each console page that the app routes (the overview,
policies, changes, a stored decision (cycling through them), and the review queue and the
experiments view when they exist), and of ``/healthz`` as the baseline in the same process.
Printed per page: p50, p95, p99, max in ms, whether p99 <= 200 ms, and p99 / baseline p99.
``/console/audit`` walks the whole chain by design: timed once, reported apart. Exit 1 when a
page misses the target.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import re
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import uvicorn

from creditgate.batch.backends import duckdb_backend
from creditgate.batch.run import run_batch
from creditgate.decider import Decider
from creditgate.population.schema import PROFILE_SCHEMA
from creditgate.population.synth import write_parquet
from creditgate.service.app import create_app
from creditgate.service.settings import Settings

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from agreement_facts import client_json

AS_OF = date(2025, 6, 30)
TARGET_MS = 200.0
TOKENS = {
    "bench-svc": ("service", "bench-service-token"),
    "bench-admin": ("admin", "bench-admin-token"),
}
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
OPTIONAL = ("/console/reviews", "/console/experiments")  # timed when the app routes them


def prepare(work: Path, users: int, memory_limit: str) -> None:
    """``users.parquet``, ``decisions.parquet`` and ``snapshots/snapshot.parquet`` (with its
    profiles and run report) in ``work``."""
    (work / "snapshots").mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    write_parquet(work / "users.parquet", users, seed=7, as_of=AS_OF)
    print(f"synth {users:,} users                 {time.perf_counter() - start:8.1f} s", flush=True)
    decider = Decider()
    start = time.perf_counter()
    run_batch(
        duckdb_backend(memory_limit), work / "users.parquet", work / "decisions.parquet",
        decider.policy, decider.regions, AS_OF, snapshot=work / "snapshots" / "snapshot.parquet",
    )  # fmt: skip
    print(f"batch with snapshot (DuckDB)      {time.perf_counter() - start:8.1f} s", flush=True)


def profiles(work: Path, count: int) -> list[dict[str, Any]]:
    """The input profiles of ``count`` users the batch decided (spread over the file)."""
    decided = pq.read_table(work / "decisions.parquet", columns=["user_id"])["user_id"]
    step = max(len(decided) // max(count, 1), 1)
    wanted = decided.take(pa.array(range(0, len(decided), step)[:count], pa.int64()))
    rows = pq.read_table(work / "users.parquet", columns=PROFILE_SCHEMA.names)
    rows = rows.filter(pc.is_in(rows["user_id"], wanted))
    return [client_json(r) for r in rows.to_pylist()]


@contextmanager
def running(settings: Settings) -> Iterator[str]:
    """The app under uvicorn in a thread (its own event loop): its base URL."""
    app = create_app(settings)
    # proto IPPROTO_TCP, as getaddrinfo gives: asyncio sets TCP_NODELAY on accepted sockets
    # only then; with proto 0 each response's body waits ~40 ms for the client's delayed ACK
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=lambda: asyncio.run(server.serve(sockets=[sock])), name="uvicorn", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 600  # a 1M-user snapshot is hashed and mapped at start-up
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the service did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
        app.state.services.engine.dispose()


def sign_in(client: httpx.Client, token: str) -> None:
    """As a browser: the form (its pre-session cookie and CSRF value), then the POST."""
    form = client.get("/console/sign-in")
    found = CSRF.search(form.text)
    assert form.status_code == 200 and found, f"sign-in form: {form.status_code}"
    done = client.post("/console/sign-in", data={"csrf": found.group(1), "token": token})
    assert done.status_code == 303 and done.headers["location"] == "/console", done.status_code


def timed(client: httpx.Client, paths: list[str], count: int, warmup: int) -> list[float]:
    """Milliseconds per GET, cycling through ``paths``, after ``warmup`` untimed ones."""
    for i in range(warmup):
        client.get(paths[i % len(paths)]).raise_for_status()
    took = []
    for i in range(count):
        start = time.perf_counter()
        r = client.get(paths[i % len(paths)])
        took.append((time.perf_counter() - start) * 1e3)
        if r.status_code != 200:
            raise RuntimeError(f"{paths[i % len(paths)]}: {r.status_code}")
    return took


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200, help="timed GETs per page")
    parser.add_argument("--warmup", type=int, default=20, help="untimed GETs per page first")
    parser.add_argument("--decisions", type=int, default=200, help="real-time decisions stored")
    parser.add_argument("--memory-limit", default="4GB", help="DuckDB's, for the batch")
    parser.add_argument("--dir", type=Path, help="work directory (default: a new one in /tmp)")
    parser.add_argument("--reuse", action="store_true", help="the batch already in --dir")
    args = parser.parse_args()
    work = args.dir or Path(tempfile.mkdtemp(prefix="creditgate-console-", dir="/tmp"))
    print(f"work directory {work}")
    if not args.reuse:
        prepare(work, args.users, args.memory_limit)
    users = pq.ParquetFile(work / "users.parquet").metadata.num_rows  # --reuse: the file's
    bodies = profiles(work, args.decisions)
    gc.collect()

    db = work / "service.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    settings = Settings(
        db_url=f"sqlite:///{db}",
        secret="bench-console-secret",
        tokens=",".join(f"{n}:{role}:{t}" for n, (role, t) in TOKENS.items()),
        rate_limit_per_s=0,
        access_log=False,
        log_level="WARNING",
        snapshot_dir=str(work / "snapshots"),
        snapshot_path=str(work / "snapshots" / "snapshot.parquet"),
    )
    start = time.perf_counter()
    with running(settings) as base, httpx.Client(base_url=base, timeout=60) as client:
        print(f"service start (register + load)   {time.perf_counter() - start:8.1f} s")
        health = client.get("/healthz").json()
        assert health["snapshot_id"], f"no active snapshot: {health}"
        service = {"Authorization": f"Bearer {TOKENS['bench-svc'][1]}"}
        ids = []
        start = time.perf_counter()
        for body in bodies:
            r = client.post(
                "/v1/decisions", json={"profile": body, "as_of": AS_OF.isoformat()},
                headers=service,
            )  # fmt: skip
            r.raise_for_status()
            ids.append(r.json()["decision_id"])
        stored_ms = (time.perf_counter() - start) / max(len(ids), 1) * 1e3
        print(f"decisions stored {len(ids):,} ({stored_ms:.1f} ms each)")
        sign_in(client, TOKENS["bench-admin"][1])

        pages: dict[str, list[str]] = {
            "/console": ["/console"],
            "/console/policies": ["/console/policies"],
            "/console/changes": ["/console/changes"],
            "/console/decisions/{id}": [f"/console/decisions/{i}" for i in ids],
        }
        # asked, not read from ``app.routes`` (FastAPI nests included routers there)
        routed = [p for p in OPTIONAL if client.get(p).status_code != 404]
        for path in routed:
            pages[path] = [path]
        missing = [p for p in OPTIONAL if p not in routed]
        n, w = args.requests, args.warmup
        baseline = timed(client, ["/healthz"], n, w)
        results = {page: timed(client, paths, n, w) for page, paths in pages.items()}
        after = timed(client, ["/healthz"], n, 0)  # the baseline again: did the machine drift?
        start = time.perf_counter()
        audit = client.get("/console/audit")
        audit_ms = (time.perf_counter() - start) * 1e3
        audit.raise_for_status()

    base99 = quantile(baseline, 0.99)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\nusers {users:,}; {n} timed GETs per page after {w} untimed; real uvicorn + httpx")
    print(f"{'page':<26}{'p50':>8}{'p95':>8}{'p99':>8}{'max':>8}  p99<=200  p99/base")
    failed = False
    rows = [("/healthz (baseline)", baseline), *results.items(), ("/healthz (again)", after)]
    for page, took in rows:
        p99 = quantile(took, 0.99)
        ok = p99 <= TARGET_MS
        failed = failed or not ok
        print(
            f"{page:<26}{statistics.median(took):8.1f}{quantile(took, 0.95):8.1f}{p99:8.1f}"
            f"{max(took):8.1f}  {'yes' if ok else 'NO':<8}  {p99 / base99:7.1f}x"
        )
    print(f"load average at the end {load} ({os.cpu_count()} cores): tails move with it")
    print(f"/console/audit (whole chain of {len(ids):,} decisions, once): {audit_ms:.1f} ms")
    if missing:
        print(f"not routed here (not timed): {', '.join(missing)}")
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
