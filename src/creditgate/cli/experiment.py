"""``creditgate experiment report --db URL [--id ID] [--performance FILE] [--json]``: compare
a champion/challenger experiment's arms over its stored decisions (``experiment_report``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from creditgate.cli.audit import DbOption
from creditgate.cli.common import err, fail, out
from creditgate.experiment import ARMS
from creditgate.experiment_report import PerformanceError, read_performance, report
from creditgate.store.db import make_engine
from creditgate.store.experiments import Experiment, all_experiments, get

app = typer.Typer(help="Champion/challenger experiments.", no_args_is_help=True)


def _pick(
    experiments: list[Experiment], wanted: str | None, found: Experiment | None
) -> Experiment:
    if wanted is not None:
        if found is None:
            fail(f"no experiment {wanted}")
        return found
    if not experiments:
        fail("no experiment was ever started in this database")
    running = [e for e in experiments if e.status == "running"]
    return running[0] if running else experiments[0]


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.2%}"


def _num(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _table(result: dict[str, Any]) -> Table:
    arms = result["arms"]
    table = Table(title=f"experiment {result['experiment_id']} ({result['status']})")
    table.add_column("")
    for arm in ARMS:
        table.add_column(arm, justify="right")
    rows: list[tuple[str, Any]] = [
        ("policy", lambda a: a["policy_version"]),
        ("snapshot", lambda a: a["snapshot_id"][:12]),
        ("decisions", lambda a: f"{a['decisions']:,}"),
        ("users", lambda a: f"{a['users']:,}"),
        ("invited users", lambda a: f"{a['invited_users']:,}"),
        ("invited share", lambda a: _pct(a["invited_share"])),
        ("mean limit (CNY)", lambda a: _num(a["limit_mean"])),
        ("median limit (CNY)", lambda a: _num(a["limit_median"])),
        ("mean APR", lambda a: _pct(a["apr_mean"])),
    ]
    outcomes = sorted({o for a in arms.values() for o in a["outcomes"]})
    for name in outcomes:
        rows.append((f"outcome {name}", lambda a, n=name: f"{a['outcomes'].get(n, 0):,}"))
    if arms["champion"]["bad_rate"] is not None:
        rows += [
            ("with outcome", lambda a: f"{a['bad_rate']['with_outcome']:,}"),
            ("bad rate", lambda a: _pct(a["bad_rate"]["rate"])),
            (
                "95% interval",
                lambda a: f"{_pct(a['bad_rate']['low'])} - {_pct(a['bad_rate']['high'])}",
            ),
        ]
    for label, cell in rows:
        table.add_row(label, *(str(cell(arms[arm])) for arm in ARMS))
    return table


@app.command("report")
def report_command(
    db: DbOption = "sqlite:///creditgate.db",
    experiment_id: Annotated[
        str | None,
        typer.Option("--id", help="The experiment (default: the running one, else the latest)."),
    ] = None,
    performance: Annotated[
        Path | None,
        typer.Option(
            "--performance",
            help="Parquet or CSV with user_id, defaulted (0/1): bad rate per arm.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Compare the arms: decisions, outcomes, invited share, limits, APR (and bad rate)."""
    try:
        outcomes = read_performance(performance) if performance is not None else None
    except PerformanceError as exc:
        fail(f"--performance: {exc}")
    engine = make_engine(db)
    try:
        found = get(engine, experiment_id) if experiment_id is not None else None
        chosen = _pick(all_experiments(engine), experiment_id, found)
        columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
        with Progress(*columns, console=err, transient=True) as progress:
            task = progress.add_task("reading the experiment's decisions", total=None)

            def seen(rows: int) -> None:
                progress.update(task, description=f"read {rows:,} decisions")

            result = report(engine, chosen, outcomes, seen)
    finally:
        engine.dispose()
    if as_json:
        out.print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode(), markup=False)
        return
    out.print(_table(result))
    diff = result["bad_rate_difference"]
    if diff is not None:
        out.print(
            f"bad rate difference (challenger - champion): {diff['difference']:+.2%} "
            f"(95% interval {diff['low']:+.2%} to {diff['high']:+.2%})",
            markup=False,
        )
