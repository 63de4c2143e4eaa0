"""``creditgate replay ID --db URL``: reproduce a stored decision from its stored inputs."""

from __future__ import annotations

from typing import Annotated

import typer

from creditgate.cli.audit import DbOption
from creditgate.cli.common import Exit, err, out
from creditgate.store.catalog import Catalog
from creditgate.store.db import make_engine
from creditgate.store.replay import replay as run_replay
from creditgate.store.repo import DecisionLog


def replay(
    decision_id: Annotated[str, typer.Argument(help="The decision id (d_...).")],
    db: DbOption = "sqlite:///creditgate.db",
) -> None:
    """Decide again with the stored policy version; exit 0 when identical, 1 otherwise."""
    engine = make_engine(db)
    try:
        result = run_replay(DecisionLog(engine), Catalog(engine), decision_id)
    finally:
        engine.dispose()
    if result.status == "identical":
        out.print(f"{decision_id}: replayed, identical", markup=False)
        return
    messages = {
        "erased": "the inputs were erased (consent withdrawn); it cannot be replayed",
        "missing": "not found " + ", ".join(result.differences),
        "different": "REPLAY DIFFERS:\n  " + "\n  ".join(result.differences),
    }
    err.print(f"{decision_id}: {messages[result.status]}", markup=False)
    raise typer.Exit(int(Exit.FAILURE))
