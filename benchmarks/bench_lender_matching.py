"""What naming licensed lenders costs a refused real-time decision (docs/lenders.md, "Cost").

    .venv/bin/python benchmarks/bench_lender_matching.py --users 5000

Synthetic users decided with ``Decider.decide``, refused ones only; the same decider timed
with the generic alternatives (the baseline: ``explain.alternatives.alternatives``) and with
the named lenders (``LenderAlternatives``), alternating ``--rounds`` times in one process so
that a busy machine slows both alike; the best round of each is printed, and the ratio.
"""

from __future__ import annotations

import argparse
import gc
import time
from datetime import date
from typing import Any

from creditgate.decider import Decider
from creditgate.explain.alternatives import alternatives
from creditgate.population.synth import generate
from creditgate.profile import validate_profile

AS_OF = date(2026, 11, 28)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    decider = Decider()
    table = next(generate(args.users, args.seed, AS_OF, chunk_size=args.users))
    raw = [{k: v for k, v in r.items() if k != "defaulted"} for r in table.to_pylist()]
    rows = [validate_profile(r, AS_OF, decider.policy, decider.regions) for r in raw]
    refused = [r for r in rows if decider.decide(r, AS_OF).outcome in ("not_invited", "referred")]
    named_alternatives = decider.alternatives
    with_lenders = sum(
        any(a.lender is not None for a in decider.decide(r, AS_OF).alternatives) for r in refused
    )

    def generic(outcome: str, referred: bool, *_: Any) -> Any:
        return alternatives(outcome, referred)

    variants: dict[str, Any] = {
        "generic alternatives": generic,
        "named lenders": named_alternatives,
    }
    best = dict.fromkeys(variants, float("inf"))
    gc.collect()
    gc.freeze()  # the population and caches are not the decisions' garbage
    for i in range(args.rounds):
        order = list(variants.items())
        for name, function in order if i % 2 else order[::-1]:  # who goes first alternates
            decider.alternatives = function
            t0 = time.perf_counter()
            for r in refused:
                decider.decide(r, AS_OF)
            best[name] = min(best[name], (time.perf_counter() - t0) / len(refused))
    base, ours = best["generic alternatives"], best["named lenders"]
    print(
        f"{len(refused):,} refused of {len(rows):,} synthetic users (seed {args.seed}); "
        f"{with_lenders / len(refused):.1%} of them get a named lender"
    )
    for name, seconds in best.items():
        print(f"{name:22s} {seconds * 1e6:7.2f} us per refused decision (best of {args.rounds})")
    print(f"named / generic: {ours / base:.2f}x (+{(ours - base) * 1e6:.2f} us)")


if __name__ == "__main__":
    main()
