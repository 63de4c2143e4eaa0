"""Score recourse on the default policy: 10,000 users rejected only by the score.

1. Decide a synthetic population; keep users whose only reasons are the score's
   (SCORE_BELOW_CUTOFF / REGION_QUOTA and its principal factors).
2. Apply each user's recourse steps, decide again: every one must be invited.
3. Throughput: per-user ``Decider.recourse`` (cached DP) and the batch path (group by bin
   vector and shortfall with ``numpy.unique``, solve each distinct problem once).

Run: ``.venv/bin/python benchmarks/bench_score_recourse.py [--users 10000]``
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date

import numpy as np

from creditgate.decider import Decider
from creditgate.explain.score_recourse import ScoreRecourse
from creditgate.population.synth import generate
from creditgate.profile import validate_profile

AS_OF = date(2026, 11, 28)
SCORE_CODES = {"SCORE_BELOW_CUTOFF", "REGION_QUOTA"}


def score_only_rejects(decider: Decider, want: int, seed: int) -> list[dict[str, object]]:
    factors = {f.factor for f in decider.policy.scorecard.features}
    found: list[dict[str, object]] = []
    chunk = 0
    while len(found) < want:
        table = next(generate(100_000, seed + chunk, AS_OF, chunk_size=100_000))
        chunk += 1
        for raw in table.to_pylist():
            raw.pop("defaulted", None)
            row = validate_profile(raw, AS_OF, decider.policy, decider.regions)
            d = decider.decide(row, AS_OF)
            codes = {r.code for r in d.reasons}
            if d.outcome != "invited" and codes & SCORE_CODES and codes <= SCORE_CODES | factors:
                found.append(row)
                if len(found) == want:
                    break
    return found


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    decider = Decider()
    rows = score_only_rejects(decider, args.users, args.seed)

    invited = 0
    for row in rows:
        steps = decider.decide(row, AS_OF).recourse
        changed = {**row, **{s.field: s.to for s in steps if not s.immutable}}
        invited += decider.decide(changed, AS_OF).outcome == "invited"
    print(
        f"score-only rejects: {len(rows):,}; invited after recourse: {invited:,} "
        f"({invited / len(rows):.2%})"
    )

    evals = [decider.evaluate(row, AS_OF) for row in rows]
    cold = Decider()  # fresh caches: the DP runs for every distinct problem
    t0 = time.perf_counter()
    for ev in evals:
        cold.recourse(ev)
    per_user = len(evals) / (time.perf_counter() - t0)
    print(f"per user (Decider.recourse, cached DP): {per_user:,.0f} explanations/s")

    movables = decider.score_recourse.movables
    bins = np.array([[ev[f"bin.{m.feature.name}"] for m in movables] for ev in evals])
    need = np.array([ev["cutoff"] - ev["score"] for ev in evals])
    t0 = time.perf_counter()
    solver = ScoreRecourse(decider.policy.scorecard.features)
    keys, inverse = np.unique(np.column_stack([bins, need]), axis=0, return_inverse=True)
    solved = [solver.solve(tuple(int(b) for b in k[:-1]), int(k[-1])) for k in keys]
    steps = [
        [(movables[m].feature.field, movables[m].targets[j]) for m, j in solved[i] or ()]
        for i in inverse.reshape(-1)
    ]
    batch = len(steps) / (time.perf_counter() - t0)
    print(f"batch (distinct problems: {len(keys):,}): {batch:,.0f} explanations/s")
    ok = invited == len(rows) and batch >= 10_000
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
