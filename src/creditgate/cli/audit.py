"""``creditgate audit verify|anchor``: check both hash chains, the catalog and the anchors;
sign the chain heads into an anchor file (keys from ``CREDITGATE_ANCHOR_KEYS``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from creditgate.cli.common import Exit, err, fail, out
from creditgate.store.anchors import ENV, AnchorKeyError, anchor, parse_keys
from creditgate.store.audit import verify_all
from creditgate.store.db import make_engine

app = typer.Typer(help="Audit the decision log and the operator events.", no_args_is_help=True)
DbOption = Annotated[str, typer.Option("--db", help="Database URL.")]


def _keys() -> dict[str, bytes]:
    try:
        return parse_keys(os.environ.get(ENV))
    except AnchorKeyError as exc:
        fail(str(exc))


@app.command("verify")
def verify_command(
    db: DbOption = "sqlite:///creditgate.db",
    anchor_file: Annotated[
        Path | None,
        typer.Option(
            "--anchor",
            help=f"Anchor file (JSON lines) to check the chains against; keys from {ENV}.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Check every record's hash and link, the catalog against the event chain and, with
    --anchor, that every signed head still holds; exit 1 naming each problem."""
    keys = _keys() if anchor_file is not None else None
    engine = make_engine(db)
    try:
        report = verify_all(engine, anchor_file, keys)
    finally:
        engine.dispose()
    counts = f"{report.decisions} record(s), {report.events} event(s)"
    if anchor_file is not None:
        counts += f", {report.anchors} anchor(s)"
    if report.problems:
        for problem in report.problems:
            err.print(f"TAMPERED: {problem}", markup=False, soft_wrap=True)
        err.print(f"({counts} read)", markup=False)
        raise typer.Exit(int(Exit.FAILURE))
    out.print(f"ok: {counts}, chain intact", markup=False)


@app.command("anchor")
def anchor_command(
    db: DbOption = "sqlite:///creditgate.db",
    out_file: Annotated[
        Path, typer.Option("--out", help="Anchor file to append to.", dir_okay=False)
    ] = Path("creditgate.anchors"),
) -> None:
    """Append both chain heads (seq, hash), the time and the key id, HMAC-signed with the
    first key of CREDITGATE_ANCHOR_KEYS, to --out."""
    keys = _keys()
    engine = make_engine(db)
    try:
        made = anchor(engine, keys, out_file)
    finally:
        engine.dispose()
    out.print(
        f"anchored decisions seq {made['decisions']['seq']}, events seq "
        f"{made['events']['seq']} with key {made['kid']}",
        markup=False,
    )
