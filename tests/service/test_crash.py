"""kill -9 during a burst of concurrent decisions: every acknowledged decision survives the
restart, none is duplicated, and the audit chain verifies (``creditgate serve`` as a
subprocess, on SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from test_api import PROFILES

from conftest import TOKENS, auth
from creditgate.store.db import make_engine
from creditgate.store.repo import DecisionLog, verify
from pgserver import free_port

BODIES = list(PROFILES.values())


def start(db_url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = os.environ | {
        "CREDITGATE_TOKENS": ",".join(f"{r}:{t}" for r, t in TOKENS.items()),
        "CREDITGATE_SECRET": "crash-test",
        "CREDITGATE_RATE_LIMIT_PER_S": "0",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "creditgate.cli.main", "serve", "--port", str(port), "--db", db_url],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
        assert proc.poll() is None, log.read_text()
    raise AssertionError("server did not start: " + log.read_text())


async def burst(
    base: str, n: int, acked: dict[str, str], kill_after: int, proc: subprocess.Popen[bytes]
) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:

        async def one(i: int) -> None:
            body = {"profile": BODIES[i % len(BODIES)], "as_of": "2026-11-28"}
            headers = auth("service") | {"Idempotency-Key": f"burst-{i}"}
            try:
                r = await client.post("/v1/decisions", json=body, headers=headers)
            except httpx.HTTPError:
                return
            if r.status_code == 200:
                acked[f"burst-{i}"] = r.json()["decision_id"]
                if len(acked) == kill_after:
                    os.killpg(proc.pid, signal.SIGKILL)

        sem = asyncio.Semaphore(16)

        async def limited(i: int) -> None:
            async with sem:
                await one(i)

        await asyncio.gather(*(limited(i) for i in range(n)))


def test_kill_9_during_a_burst(db_url: str, tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start(db_url, port, tmp_path / "server.log")
    acked: dict[str, str] = {}
    asyncio.run(burst(base, 300, acked, kill_after=60, proc=proc))
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    assert len(acked) >= 60
    proc = start(db_url, port, tmp_path / "server.log")
    try:
        with httpx.Client(base_url=base, headers=auth("service"), timeout=10) as client:
            for key, decision_id in acked.items():  # every acknowledged decision is there
                assert client.get(f"/v1/decisions/{decision_id}").status_code == 200, key
            for i in range(300):  # retries: acknowledged keys replay, the rest decide once
                body = {"profile": BODIES[i % len(BODIES)], "as_of": "2026-11-28"}
                r = client.post(
                    "/v1/decisions", json=body, headers={"Idempotency-Key": f"burst-{i}"}
                )
                assert r.status_code == 200
                if f"burst-{i}" in acked:
                    assert r.json()["decision_id"] == acked[f"burst-{i}"]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    engine = make_engine(db_url)
    try:
        assert verify(DecisionLog(engine)) == (300, None)  # one record per key, chain intact
    finally:
        engine.dispose()
