"""``creditgate synth``: a reproducible synthetic user base as Parquet (population/synth.py)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from creditgate.cli.common import err, fail
from creditgate.population.synth import write_parquet


def synth(
    users: Annotated[int, typer.Option("--users", help="Number of users.", min=0)],
    out: Annotated[Path, typer.Option("--out", help="Parquet file to write.", dir_okay=False)],
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same file).")] = 7,
    dirty_fraction: Annotated[
        float,
        typer.Option(
            "--dirty-fraction", help="Share of bad rows to inject (all columns become strings)."
        ),
    ] = 0.0,
    as_of: Annotated[
        str, typer.Option("--as-of", help="Evaluation date the population is drawn for.")
    ] = "2025-06-30",
) -> None:
    """Write a synthetic population with a ground-truth ``defaulted`` column."""
    try:
        when = date.fromisoformat(as_of)
    except ValueError:
        fail(f"--as-of: {as_of!r} is not a date in the form YYYY-MM-DD")
    columns = (
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task("synthesising users", total=users)
        try:
            written = write_parquet(
                out,
                users,
                seed,
                when,
                dirty_fraction=dirty_fraction,
                progress=lambda done: progress.update(task, completed=done),
            )
        except ValueError as exc:
            fail(str(exc))
        except OSError as exc:
            fail(f"{out}: {exc.strerror or exc}")
    err.print(f"wrote {written:,} users to {out}")
