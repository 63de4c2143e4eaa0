"""Churn between refreshes, with and without the stable-entry rules (docs/policy.md).

Draws a synthetic population (ground truth ``defaulted``), then runs ``--cycles`` monthly
refreshes. Between two refreshes every user's data drifts (pay score +-N(0, ``--drift``)
points, ecosystem repayment score +-N(0, drift/3), monthly spend x lognormal(0, 0.15)) and a
share of the invited take a loan (``has_outstanding_loan``). Two chains decide the same
drifting population:

- **stable**: the packaged default policy (``stability: {min_days: 90, band: 10}``), each
  refresh with ``--previous`` the chain's last snapshot;
- **bare**: the same policy with ``stability`` off, no ``--previous``.

Per refresh and chain it prints the invited count, users lost and gained against the chain's
previous snapshot, *flips* (lost now after being gained at the refresh before), users on a
servicing-only entry / owing money with the entry hidden, retained users, the capacity, and
the expected and realised bad rate of the invited. Same process, same data:

    .venv/bin/python benchmarks/stability.py --users 200000 --cycles 6
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from creditgate.batch.backends import duckdb_backend
from creditgate.batch.run import run_batch
from creditgate.decider import Decider
from creditgate.policy.nodes import Policy, Stability
from creditgate.population.synth import write_parquet

T0 = date(2026, 6, 30)


def drifted(pop: pa.Table, invited: set[str], rng: np.random.Generator, drift: float) -> pa.Table:
    """The next month's population: data drifts, 20% of the invited take a loan, 10% of those
    who owe repay it."""
    n = pop.num_rows

    def put(name: str, values: pa.Array) -> None:
        nonlocal pop
        pop = pop.set_column(pop.schema.get_field_index(name), name, values)

    pay = np.asarray(pop["pay_score"].to_numpy(zero_copy_only=False), dtype=float)
    put(
        "pay_score",
        pa.array(np.clip(np.rint(pay + rng.normal(0, drift, n)), 300, 850).astype(np.int64)),
    )
    rep = np.asarray(pop["ecosystem_repayment_score"].to_numpy(zero_copy_only=False), dtype=float)
    put(
        "ecosystem_repayment_score",
        pa.array(np.clip(np.rint(rep + rng.normal(0, drift / 3, n)), 0, 100).astype(np.int64)),
    )
    spend = pc.cast(pop["monthly_spend_cny_6m"], pa.float64()).to_numpy(zero_copy_only=False)
    moved = np.round(np.minimum(spend * rng.lognormal(0, 0.15, n), 1e8 - 1), 2)
    put("monthly_spend_cny_6m", pa.array(moved).cast(pop.schema.field("monthly_spend_cny_6m").type))
    ids = pop["user_id"].to_pylist()
    owes = pop["has_outstanding_loan"].to_pylist()
    draws = rng.random(n)
    loan = [
        (True if (u in invited and d < 0.2) else o) if not (o and d > 0.9) else False
        for u, o, d in zip(ids, owes, draws, strict=True)
    ]
    put("has_outstanding_loan", pa.array(loan, pa.bool_()))
    return pop


def refresh(
    tmp: Path, chain: str, k: int, source: Path, policy: Policy, as_of: date, previous: Path | None
) -> tuple[pa.Table, Path, float]:
    decider = Decider()
    out, snap = tmp / f"{chain}{k}.parquet", tmp / f"{chain}{k}.snapshot.parquet"
    started = time.perf_counter()
    run_batch(
        duckdb_backend("4GB", 2),
        source,
        out,
        policy,
        decider.regions,
        as_of,
        snap,
        previous=previous,
    )
    return pq.read_table(out), snap, time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--users", type=int, default=200_000)
    ap.add_argument("--cycles", type=int, default=6)
    ap.add_argument("--drift", type=float, default=12.0, help="pay score drift per month (sd)")
    ap.add_argument("--seed", type=int, default=3)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    stable = Decider().policy
    bare = replace(stable, stability=Stability())
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        source = tmp / "pop0.parquet"
        write_parquet(source, args.users, seed=args.seed, as_of=T0)
        pop = pq.read_table(source)
        truth = dict(zip(pop["user_id"].to_pylist(), pop["defaulted"].to_pylist(), strict=True))
        state = {"stable": (set(), set(), None), "bare": (set(), set(), None)}
        print(
            f"{args.users:,} users, pay-score drift sd {args.drift}/month, "
            f"stable = {stable.stability}, bare = no hysteresis"
        )
        print(
            f"{'month':>5} {'chain':>6} {'invited':>8} {'lost':>6} {'gained':>6} {'flips':>6} "
            f"{'serv/hid':>9} {'retain':>6} {'capac':>6} {'E[bad]':>7} {'bad':>7} {'secs':>5}"
        )
        totals = {c: [0, 0, 0, 0] for c in state}
        for k in range(args.cycles + 1):
            as_of = T0 + timedelta(days=30 * k)
            if k:
                invited_union = state["stable"][0] | state["bare"][0]
                pop = drifted(pop, invited_union, rng, args.drift)
                source = tmp / f"pop{k}.parquet"
                pq.write_table(pop, source)
            for chain, policy in (("stable", stable), ("bare", bare)):
                before, gained_before, prev = state[chain]
                out, snap, secs = refresh(
                    tmp, chain, k, source, policy, as_of, prev if chain == "stable" else None
                )
                rows = out.to_pylist()
                now = {r["user_id"] for r in rows if r["outcome"] == "invited"}
                lost, gained = before - now, now - before
                flips = len(lost & gained_before)
                owing = loaners(pop)
                servicing = sum(1 for r in rows if r["entry"] == "servicing")
                owe_hidden = sum(
                    1 for r in rows if r["entry"] == "hidden" and r["user_id"] in owing
                )
                retained = sum(1 for r in rows if r["retained"])
                capacity = int(policy.capacity_share * len(rows))
                pds = [r["pd"] for r in rows if r["outcome"] == "invited"]
                bad = sum(bool(truth[u]) for u in now) / max(len(now), 1)
                print(
                    f"{k:>5} {chain:>6} {len(now):>8,} {len(lost) if k else 0:>6,} "
                    f"{len(gained) if k else 0:>6,} {flips:>6,} {servicing:>5,}/{owe_hidden:<3,} "
                    f"{retained:>6,} "
                    f"{capacity:>6,} {sum(pds) / max(len(pds), 1):>7.4f} {bad:>7.4f} {secs:>5.1f}"
                )
                if k:
                    t = totals[chain]
                    t[0] += len(lost)
                    t[1] += len(gained)
                    t[2] += flips
                    t[3] += owe_hidden
                state[chain] = (now, gained if k else set(), snap)
        print()
        for chain, (lost, gained, flips, hid) in totals.items():
            print(
                f"{chain}: over {args.cycles} refreshes lost {lost:,}, gained {gained:,}, "
                f"flips {flips:,}, users owing money with the entry hidden {hid:,}"
            )
        s, b = totals["stable"], totals["bare"]
        if b[0]:
            print(f"lost: stable / bare = {s[0] / b[0]:.3f}; flips: {s[2]}/{b[2]}")
    sys.stdout.flush()


_LOANERS: dict[int, set[str]] = {}


def loaners(pop: pa.Table) -> set[str]:
    key = id(pop)
    if key not in _LOANERS:
        _LOANERS.clear()
        owes = pc.equal(pop["has_outstanding_loan"], True)
        _LOANERS[key] = set(pop.filter(pc.fill_null(owes, False))["user_id"].to_pylist())
    return _LOANERS[key]


if __name__ == "__main__":
    main()
