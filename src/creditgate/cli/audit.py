"""``creditgate audit verify --db URL``: walk the decision log's hash chain."""

from __future__ import annotations

from typing import Annotated

import typer

from creditgate.cli.common import Exit, err, out
from creditgate.store.db import make_engine
from creditgate.store.repo import DecisionLog, verify

app = typer.Typer(help="Audit the decision log.", no_args_is_help=True)
DbOption = Annotated[str, typer.Option("--db", help="Database URL.")]


@app.command("verify")
def verify_command(db: DbOption = "sqlite:///creditgate.db") -> None:
    """Check every record's hash and link; exit 1 naming the first bad record."""
    engine = make_engine(db)
    try:
        checked, problem = verify(DecisionLog(engine))
    finally:
        engine.dispose()
    if problem is not None:
        err.print(f"TAMPERED: {problem} ({checked} record(s) read)", markup=False)
        raise typer.Exit(int(Exit.FAILURE))
    out.print(f"ok: {checked} record(s), chain intact", markup=False)
