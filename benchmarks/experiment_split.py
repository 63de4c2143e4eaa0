"""Champion/challenger in the service: the split, its stability, and its cost per decision.

In one process, on a fresh SQLite database (no HTTP server: setup goes through the app
in-process, decisions through the service's own ``decide_and_store``, as the fast lane calls
it, with the group-commit writer):

1. ``--decisions`` real-time decisions (distinct users) with no experiment: time per decision;
2. a ``--share`` challenger started as an approved change (its own policy version and
   snapshot from the same "batch run"), then the same number of decisions: time per decision,
   and the challenger share among the stored decisions (checked against ``--share`` +- 0.5%);
3. two separately built worker states read the database and must put every user in the arm
   their stored decision records; a new process (a restart) must compute the same arms;
4. the entry lookup's time per call without and with the experiment.

    .venv/bin/python benchmarks/experiment_split.py --decisions 100000
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
from fastapi.testclient import TestClient

from creditgate.examples import example_profiles
from creditgate.service.answers import entry_visible
from creditgate.service.app import create_app
from creditgate.service.deciding import decide_and_store
from creditgate.service.deps import Services
from creditgate.service.settings import Settings
from creditgate.service.state import ServiceState
from creditgate.snapshot import SnapshotMeta, write_snapshot

TOKENS = "operator:operator:operator-token-1234,admin:admin:admin-token-1234"
AS_OF = date(2026, 11, 28)
STRONG = orjson.loads(dict(example_profiles())["01_strong_shenzhen"])
RESTART = """
import hashlib, sys
from pathlib import Path
from creditgate.service.state import ServiceState
from creditgate.store.catalog import Catalog
from creditgate.store.db import make_engine
from creditgate.store.repo import DecisionLog
engine = make_engine(sys.argv[1])
state = ServiceState(Catalog(engine), Path(sys.argv[2]), sys.argv[1], DecisionLog(engine))
state.refresh()
arms = "".join("c" if state.view(f"u-{i:07d}").experiment["arm"] == "challenger" else "p"
               for i in range(int(sys.argv[3])))
print(hashlib.sha256(arms.encode()).hexdigest())
"""


def auth(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {name}-token-1234"}


def snapshot(directory: Path, name: str, version: str, cutoff: int, users: list[str]) -> Path:
    meta = SnapshotMeta(
        "default",
        version,
        AS_OF,
        dict.fromkeys(("tier1", "new_tier1", "capital", "prefecture"), cutoff),
        0.15,
        "same-batch-run",
        datetime.now(UTC),
        {"decided": len(users)},
    )
    n = len(users)
    table = pa.table(
        {
            "user_id": users,
            "region_class": ["tier1"] * n,
            "score": [790] * n,
            "limit_cny": [1000] * n,
            "apr": ["0.073"] * n,
        }
    )
    path = directory / f"{name}.parquet"
    write_snapshot(path, meta, table)
    return path


def approve(client: TestClient, response: Any) -> dict[str, Any]:
    assert response.status_code == 202, response.text
    change: dict[str, Any] = response.json()
    if change["status"] == "proposed":
        url = f"/v1/admin/changes/{change['change_id']}/approve"
        r = client.post(url, json={}, headers=auth("admin"))
        assert r.status_code == 200, r.text
        change = r.json()
    return change


def register(client: TestClient, path: Path) -> str:
    r = client.post("/v1/admin/snapshots", json={"path": str(path)}, headers=auth("operator"))
    assert r.status_code == 201, r.text
    return str(r.json()["snapshot_id"])


async def decide_all(services: Services, users: list[str], tag: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for start in range(0, len(users), 512):  # concurrent requests, as a worker sees them
        batch = users[start : start + 512]
        done = await asyncio.gather(
            *(
                decide_and_store(services, STRONG | {"user_id": u}, AS_OF, f"{tag}{u}", "bench")
                for u in batch
            )
        )
        out.extend(stored.decision for stored, _ in done)
    return out


def timed(services: Services, users: list[str], tag: str) -> tuple[list[dict[str, Any]], float]:
    began = time.perf_counter()
    decided = asyncio.run(decide_all(services, users, tag))
    return decided, (time.perf_counter() - began) / len(users)


def lookups(state: ServiceState, users: list[str]) -> float:
    began = time.perf_counter()
    for u in users:
        entry_visible(state, u)
    return (time.perf_counter() - began) / len(users)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--decisions", type=int, default=100_000)
    parser.add_argument("--share", type=float, default=0.10)
    args = parser.parse_args()
    n, share = args.decisions, args.share
    users = [f"u-{i:07d}" for i in range(n)]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        db_url, snapshots = f"sqlite:///{root}/bench.db", root / "snapshots"
        snapshots.mkdir()
        settings = Settings(  # type: ignore[call-arg]
            db_url=db_url,
            snapshot_dir=str(snapshots),
            tokens=TOKENS,
            secret="bench",
            rate_limit_per_s=0,
            access_log=False,
            log_level="WARNING",
        )
        app = create_app(settings)
        services: Services = app.state.services
        client = TestClient(app)
        version = str(services.state.policy_version)
        champ = register(client, snapshot(snapshots, "champion", version, 700, users[: n // 2]))
        approve(
            client, client.post(f"/v1/admin/snapshots/{champ}/activate", headers=auth("operator"))
        )
        text = services.catalog.policy(version)["text"]  # type: ignore[index]
        r = client.post(
            "/v1/admin/policies",
            json={"text": text.replace(version, version + "-b", 1)},
            headers=auth("operator"),
        )
        assert r.status_code == 201, r.text
        chall = register(client, snapshot(snapshots, "challenger", version + "-b", 782, []))

        _, plain = timed(services, users, "a")
        plain_lookup = lookups(services.state, users)
        body = {"challenger_policy": version + "-b", "challenger_snapshot": chall, "share": share}
        approve(client, client.post("/v1/admin/experiments", json=body, headers=auth("operator")))
        decided, split = timed(services, users, "b")
        split_lookup = lookups(services.state, users)

        arms = {d["user_id"]: d["experiment"]["arm"] for d in decided}
        challengers = sum(a == "challenger" for a in arms.values())
        observed = challengers / n
        tight = all(
            (d["policy"]["version"], d["cutoffs"]["snapshot_id"])
            == (
                (version + "-b", chall)
                if d["experiment"]["arm"] == "challenger"
                else (version, champ)
            )
            for d in decided
        )
        workers = []
        for _ in range(2):
            state = services.state
            worker = ServiceState(state.catalog, state.snapshot_dir, db_url, state.decision_log)
            worker.refresh()
            workers.append(worker)
        agree = all(
            w.view(u).experiment == {"id": d["experiment"]["id"], "arm": arms[u]}
            for w in workers
            for u, d in zip(users, decided, strict=True)
        )
        restart = subprocess.run(
            [sys.executable, "-c", RESTART, db_url, str(snapshots), str(n)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        here = hashlib.sha256(
            "".join("c" if arms[u] == "challenger" else "p" for u in users).encode()
        ).hexdigest()

    within = abs(observed - share) <= 0.005
    yes = {True: "yes", False: "NO"}
    print(f"decisions per run              {n:,} (distinct users), SQLite, group commit")
    print(
        f"challenger share               {observed:.4%} "
        f"(target {share:.1%} +- 0.5%: {'ok' if within else 'OUT'})"
    )
    print(f"each arm decided by its pair   {yes[tight]} (policy and snapshot cutoffs)")
    print(f"two workers, same arms         {yes[agree]} (as stored, for every user)")
    print(f"restart (new process), same    {yes[restart == here]}")
    print(
        f"time per decision              {plain * 1e6:,.0f} us without, "
        f"{split * 1e6:,.0f} us with (x{split / plain:.2f})"
    )
    print(
        f"time per entry lookup          {plain_lookup * 1e9:,.0f} ns without, "
        f"{split_lookup * 1e9:,.0f} ns with (x{split_lookup / plain_lookup:.2f})"
    )
    return 0 if within and tight and agree and restart == here else 1


if __name__ == "__main__":
    sys.exit(main())
