"""``creditgate calibrate``: risk floors that invite the most users under a bad-rate ceiling."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import Progress, SpinnerColumn, TimeElapsedColumn
from rich.table import Table

from creditgate.batch.backends import DEFAULT_MEMORY_LIMIT
from creditgate.batch.run import BatchInputError, fingerprint
from creditgate.batch.whitelist import Cutoffs, Eligible
from creditgate.cli.batch import ConfOption, Engine, MasterOption, connect, unwritable
from creditgate.cli.common import AsOfOption, Exit, err, fail, load_decider, out, parse_as_of
from creditgate.lab.calibrate import (
    MICRO,
    Calibration,
    calibrate,
    evaluate,
    invited_by_class,
    with_capacity,
)
from creditgate.lab.policy_text import calibrated_version, rewrite
from creditgate.lab.pool import read_pool
from creditgate.policy.lint import errors, lint
from creditgate.policy.loader import PolicyError, parse_policy
from creditgate.policy.nodes import Policy, RegionStatus
from creditgate.population.regions import RegionTable
from creditgate.timeutil import SHANGHAI


def report_path(policy_out: Path) -> Path:
    """``NEW.yaml`` -> ``NEW.calibration.json`` (beside it)."""
    return policy_out.with_name(policy_out.stem + ".calibration.json")


def by_class(
    pool: Sequence[Eligible],
    policy: Policy,
    regions: RegionTable,
    cut: Cutoffs,
    floors: Mapping[str, int],
) -> dict[str, int]:
    """Invited users per class, each held to their city's cutoff where it has one."""
    return {
        c: users for c, (users, _) in invited_by_class(pool, policy, regions, cut, floors).items()
    }


def figures(invited: int, pd_sum: int, all_users: int) -> dict[str, Any]:
    return {
        "invited": invited,
        "invited_share": invited / all_users if all_users else 0.0,
        "expected_bad_rate": pd_sum / MICRO / invited if invited else None,
    }


def calibrate_command(
    policy: Annotated[Path, typer.Argument(help="Policy YAML file to calibrate.", dir_okay=False)],
    population: Annotated[
        Path, typer.Option("--population", help="Profiles as Parquet (file or directory).")
    ],
    ceiling: Annotated[
        float,
        typer.Option("--bad-rate-ceiling", help="Highest expected bad rate (mean PD), 0 < R < 1."),
    ],
    output: Annotated[Path, typer.Option("--out", help="Calibrated policy YAML to write.")],
    capacity: Annotated[
        float | None,
        typer.Option("--capacity", help="Capacity share to calibrate for (default: the policy's)."),
    ] = None,
    engine: Annotated[Engine, typer.Option(help="Where to run.")] = Engine.DUCKDB,
    as_of: AsOfOption = None,
    master: MasterOption = None,
    conf: ConfOption = None,
) -> None:
    """Choose the score floors (``scorecard.cutoffs``) that invite the most users while the
    expected bad rate of the invited stays at or below the ceiling; write the policy with only
    its cutoffs and version changed, and OUT.calibration.json with the frontier.

    Exit 0 when written, 1 when no floors keep the ceiling, 2 on bad input.
    """
    if not 0 < ceiling < 1:
        fail(f"--bad-rate-ceiling {ceiling}: must lie strictly between 0 and 1")
    if capacity is not None and not 0 < capacity <= 1:
        fail(f"--capacity {capacity}: must lie in (0, 1]")
    if not population.exists():
        fail(f"--population {population}: no such file or directory")
    if why := unwritable(output):
        fail(f"--out {output}: {why}")
    when = parse_as_of(as_of)
    decider = load_decider(policy)
    base, regions = decider.policy, decider.regions
    text = policy.read_text(encoding="utf-8")
    backend = connect(engine, DEFAULT_MEMORY_LIMIT, None, master, conf)
    columns = (SpinnerColumn(), "[progress.description]{task.description}", TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task("starting", total=None)

        def step(s: str) -> None:
            progress.update(task, description=s)

        try:
            pool = read_pool(backend, population, base, regions, when, step)
        except BatchInputError as exc:
            fail(str(exc))
        step("searching the floors")
        result = calibrate(pool.eligible, pool.all_users, base, regions, ceiling, capacity)
    if result.best is None:
        fail(
            f"no risk floors keep the expected bad rate at or below {ceiling}: "
            "nothing written (raise the ceiling)",
            Exit.FAILURE,
        )
    stamp = datetime.now(SHANGHAI)
    version = calibrated_version(base.version, stamp.strftime("%Y%m%d%H%M"))
    share = capacity if capacity is not None else base.capacity_share
    header = [
        f"Calibrated by `creditgate calibrate` at {stamp:%Y-%m-%d %H:%M} (Asia/Shanghai) from "
        f"{policy.name} version {base.version}:",
        f"  bad-rate ceiling {ceiling} (expected bad rate of the invited "
        f"{result.best.expected_bad_rate:.4%}); binding constraint: {result.binding};",
        f"  population {fingerprint(population)} ({pool.all_users:,} users, as of {when}),"
        f" capacity share {share}"
        + ("" if capacity is None else " (--capacity; capacity_share below is unchanged)")
        + ";",
        "  only scorecard.cutoffs and policy.version differ from the source file.",
        "",
    ]
    new_text = rewrite(text, result.best.floors, version, header)
    try:
        written = parse_policy(new_text, str(output))
    except PolicyError as exc:  # the source loaded, so only the edit could have broken it
        raise AssertionError(f"calibrated policy does not load: {exc}") from exc
    if problems := errors(lint(written, regions)):
        raise AssertionError(f"calibrated policy fails the lint: {problems[0]}")
    output.write_text(new_text, encoding="utf-8")
    report = build_report(result, pool.eligible, base, regions, capacity)
    report.update(
        calibrated_at=stamp.isoformat(timespec="seconds"),
        policy={"name": base.name, "version_before": base.version, "version_after": version},
        population={"fingerprint": fingerprint(population), "users": pool.all_users},
        as_of=when.isoformat(),
        engine=engine.value,
    )
    rpath = report_path(output)
    rpath.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print_report(report)
    out.print(f"policy: {output}\nreport: {rpath}")


def build_report(
    result: Calibration,
    pool: Sequence[Eligible],
    policy: Any,
    regions: Any,
    capacity: float | None,
) -> dict[str, Any]:
    assert result.best is not None
    sized = with_capacity(policy, capacity)
    floors_before = {
        c: v
        for c, v in policy.scorecard.cutoffs
        if policy.region(c).status is not RegionStatus.CLOSED
    }
    cut_before, invited_before, pd_before = evaluate(
        pool, result.all_users, sized, regions, floors_before
    )
    assert result.cutoffs is not None
    after = by_class(pool, sized, regions, result.cutoffs, result.best.floors)
    before = by_class(pool, sized, regions, cut_before, floors_before)
    return {
        "ceiling": result.ceiling,
        "capacity_share": sized.capacity_share,
        "capacity": result.capacity,
        "binding": result.binding,
        "relaxed": dict(result.relaxed),
        "pool": sum(e.users for e in pool),
        "before": figures(invited_before, pd_before, result.all_users),
        "after": figures(result.best.invited, result.best.pd_micro, result.all_users),
        "classes": [
            {
                "region_class": c,
                "floor_before": floors_before[c],
                "floor_after": result.best.floors[c],
                "cutoff_before": cut_before.by_class[c],
                "cutoff_after": result.cutoffs.by_class[c],
                "invited_before": before[c],
                "invited_after": after[c],
            }
            for c in floors_before
        ],
        "frontier": [
            {"ceiling": p.ceiling, **figures(p.invited, p.pd_micro, result.all_users)}
            | {"floors": dict(p.floors)}
            for p in result.frontier
        ],
    }


def print_report(report: Mapping[str, Any]) -> None:
    def rate(x: float | None) -> str:
        return "-" if x is None else f"{x:.3%}"

    table = Table(title=f"calibration under a bad-rate ceiling of {report['ceiling']:.3%}")
    for col in ("class", "floor before", "floor after", "invited before", "invited after"):
        table.add_column(col, justify="right" if col != "class" else "left")
    for c in report["classes"]:
        table.add_row(
            c["region_class"],
            str(c["floor_before"]),
            str(c["floor_after"]),
            f"{c['invited_before']:,}",
            f"{c['invited_after']:,}",
        )
    b, a = report["before"], report["after"]
    table.add_row(
        "all",
        "",
        "",
        f"{b['invited']:,} ({b['invited_share']:.2%})",
        f"{a['invited']:,} ({a['invited_share']:.2%})",
    )
    table.add_row(
        "expected bad rate", "", "", rate(b["expected_bad_rate"]), rate(a["expected_bad_rate"])
    )
    out.print(table)
    out.print(f"binding constraint: {report['binding']} (capacity {report['capacity']:,})")
    frontier = Table(title="frontier: the optimum for other ceilings")
    for col in ("ceiling", "invited", "share", "expected bad rate"):
        frontier.add_column(col, justify="right")
    for p in report["frontier"]:
        frontier.add_row(
            rate(p["ceiling"]),
            f"{p['invited']:,}",
            f"{p['invited_share']:.2%}",
            rate(p["expected_bad_rate"]),
        )
    out.print(frontier)
