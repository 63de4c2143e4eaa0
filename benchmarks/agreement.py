"""Every user's answer agrees with the batch, and what the service pays to give it.

The check of ``tests/service/test_agreement.py`` at full size: a synthetic population (default
200,000 users, a few bad rows) goes through ``creditgate batch --snapshot`` (a subprocess, so
this process measures the service alone); the service registers and loads the snapshot with
its decided profiles; then for every user of the input (or ``--check`` random ones):

* ``entry``: the entry lookup before any real-time decision is the batch's ``entry_visible``
  (hidden for users the batch quarantined);
* ``answer``: ``answer()`` gives the batch's outcome, score, limit, APR and reason codes, from
  the profile the input holds; unknown users get source ``none``;
* ``realtime``: for ``--realtime`` users (every outcome and refusal reason among them),
  ``POST /v1/decisions`` with the same profile and ``as_of`` agrees with the batch and with the
  answer shown before; ``after``: the lookup and the answer then come from that decision.

Printed: disagreements by kind, time per user, batch time, profiles file size, the service's
load time (registration, a worker's state refresh with the profiles mapped) and RSS around it
(anonymous + file-backed MiB: mapped profile pages count as file-backed once touched),
``map_profiles`` alone, and a random lookup+decide. Exit 1 on any disagreement.

    .venv/bin/python benchmarks/agreement.py                       # 200k users, all checked
    .venv/bin/python benchmarks/agreement.py --dir /tmp/big --reuse --check 20000
                                   # an existing batch (users/decisions.parquet, snapshots/)
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from fastapi.testclient import TestClient

from creditgate.population.schema import PROFILE_SCHEMA
from creditgate.service.answers import answer, entry_visible
from creditgate.service.app import create_app
from creditgate.service.ops import bootstrap
from creditgate.service.routes.entry import entry_view
from creditgate.service.settings import Settings
from creditgate.service.snapshot_files import map_profiles
from creditgate.snapshot import read_meta
from creditgate.snapshot_profiles import ProfilesRef

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from agreement_facts import batch_facts, client_json, comparable, facts, sample

SERVICE = "bench-service-token"
CLI = [sys.executable, "-m", "creditgate.cli.main"]


def rss_mib() -> str:
    """Resident memory: anonymous (the process's own) + file-backed (mapped pages touched:
    shared between workers, dropped by the kernel under pressure)."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("RssAnon", "RssFile"):
            fields[name] = int(value.split()[0]) / 1024
    return f"{fields.get('RssAnon', 0):,.0f}+{fields.get('RssFile', 0):,.0f}"


def timed(label: str, command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    took = time.perf_counter() - start
    print(f"{label:<34} {took:9.1f} s", flush=True)
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--as-of", default="2025-06-30")
    parser.add_argument("--dirty-fraction", type=float, default=0.001)
    parser.add_argument("--dir", type=Path, help="work directory (default: a new one in /tmp)")
    parser.add_argument("--reuse", action="store_true", help="use the batch already in --dir")
    parser.add_argument("--check", type=int, default=0, help="random users to check (0: all)")
    parser.add_argument("--realtime", type=int, default=1_000, help="real-time decisions")
    parser.add_argument("--random-lookups", type=int, default=10_000)
    args = parser.parse_args()
    work = args.dir or Path(tempfile.mkdtemp(prefix="creditgate-agreement-", dir="/tmp"))
    (work / "snapshots").mkdir(parents=True, exist_ok=True)
    source, decisions = work / "users.parquet", work / "decisions.parquet"
    snapshot_dir = work / "snapshots"
    snapshot = snapshot_dir / "snapshot.parquet"
    print(f"work directory {work}")
    if not args.reuse:
        timed(
            f"synth {args.users:,} users",
            [
                *CLI,
                *("synth", "--users", str(args.users), "--out", str(source)),
                *("--seed", str(args.seed), "--as-of", args.as_of),
                *("--dirty-fraction", str(args.dirty_fraction)),
            ],
        )
        timed(
            "batch (DuckDB) with --snapshot",
            [
                *CLI,
                *("batch", str(source), "--out", str(decisions), "--snapshot", str(snapshot)),
                *("--as-of", args.as_of),
            ],
        )
    meta = read_meta(snapshot)
    assert meta.profiles is not None, "the snapshot names no profiles file"
    ref = ProfilesRef.from_json(dict(meta.profiles))
    size = (snapshot_dir / ref.name).stat().st_size
    print(f"profiles file {ref.name}: {ref.rows:,} rows, {size / 2**20:,.1f} MiB", end="")
    print(f" ({size / max(ref.rows, 1):.0f} B/user)")

    db = work / "service.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    settings = Settings(
        db_url=f"sqlite:///{db}",
        secret="bench-secret",
        tokens=f"bench:service:{SERVICE}",
        rate_limit_per_s=0,
        access_log=False,
        snapshot_dir=str(snapshot_dir),
        snapshot_path=str(snapshot),
        log_level="WARNING",
    )
    before = rss_mib()
    start = time.perf_counter()
    profiles = map_profiles(snapshot_dir, ref, settings.db_url)
    mapped_s = time.perf_counter() - start
    print(f"map_profiles (hash + map)          {mapped_s:9.2f} s, RSS {before} -> ", end="")
    print(f"{rss_mib()} MiB")
    del profiles

    start = time.perf_counter()
    bootstrap(settings)  # migrate, register the policy and the snapshot (checks the profiles)
    register_s = time.perf_counter() - start
    before = rss_mib()
    start = time.perf_counter()
    app = create_app(settings.model_copy(update={"migrate": False}))  # a worker's start
    load_s = time.perf_counter() - start
    loaded = rss_mib()
    services = app.state.services
    state = services.state
    assert state.snapshot is not None and state.snapshot.profiles is not None
    print(f"service: registration              {register_s:9.2f} s")
    print(f"service: worker load (refresh)     {load_s:9.2f} s, RSS {before} -> ", end="")
    print(f"{loaded} MiB")
    start = time.perf_counter()
    app.state.snapshot_reviews.join()  # the batch's manual reviews, queued in the background
    queued = app.state.snapshot_reviews.results.get(state.snapshot.snapshot_id, {})
    print(f"service: manual reviews queued     {queued.get('queued', 0):9,} in ", end="")
    print(f"{queued.get('ms', 0) / 1000:.2f} s (waited {time.perf_counter() - start:.2f} s)")

    rng = random.Random(args.seed)
    everyone = pq.read_table(decisions, columns=["user_id"])["user_id"]
    picked = [rng.randrange(len(everyone)) for _ in range(args.random_lookups)]
    lookups = everyone.take(pa.array(picked, pa.int64())).to_pylist()
    del everyone
    pa.default_memory_pool().release_unused()
    profiles = state.snapshot.profiles
    before = rss_mib()
    start = time.perf_counter()
    for uid in lookups:
        profiles.get(uid)
    get_us = (time.perf_counter() - start) / max(len(lookups), 1) * 1e6
    start = time.perf_counter()
    for uid in lookups:
        answer(services, uid)
    random_us = (time.perf_counter() - start) / max(len(lookups), 1) * 1e6
    print(f"random lookups ({len(lookups):,}): profile row {get_us:.1f} us/user, ", end="")
    print(f"lookup+decide+explain {random_us:.1f} us/user, RSS {before} -> ", end="")
    print(f"{rss_mib()} MiB")
    input_ids = pq.read_table(source, columns=["user_id"])["user_id"]
    input_ids = pc.unique(input_ids.filter(pc.is_valid(input_ids)))
    if args.check:
        picked = rng.sample(range(len(input_ids)), min(args.check, len(input_ids)))
        input_ids = input_ids.take(pa.array(picked))
    wanted = pc.is_in(pq.read_table(decisions, columns=["user_id"])["user_id"], input_ids)
    batch = {r["user_id"]: r for r in pq.read_table(decisions).filter(wanted).to_pylist()}
    ids = input_ids.to_pylist()
    unknown = [u for u in ids if u not in batch]
    rows = pq.read_table(source, columns=PROFILE_SCHEMA.names, filters=[("user_id", "in", ids)])
    inputs = {r["user_id"]: client_json(r) for r in rows.to_pylist() if r["user_id"] in batch}
    print(f"users checked {len(ids):,} ({len(batch):,} decided, {len(unknown):,} unknown)")

    wrong: Counter[str] = Counter()
    start = time.perf_counter()
    for uid in ids:
        want = batch[uid]["entry_visible"] if uid in batch else False
        wrong["entry"] += entry_view(services, uid)["entry_visible"] != want
    entry_us = (time.perf_counter() - start) / len(ids) * 1e6
    shown: dict[str, dict[str, Any]] = {}
    start = time.perf_counter()
    for uid in ids:
        found = answer(services, uid)
        if uid not in batch:
            wrong["unknown"] += (found.source, found.entry_visible) != ("none", False)
            continue
        row = batch[uid]
        # a manual review's answer is the decision stored to queue it at activation
        kept = "decision" if row["outcome"] == "manual_review" else "snapshot"
        ok = found.decision is not None and found.source == kept
        ok = ok and found.entry_visible == row["entry_visible"]
        ok = ok and facts(found.decision) == batch_facts(row) and found.profile == inputs[uid]
        wrong["answer"] += not ok
        if found.decision is not None:
            shown[uid] = found.decision
    answer_us = (time.perf_counter() - start) / len(ids) * 1e6
    print(f"entry lookup (entry_view)          {entry_us:9.1f} us/user")
    print(f"answer (lookup + decide + explain) {answer_us:9.1f} us/user")

    chosen = sample(batch, args.realtime, rng, 20)
    start = time.perf_counter()
    posted: dict[str, dict[str, Any]] = {}
    with TestClient(app) as client:
        headers = {"Authorization": f"Bearer {SERVICE}"}
        for uid in chosen:
            body = {"profile": inputs[uid], "as_of": meta.as_of.isoformat()}
            r = client.post("/v1/decisions", json=body, headers=headers)
            decision = r.json() if r.status_code == 200 else None
            ok = decision is not None and facts(decision) == batch_facts(batch[uid])
            ok = ok and comparable(decision) == comparable(shown[uid])  # type: ignore[arg-type]
            wrong["realtime"] += not ok
            if decision is not None:
                posted[uid] = decision
        realtime_ms = (time.perf_counter() - start) / max(len(chosen), 1) * 1e3
        state.refresh()  # read back from the log, as another worker would
        for uid, decision in posted.items():
            found = answer(services, uid)
            ok = (found.source, found.decision_id) == ("decision", decision["decision_id"])
            ok = ok and entry_visible(state, uid) is decision["entry_visible"]
            wrong["after"] += not ok
    print(f"real-time decisions {len(chosen):,}            {realtime_ms:9.2f} ms each (HTTP)")

    print(f"RSS at the end {rss_mib()} MiB")
    for kind in ("entry", "answer", "unknown", "realtime", "after"):
        print(f"disagreements {kind:<10} {wrong[kind]:>8,}")
    raise SystemExit(1 if sum(wrong.values()) else 0)


if __name__ == "__main__":
    main()
