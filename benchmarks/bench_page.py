"""HTTP load test of the self-check page: ``GET /`` for refused users of a real batch snapshot.

    .venv/bin/python benchmarks/bench_page.py --users 200000 --workers 2 --seconds 10

A synthetic population is decided by the batch (DuckDB) with a snapshot and its decided
profiles; ``creditgate serve --snapshot`` serves it; each of ``--sessions`` refused users signs
in through a one-time link (``GET /?t=...`` -> 303 + session cookie), and the load generator
(this process, the hand-rolled keep-alive client of ``bench_service.py``) then asks for their
answer pages in turn, checking every status. Each page is the full answer: the user's decision
made again from their profile with the snapshot's cutoffs, reasons, recourse, alternatives,
their inputs and the forms. Target (issue 12): >= 500 pages/s with p99 <= 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
import pyarrow.compute as pc
import pyarrow.parquet as pq
import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_service import free_port, load, start
from creditgate.service.web.links import issue_link, link_url

SECRET = "bench"  # what bench_service.start configures as CREDITGATE_SECRET
AS_OF = "2026-11-28"


def creditgate(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "creditgate.cli.main", *args], check=True)


def population(work: Path, users: int) -> tuple[Path, list[str]]:
    """A batch run with a snapshot; the refused users' ids."""
    creditgate("synth", "--users", str(users), "--seed", "7", "--as-of", AS_OF,
               "--out", str(work / "users.parquet"))  # fmt: skip
    (work / "batch").mkdir()
    snap = work / "batch" / "snapshot.parquet"
    creditgate("batch", str(work / "users.parquet"), "--out", str(work / "decisions.parquet"),
               "--snapshot", str(snap), "--as-of", AS_OF)  # fmt: skip
    decided = pq.read_table(work / "decisions.parquet", columns=["user_id", "outcome"])
    refused = decided.filter(pc.not_equal(decided["outcome"], "invited"))
    return snap, refused.column("user_id").to_pylist()


def sessions(port: int, users: list[str]) -> list[str]:
    """A session cookie per user, through the one-time link as a person would get it."""
    cookies = []
    with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
        for user in users:
            link = link_url(f"http://127.0.0.1:{port}", issue_link(SECRET.encode(), user, 3600))
            r = client.get(link, follow_redirects=False)
            if r.status_code != 303:
                raise SystemExit(f"link exchange answered {r.status_code}")
            cookies.append(f"cg_session={r.cookies['cg_session']}")
            client.cookies.clear()
    return cookies


def profiler(server: int, out: Path, seconds: float) -> subprocess.Popen[bytes]:
    """py-spy (``pip install py-spy``) recording the server's processes as collapsed stacks."""
    command = ["py-spy", "record", "--pid", str(server), "--subprocesses", "--format", "raw"]
    return subprocess.Popen([*command, "--duration", str(int(seconds)), "-o", str(out)])


def page(cookie: str) -> bytes:
    return f"GET / HTTP/1.1\r\nHost: b\r\nCookie: {cookie}\r\n\r\n".encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=200_000, help="synthetic population")
    parser.add_argument("--sessions", type=int, default=500, help="refused users signed in")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--conns", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--profile", type=Path, help="py-spy the server during the load (collapsed stacks)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        snap, refused = population(work, args.users)
        port = free_port()
        proc = start(f"sqlite:///{work}/bench.db", port, args.workers, snap, work / "server.log")
        try:
            step = max(1, len(refused) // args.sessions)
            cookies = sessions(port, refused[::step][: args.sessions])
            first = httpx.get(f"http://127.0.0.1:{port}/", headers={"Cookie": cookies[0]})
            if first.status_code != 200 or 'data-testid="reason"' not in first.text:
                raise SystemExit(f"not an answer page with reasons: {first.status_code}")
            requests = [page(c) for c in cookies]
            print(
                f"{os.cpu_count()} cores, {args.workers} uvicorn worker(s), {args.conns} "
                f"connections, {len(cookies)} refused users of {args.users:,}, page "
                f"{len(first.content):,} bytes"
            )
            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                runner.run(load(port, requests, 2.0, args.conns))  # warm-up
                spy = profiler(proc.pid, args.profile, args.seconds) if args.profile else None
                print("GET / (refused)", runner.run(load(port, requests, args.seconds, args.conns)))
                if spy is not None:
                    spy.wait()
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)


if __name__ == "__main__":
    main()
