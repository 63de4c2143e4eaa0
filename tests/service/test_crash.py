"""kill -9 during a burst of concurrent decisions while other processes open the database
(``audit verify --anchor`` and a plain reader): every acknowledged decision survives the
restart, none is duplicated, and the audit chain verifies against the anchors the server
wrote (``creditgate serve`` as a subprocess, on SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson
from test_api import PROFILES

from conftest import STAFF, auth
from creditgate.store.db import make_engine
from creditgate.store.repo import DecisionLog, verify
from pgserver import free_port

BODIES = list(PROFILES.values())


def start(db_url: str, port: int, log: Path, anchors: Path) -> subprocess.Popen[bytes]:
    env = os.environ | {
        "CREDITGATE_TOKENS": STAFF,
        "CREDITGATE_SECRET": "crash-test",
        "CREDITGATE_RATE_LIMIT_PER_S": "0",
        "CREDITGATE_ANCHOR_PATH": str(anchors),
        "CREDITGATE_ANCHOR_INTERVAL_S": "0.1",
        "CREDITGATE_ANCHOR_KEYS": ANCHOR_KEYS,
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


ANCHOR_KEYS = "crash:" + "ab" * 32
WARM_UP = 5
VERIFY = [sys.executable, "-m", "creditgate.cli.main", "audit", "verify"]


def readers(db_url: str, anchors: Path) -> list[subprocess.Popen[bytes]]:
    """Second processes that open the database in the middle of the burst: ``audit verify``
    against the anchors, and a plain client reading a table (sqlite3 on the file itself)."""
    env = os.environ | {"CREDITGATE_ANCHOR_KEYS": ANCHOR_KEYS}
    if db_url.startswith("sqlite"):
        read = "import sqlite3, sys; c = sqlite3.connect(sys.argv[1])"
        target = db_url.removeprefix("sqlite:///")
    else:
        read = "import psycopg, sys; c = psycopg.connect(sys.argv[1])"
        target = db_url
    read += "; print(c.execute('SELECT count(*) FROM decisions').fetchone()[0]); c.close()"
    return [
        subprocess.Popen(
            [*VERIFY, "--db", db_url, "--anchor", str(anchors)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        ),
        subprocess.Popen(
            [sys.executable, "-c", read, target], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        ),
    ]


async def burst(
    base: str,
    acked: dict[str, str],
    kill_after: int,
    proc: subprocess.Popen[bytes],
    others: list[subprocess.Popen[bytes]],
) -> int:
    """Decide with 16 concurrent clients until ``kill_after`` are acknowledged and the other
    processes have done their reads, then kill -9 the server; returns how many keys were sent."""
    sent = itertools.count()
    killed = False
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:

        async def worker() -> None:
            nonlocal killed
            while not killed:
                i = next(sent)
                body = {"profile": BODIES[i % len(BODIES)], "as_of": "2026-11-28"}
                headers = auth("service") | {"Idempotency-Key": f"burst-{i}"}
                try:
                    r = await client.post("/v1/decisions", json=body, headers=headers)
                except httpx.HTTPError:
                    continue
                if r.status_code == 200:
                    acked[f"burst-{i}"] = r.json()["decision_id"]
                done = all(p.poll() is not None for p in others)
                if (
                    not killed
                    and len(acked) >= kill_after
                    and (done or time.monotonic() > deadline)
                ):
                    killed = True
                    os.killpg(proc.pid, signal.SIGKILL)

        await asyncio.gather(*(worker() for _ in range(16)))
    return next(sent)


def wait_for_anchor(anchors: Path, seq: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if anchors.exists() and any(
            orjson.loads(line)["decisions"]["seq"] >= seq
            for line in anchors.read_bytes().splitlines()
        ):
            return
        time.sleep(0.05)
    raise AssertionError("the server wrote no anchor")


def test_kill_9_during_a_burst(db_url: str, tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    anchors = tmp_path / "anchors.jsonl"
    proc = start(db_url, port, tmp_path / "server.log", anchors)
    with httpx.Client(base_url=base, headers=auth("service"), timeout=10) as client:
        for body in BODIES[:WARM_UP]:
            assert client.post("/v1/decisions", json={"profile": body}).status_code == 200
    wait_for_anchor(anchors, WARM_UP)  # the server anchors by itself
    acked: dict[str, str] = {}
    others = readers(db_url, anchors)
    sent = asyncio.run(burst(base, acked, 60, proc, others))
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    assert len(acked) >= 60
    for other in others:  # both read the live database while decisions were being written
        output = other.communicate(timeout=60)[0].decode()
        assert other.returncode == 0, output
    proc = start(db_url, port, tmp_path / "server.log", anchors)
    try:
        with httpx.Client(base_url=base, headers=auth("service"), timeout=10) as client:
            for key, decision_id in acked.items():  # every acknowledged decision is there
                assert client.get(f"/v1/decisions/{decision_id}").status_code == 200, key
            for i in range(sent):  # retries: acknowledged keys replay, the rest decide once
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
    try:  # one record per key, chain intact
        assert verify(DecisionLog(engine)) == (WARM_UP + sent, None)
    finally:
        engine.dispose()
    verified = subprocess.run(
        [*VERIFY, "--db", db_url, "--anchor", str(anchors)],
        env=os.environ | {"CREDITGATE_ANCHOR_KEYS": ANCHOR_KEYS},
        capture_output=True,
        text=True,
        check=False,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
