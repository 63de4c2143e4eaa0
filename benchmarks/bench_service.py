"""HTTP load test of the decision service: decisions/s and p50/p99 for ``POST /v1/decisions``
and for the entry lookup, on SQLite and PostgreSQL.

    .venv/bin/python benchmarks/bench_service.py --db sqlite --workers 2 --seconds 10
    .venv/bin/python benchmarks/bench_service.py --db postgresql --workers 2

The server (``creditgate serve``) runs in its own processes; this process is the load
generator: a fixed number of HTTP/1.1 keep-alive connections over loopback (``--conns``), each
sending its next request when the previous answer arrived, real JSON bodies, every response
read in full and its status checked (a non-200 is counted and reported). The client is
hand-rolled on uvloop so that it costs less CPU than the server it measures. Both share the
machine's cores, so figures are a lower bound.
Targets (issue 5): >= 1,500 decisions/s with p99 <= 25 ms; >= 5,000 lookups/s, p99 <= 10 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import orjson
import pyarrow as pa
import uvloop

from creditgate.examples import example_profiles
from creditgate.snapshot import SnapshotMeta, write_snapshot

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from pgserver import free_port, postgres_server

TOKEN = "bench-service-token"


def snapshot(path: Path, users: int) -> Path:
    ids = [f"u{i}" for i in range(users)]
    meta = SnapshotMeta(
        "default",
        "2026.12.2",
        date(2026, 11, 28),
        {"tier1": 600},
        0.15,
        "bench",
        datetime.now(UTC),
        {"invited": users},
    )
    write_snapshot(
        path,
        meta,
        pa.table(
            {
                "user_id": ids,
                "region_class": ["tier1"] * users,
                "score": [700] * users,
                "limit_cny": [1000] * users,
                "apr": ["0.073"] * users,
            }
        ),
    )
    return path


def start(db: str, port: int, workers: int, snap: Path, log: Path) -> subprocess.Popen[bytes]:
    env = os.environ | {
        "CREDITGATE_TOKENS": f"service:{TOKEN}",
        "CREDITGATE_SECRET": "bench",
        # One client (one token) sends everything: the limiter stays on, its per-client
        # limit raised above what the load generator can send (the default is 200/s).
        "CREDITGATE_RATE_LIMIT_PER_S": "1000000",
        "CREDITGATE_RATE_LIMIT_BURST": "1000000",
        "CREDITGATE_ACCESS_LOG": "false",
        "CREDITGATE_SNAPSHOT_DIR": str(snap.parent / "snapshots"),  # the startup copy goes here
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "creditgate.cli.main",
            "serve",
            "--port",
            str(port),
            "--db",
            db,
            "--workers",
            str(workers),
            "--snapshot",
            str(snap),
        ],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    for _ in range(600):
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"http://127.0.0.1:{port}/healthz").json()["snapshot_id"]:
                time.sleep(1.0)  # let every worker finish starting
                return proc
        time.sleep(0.1)
    raise SystemExit("server did not start:\n" + log.read_text())


async def worker(port: int, requests: list[bytes], deadline: float, lat: list[float]) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    errors, i = 0, 0
    while time.perf_counter() < deadline:
        t0 = time.perf_counter()
        writer.write(requests[i % len(requests)])
        i += 1
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        await reader.readexactly(length)
        lat.append(time.perf_counter() - t0)
        if not head.startswith(b"HTTP/1.1 200"):
            errors += 1
    writer.close()
    return errors


def post(path: str, body: bytes) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: b\r\nAuthorization: Bearer {TOKEN}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def get(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: b\r\nAuthorization: Bearer {TOKEN}\r\n\r\n".encode()


async def load(port: int, requests: list[bytes], seconds: float, conns: int) -> str:
    lat: list[float] = []
    deadline = time.perf_counter() + seconds
    start_t = time.perf_counter()
    errors = sum(
        await asyncio.gather(
            *(worker(port, requests[i::conns] or requests, deadline, lat) for i in range(conns))
        )
    )
    took = time.perf_counter() - start_t
    lat.sort()
    pct = [lat[int(q * (len(lat) - 1))] * 1000 for q in (0.5, 0.99)]
    return (
        f"{len(lat) / took:8.0f} req/s  p50 {pct[0]:6.2f} ms  p99 {pct[1]:6.2f} ms  "
        f"({len(lat)} requests, {errors} non-200, {conns} connections)"
    )


def run(db: str, args: argparse.Namespace, work: Path) -> None:
    port = free_port()
    proc = start(
        db, port, args.workers, snapshot(work / "snap.parquet", args.users), work / "server.log"
    )
    try:
        profiles = [orjson.loads(doc) for _, doc in example_profiles()]
        decisions = [
            post(
                "/v1/decisions",
                orjson.dumps(
                    {
                        "profile": profiles[i % len(profiles)] | {"user_id": f"u{i}"},
                        "as_of": "2026-11-28",
                    }
                ),
            )
            for i in range(2000)
        ]
        lookups = [get(f"/v1/users/u{i * 7919 % (args.users * 2)}/entry") for i in range(5000)]
        kind = db.split(":")[0]
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(load(port, decisions[:200], 1.0, args.conns))  # warm-up
            print(
                f"{kind:10} POST /v1/decisions   ",
                runner.run(load(port, decisions, args.seconds, args.conns)),
                flush=True,
            )
            print(
                f"{kind:10} GET  /users/{{id}}/entry",
                runner.run(load(port, lookups, args.seconds, args.conns)),
                flush=True,
            )
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--conns", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--users", type=int, default=200_000, help="invited users in snapshot")
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores, {args.workers} uvicorn worker(s), {args.conns} connections")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.db in ("sqlite", "both"):
            run(f"sqlite:///{work}/bench.db", args, work)
        if args.db in ("postgresql", "both"):
            url = os.environ.get("CREDITGATE_TEST_PG_URL")
            if url:
                run(url, args, work)
            else:
                with postgres_server() as url:
                    run(url, args, work)


if __name__ == "__main__":
    main()
