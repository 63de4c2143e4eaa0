"""The service benchmark run alternately against two checkouts (before and after a change), so
that both see the same machine load: decisions/s and lookups/s per run, then the ratio of
medians per database.

    .venv/bin/python benchmarks/compare_service.py --base ../creditgate-before --pairs 3

``--base`` is another checkout's root (e.g. ``git worktree add --detach ../before COMMIT``);
``--new`` defaults to this one. Both run this file's ``bench_service.py`` (its load generator
and settings), with ``PYTHONPATH`` pointing the server at the checkout's ``src``.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIGURE = re.compile(r"^(\w+)\s+(POST /v1/decisions|GET  /users/\{id\}/entry)\s+(\d+) req/s")


def run(root: Path, args: argparse.Namespace) -> dict[tuple[str, str], float]:
    env = os.environ | {"PYTHONPATH": str(root / "src")}
    command = [sys.executable, str(HERE / "bench_service.py"), "--db", args.db]
    command += ["--workers", str(args.workers), "--conns", str(args.conns)]
    command += ["--seconds", str(args.seconds)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    figures = {}
    for line in done.stdout.splitlines():
        print(f"  {root.name:>12}  {line}", flush=True)
        if found := FIGURE.match(line):
            figures[(found[1], found[2].split()[0])] = float(found[3])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", type=Path, required=True, help="checkout before the change")
    parser.add_argument("--new", type=Path, default=HERE.parent, help="checkout after it")
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--conns", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    results: dict[str, list[dict[tuple[str, str], float]]] = {"base": [], "new": []}
    for pair in range(args.pairs):
        print(f"pair {pair + 1}/{args.pairs}", flush=True)
        order = [("base", args.base), ("new", args.new)]
        for label, root in order if pair % 2 == 0 else order[::-1]:  # alternate who goes first
            results[label].append(run(root.resolve(), args))
    print("\nmedian req/s           base       new   new/base")
    for key in sorted(results["base"][0]):
        base = statistics.median(r[key] for r in results["base"])
        new = statistics.median(r[key] for r in results["new"])
        print(f"{key[0]:10} {key[1]:6} {base:9.0f} {new:9.0f}   {new / base:7.3f}")


if __name__ == "__main__":
    main()
