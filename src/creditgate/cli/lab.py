"""``creditgate simulate`` and ``compare``: candidate policies over a population, one scan."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import Progress, SpinnerColumn, TimeElapsedColumn
from rich.table import Table

from creditgate.batch.backends import DEFAULT_MEMORY_LIMIT
from creditgate.batch.run import BatchInputError
from creditgate.cli.batch import ConfOption, Engine, MasterOption, connect, unwritable
from creditgate.cli.common import AsOfOption, Exit, err, fail, load_decider, out, parse_as_of
from creditgate.lab.churn import churn
from creditgate.lab.compare import CompareError, compare_tables, headline, product_deltas
from creditgate.lab.evaluate import Evaluation, evaluate
from creditgate.lab.html import write_compare_html, write_html
from creditgate.lab.report import write_report
from creditgate.snapshot import SnapshotError, read_meta

PopulationOption = Annotated[Path, typer.Option("--population", help="Profiles as Parquet.")]
EngineOption = Annotated[Engine, typer.Option(help="Where to run.")]
OutcomeOption = Annotated[
    str | None,
    typer.Option("--outcome", help="Population column of observed defaults (e.g. defaulted)."),
]
MemoryOption = Annotated[str, typer.Option(help="DuckDB memory limit (spills beyond).")]
ThreadsOption = Annotated[
    int | None, typer.Option(min=1, help="DuckDB threads (default: all cores).")
]


def simulate(
    policies: Annotated[list[Path], typer.Argument(help="Policy YAML files (one or more).")],
    population: PopulationOption,
    output: Annotated[
        Path, typer.Option("--out", help="Directory for report.json and index.html.")
    ],
    engine: EngineOption = Engine.DUCKDB,
    as_of: AsOfOption = None,
    outcome: OutcomeOption = None,
    memory_limit: MemoryOption = DEFAULT_MEMORY_LIMIT,
    threads: ThreadsOption = None,
    master: MasterOption = None,
    conf: ConfOption = None,
    previous: Annotated[
        Path | None,
        typer.Option(
            "--previous",
            help=(
                "The snapshot in force: its invitations are held (the policies' stability "
                "rules read them) and each policy's churn is reported against it."
            ),
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Evaluate POLICIES over one population (read and validated once) and write
    OUT/report.json (one entry per policy, in the order given) and OUT/index.html.

    Exit 2 on bad input: a missing file, a policy with errors, an unknown outcome column, a
    previous snapshot that cannot be read.
    """
    when = parse_as_of(as_of)
    if previous is not None:
        try:
            read_meta(previous)
        except SnapshotError as exc:
            fail(f"--previous: {exc}")

    def churns(ev: Evaluation, step: Callable[[str], None]) -> list[dict[str, Any] | None]:
        if previous is None:
            return [None] * len(ev.runs)
        assert ev.backend is not None
        step("churn against the previous snapshot")
        return [churn(ev.backend, run.decided, previous) for run in ev.runs]

    found, reports = run_policies(
        policies,
        population,
        engine,
        when,
        outcome,
        memory_limit,
        threads,
        (output, "report.json"),
        churns,
        previous,
        master=master,
        conf=conf,
    )
    for report, moved in zip(reports, found, strict=True):
        report["churn"] = moved
    write_report(output / "report.json", reports)
    write_html(output / "index.html", reports)
    for r in reports:
        realised = f", realised {r['realised_bad_rate']}" if r["realised_bad_rate"] else ""
        out.print(
            f"{r['file']}: invited {r['invited']:,} ({r['invited_share']}), expected bad rate "
            f"{r['expected_bad_rate']}{realised}, exposure {r['exposure_cny']:,} CNY"
        )
        if (moved := r["churn"]) is not None:
            out.print(
                f"  against {moved['previous']['snapshot']}: kept {moved['kept']:,}, lost "
                f"{moved['lost']:,}, gained {moved['gained']:,}, lines cut {moved['limit_cut']:,}"
            )
    out.print(f"report: {output / 'report.json'}, {output / 'index.html'}")


def prepare_out(output: Path, probe: str) -> None:
    """Create the output directory and check it can be written, before any work."""
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fail(f"--out {output}: cannot create the directory: {exc.strerror or exc}")
    if why := unwritable(output / probe):
        fail(f"--out {output}: {why}")


def run_policies(
    policies: list[Path],
    population: Path,
    engine: Engine,
    when: date,
    outcome: str | None,
    memory_limit: str,
    threads: int | None,
    out_probe: tuple[Path, str] | None,
    then: Callable[[Evaluation, Callable[[str], None]], Any] | None = None,
    previous: Path | None = None,
    master: str | None = None,
    conf: list[str] | None = None,
) -> tuple[Any, list[dict[str, Any]]]:
    """Evaluate ``policies`` over ``population`` in one scan, with a progress display: each
    policy's report, and ``then(evaluation, step)`` while the staged rows live. Checks the
    policies, then the output directory (``out_probe``: directory, a file to probe), before
    any work; exits 2 naming the problem on bad input."""
    for path in policies:
        if not path.is_file():
            fail(f"{path}: no such policy file")
    loaded = [load_decider(path) for path in policies]
    if out_probe is not None:
        prepare_out(*out_probe)
    backend = connect(engine, memory_limit, threads, master, conf)
    columns = (SpinnerColumn(), "[progress.description]{task.description}", TimeElapsedColumn())
    reports: list[dict[str, Any]] = []
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task("starting", total=None)

        def step(s: str) -> None:
            progress.update(task, description=s)

        try:
            ev = evaluate(
                backend,
                population,
                [d.policy for d in loaded],
                loaded[0].regions,
                when,
                outcome_column=outcome,
                step=step,
                previous=previous,
            )
        except BatchInputError as exc:
            fail(str(exc))
        with ev:
            for k, run in enumerate(ev.runs):
                step(f"reporting {run.policy.name} ({k + 1}/{len(ev.runs)})")
                reports.append(
                    {"file": str(policies[k]), "as_of": when.isoformat()} | ev.report(run)
                )
            result = then(ev, step) if then is not None else None
    out.print(
        f"input {ev.input_rows:,} = decided {ev.decided:,} + quarantined {ev.quarantined:,}"
        f" ({ev.duplicate_rows:,} with duplicate user ids)"
    )
    return result, reports


def compare(
    champion: Annotated[Path, typer.Argument(help="The policy in force (YAML).")],
    challenger: Annotated[Path, typer.Argument(help="The candidate policy (YAML).")],
    population: PopulationOption,
    output: Annotated[
        Path | None,
        typer.Option("--out", help="Directory for compare.json and compare.html."),
    ] = None,
    engine: EngineOption = Engine.DUCKDB,
    as_of: AsOfOption = None,
    outcome: OutcomeOption = None,
    memory_limit: MemoryOption = DEFAULT_MEMORY_LIMIT,
    threads: ThreadsOption = None,
    master: MasterOption = None,
    conf: ConfOption = None,
) -> None:
    """The swap set of CHAMPION and CHALLENGER over one population (decided in one scan):
    users in/in, in/out, out/in and out/out with counts, bad rates and exposure, outcome
    transitions, and the reasons that moved users. Exit 2 on bad input."""
    when = parse_as_of(as_of)

    def swap_set(ev: Evaluation, step: Callable[[str], None]) -> dict[str, Any]:
        step("comparing")
        a, b = ev.runs
        assert ev.backend is not None
        try:
            found = compare_tables(ev.backend, a.decided, b.decided, ev.outcome_column)
        except CompareError as exc:  # one scan decides the same users: a broken invariant
            fail(str(exc), Exit.FAILURE)
        return found

    paths = [champion, challenger]
    probe = (output, "compare.json") if output is not None else None
    result, reports = run_policies(
        paths,
        population,
        engine,
        when,
        outcome,
        memory_limit,
        threads,
        probe,
        swap_set,
        master=master,
        conf=conf,
    )
    body = {
        "format": "creditgate.lab.compare/1",
        "as_of": when.isoformat(),
        "population": str(population),
        "outcome_column": outcome,
        "champion": headline(reports[0]),
        "challenger": headline(reports[1]),
    } | result
    deltas = product_deltas(reports[0], reports[1])
    if deltas:  # either policy declares a product family
        body["products"] = deltas
    print_swap_set(body)
    if output is not None:
        (output / "compare.json").write_text(
            json.dumps(body, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
        )
        write_compare_html(output / "compare.html", body)
        out.print(f"report: {output / 'compare.json'}, {output / 'compare.html'}")


def print_swap_set(body: dict[str, Any]) -> None:
    table = Table(
        title="swap set: champion (A) against challenger (B)",
        caption="E bad: expected bad rate (mean PD) under A and B; bad: realised; exposure in CNY",
        padding=(0, 1, 0, 0),
    )
    for name in ("A", "B", "users", "E bad A", "E bad B", "bad", "exposure A", "exposure B"):
        table.add_column(name, justify="right", no_wrap=True)
    for c in body["swap_set"]:
        table.add_row(
            c["champion"],
            c["challenger"],
            f"{c['users']:,}",
            _rate(c["expected_bad_rate_champion"]),
            _rate(c["expected_bad_rate_challenger"]),
            _rate(c["realised_bad_rate"]),
            f"{c['exposure_champion_cny']:,}",
            f"{c['exposure_challenger_cny']:,}",
        )
    out.print(table)
    for key, label in (
        ("reasons_swapped_out", "swapped out"),
        ("reasons_swapped_in", "swapped in"),
    ):
        top = ", ".join(f"{r['code']} {r['users']:,}" for r in body[key][:6])
        out.print(f"{label}: {top or 'nobody'}")
    if body.get("products"):
        print_products(body["products"])


def print_products(deltas: list[dict[str, Any]]) -> None:
    """Users offered each product under A and B, and the change (``lab.product_deltas``)."""
    table = Table(title="products: users offered under A and B", padding=(0, 1, 0, 0))
    for name in ("product", "offered A", "offered B", "change", "exposure A", "exposure B"):
        table.add_column(name, justify="left" if name == "product" else "right", no_wrap=True)
    for d in deltas:
        table.add_row(
            d["product"],
            f"{d['offered_champion']:,}",
            f"{d['offered_challenger']:,}",
            f"{d['offered_delta']:+,}",
            f"{d['exposure_champion_cny']:,}",
            f"{d['exposure_challenger_cny']:,}",
        )
    out.print(table)


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.3%}"
