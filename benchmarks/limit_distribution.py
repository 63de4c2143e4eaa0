"""The limits the invited get: counts per limit value, the top line's share and who holds it.

Draws a synthetic population (``creditgate synth``), runs ``creditgate batch`` on it once per
policy (subprocesses, so the figures are the CLI's), and prints per policy: users per limit
value with their monthly spend, the share at the top line (and at the product maximum), min,
median and max, the monthly spend of the users at the top line, and how many get more than
the jurisdiction's household line cap. Give several ``--policy`` files to compare them (the
figures in docs/policy.md compare the previous default with the current one):

    .venv/bin/python benchmarks/limit_distribution.py                   # packaged default
    git show 40837c8:src/creditgate/policy/defaults/default.yaml > /tmp/before.yaml
    .venv/bin/python benchmarks/limit_distribution.py --policy /tmp/before.yaml --policy \\
        src/creditgate/policy/defaults/default.yaml --users 20000 --seed 5 --as-of 2026-11-28
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import duckdb

from creditgate.policy.loader import default_policy_path, load_policy

CLI = [sys.executable, "-m", "creditgate.cli.main"]


@dataclass(frozen=True)
class LimitRow:
    limit: int
    users: int
    spend_min: Decimal
    spend_median: Decimal
    spend_max: Decimal


@dataclass(frozen=True)
class LimitDistribution:
    population: int
    invited: int
    rows: tuple[LimitRow, ...]  # ascending limit
    median: float
    above_cap: int

    @property
    def top(self) -> LimitRow:
        return self.rows[-1]

    def share(self, limit: int) -> float:
        return sum(r.users for r in self.rows if r.limit == limit) / self.invited


def quoted(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def summarise(decisions: Path, users: Path, household_cap: int) -> LimitDistribution:
    """Join the invited with their profiles' monthly spend; one row per limit value."""
    con = duckdb.connect()
    con.execute(
        "CREATE TEMP TABLE invited AS SELECT d.limit_cny AS limit_cny, "
        f"u.monthly_spend_cny_6m AS spend FROM read_parquet({quoted(decisions)}) d "
        f"JOIN read_parquet({quoted(users)}) u USING (user_id) WHERE d.outcome = 'invited'"
    )
    rows = tuple(
        LimitRow(*r)
        for r in con.execute(
            "SELECT limit_cny, count(*), min(spend), median(spend), max(spend) "
            "FROM invited GROUP BY limit_cny ORDER BY limit_cny"
        ).fetchall()
    )
    invited, median, above = con.execute(
        "SELECT count(*), median(limit_cny), count(*) FILTER (WHERE limit_cny > ?) FROM invited",
        [household_cap],
    ).fetchone() or (0, 0.0, 0)
    population = con.execute("SELECT count(*) FROM read_parquet(?)", [str(users)]).fetchone()
    return LimitDistribution(population[0] if population else 0, invited, rows, median, above)


def report(name: str, dist: LimitDistribution, product_max: int, cap: int) -> str:
    lines = [
        f"{name}: invited {dist.invited:,} of {dist.population:,}",
        f"{'limit':>9} {'users':>6} {'share':>7}   monthly spend min / median / max",
    ]
    for r in dist.rows:
        lines.append(
            f"{r.limit:>9,} {r.users:>6,} {r.users / dist.invited:>7.2%}   "
            f"{r.spend_min:,.0f} / {r.spend_median:,.0f} / {r.spend_max:,.0f}"
        )
    top = dist.top
    lines += [
        f"min {dist.rows[0].limit:,}, median {dist.median:,.0f}, max {top.limit:,}",
        f"at the top line {top.limit:,}: {top.users:,} users ({top.users / dist.invited:.2%}), "
        f"monthly spend {top.spend_min:,.0f} / {top.spend_median:,.0f} / {top.spend_max:,.0f}",
        f"at the product maximum {product_max:,}: {dist.share(product_max):.2%}; "
        f"above the household cap {cap:,}: {dist.above_cap:,}",
    ]
    return "\n".join(lines)


def run(args: list[str]) -> None:
    done = subprocess.run([*CLI, *args], capture_output=True, text=True, check=False)
    if done.returncode:
        sys.exit(f"creditgate {args[0]} failed:\n{done.stderr}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--as-of", default="2026-11-28")
    parser.add_argument("--policy", type=Path, action="append", help="repeat to compare")
    parser.add_argument("--workdir", type=Path, help="keep the files here (default: temporary)")
    args = parser.parse_args()
    policies: list[Path] = args.policy or [default_policy_path()]
    with tempfile.TemporaryDirectory() as tmp:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        users = work / "users.parquet"
        synth = ["synth", "--users", str(args.users), "--seed", str(args.seed)]
        run([*synth, "--as-of", args.as_of, "--out", str(users)])
        for i, path in enumerate(policies):
            policy = load_policy(path)
            decisions = work / f"decisions_{i}.parquet"
            batch = ["batch", str(users), "--out", str(decisions), "--policy", str(path)]
            run([*batch, "--snapshot", str(work / f"snapshot_{i}.parquet"), "--as-of", args.as_of])
            cap = policy.jurisdiction.household_line_cap_cny
            dist = summarise(decisions, users, cap)
            name = f"{policy.name} {policy.version} ({path.name})"
            print(report(name, dist, policy.offer.max_limit, cap), end="\n\n")


if __name__ == "__main__":
    main()
