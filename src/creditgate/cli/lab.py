"""``creditgate simulate``: candidate policies over a population, one scan, one report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TimeElapsedColumn

from creditgate.batch.backends import DEFAULT_MEMORY_LIMIT
from creditgate.batch.run import BatchInputError
from creditgate.cli.batch import Engine, connect, unwritable
from creditgate.cli.common import AsOfOption, err, fail, load_decider, out, parse_as_of
from creditgate.lab.evaluate import evaluate
from creditgate.lab.html import write_html
from creditgate.lab.report import write_report


def simulate(
    policies: Annotated[list[Path], typer.Argument(help="Policy YAML files (one or more).")],
    population: Annotated[Path, typer.Option("--population", help="Profiles as Parquet.")],
    output: Annotated[
        Path, typer.Option("--out", help="Directory for report.json and index.html.")
    ],
    engine: Annotated[Engine, typer.Option(help="Where to run.")] = Engine.DUCKDB,
    as_of: AsOfOption = None,
    outcome: Annotated[
        str | None,
        typer.Option("--outcome", help="Population column of observed defaults (e.g. defaulted)."),
    ] = None,
    memory_limit: Annotated[
        str, typer.Option(help="DuckDB memory limit (spills beyond).")
    ] = DEFAULT_MEMORY_LIMIT,
    threads: Annotated[
        int | None, typer.Option(min=1, help="DuckDB threads (default: all cores).")
    ] = None,
) -> None:
    """Evaluate POLICIES over one population (read and validated once) and write
    OUT/report.json (one entry per policy, in the order given) and OUT/index.html.

    Exit 2 on bad input: a missing file, a policy with errors, an unknown outcome column.
    """
    when = parse_as_of(as_of)
    for path in policies:
        if not path.is_file():
            fail(f"{path}: no such policy file")
    loaded = [load_decider(path) for path in policies]
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fail(f"--out {output}: cannot create the directory: {exc.strerror or exc}")
    if why := unwritable(output / "report.json"):
        fail(f"--out {output}: {why}")
    backend = connect(engine, memory_limit, threads)
    regions = loaded[0].regions
    columns = (SpinnerColumn(), "[progress.description]{task.description}", TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task("starting", total=None)

        def step(s: str) -> None:
            progress.update(task, description=s)

        try:
            ev = evaluate(
                backend,
                population,
                [d.policy for d in loaded],
                regions,
                when,
                outcome_column=outcome,
                step=step,
            )
        except BatchInputError as exc:
            fail(str(exc))
        with ev:
            reports = []
            for k, run in enumerate(ev.runs):
                step(f"reporting {run.policy.name} ({k + 1}/{len(ev.runs)})")
                reports.append(
                    {"file": str(policies[k]), "as_of": when.isoformat()} | ev.report(run)
                )
    write_report(output / "report.json", reports)
    write_html(output / "index.html", reports)
    out.print(
        f"input {ev.input_rows:,} = decided {ev.decided:,} + quarantined {ev.quarantined:,}"
        f" ({ev.duplicate_rows:,} with duplicate user ids)"
    )
    for r in reports:
        realised = f", realised {r['realised_bad_rate']}" if r["realised_bad_rate"] else ""
        out.print(
            f"{r['file']}: invited {r['invited']:,} ({r['invited_share']}), expected bad rate "
            f"{r['expected_bad_rate']}{realised}, exposure {r['exposure_cny']:,} CNY"
        )
    out.print(f"report: {output / 'report.json'}, {output / 'index.html'}")
