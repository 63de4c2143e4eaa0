"""``creditgate lenders check [FILE] [--policy P]``: validate a lender directory."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from creditgate.cli.common import Exit, PolicyOption, err, fail, out
from creditgate.explain.alternatives import percent
from creditgate.lenders.directory import LICENCE_NAMES, DirectoryError, load_directory
from creditgate.policy.loader import PolicyError, load_policy

app = typer.Typer(help="The directory of licensed lenders (docs/lenders.md).", no_args_is_help=True)
DirectoryFile = Annotated[
    Path | None,
    typer.Argument(
        help="Lender directory YAML (default: the packaged one).", dir_okay=False, exists=True
    ),
]


@app.command("check")
def check_command(file: DirectoryFile = None, policy: PolicyOption = None) -> None:
    """Check a directory against the policy's APR cap; print its lenders, or every problem
    as ``file:line: path: message`` and exit 1."""
    try:
        cap = load_policy(policy).jurisdiction.apr_cap
    except PolicyError as exc:
        fail("the policy cannot be used:\n" + "\n".join(f"  {i}" for i in exc.issues))
    try:
        directory = load_directory(file, cap)
    except DirectoryError as exc:
        for issue in exc.issues:
            err.print(f"error: {issue}", markup=False, soft_wrap=True)
        raise typer.Exit(int(Exit.FAILURE)) from None
    table = Table("id", "name", "licence", "number", "APR", "purpose")
    for x in directory.lenders:
        table.add_row(
            x.id,
            x.name.zh_cn,
            LICENCE_NAMES[x.licence.type]["zh-CN"],
            x.licence.number,
            f"{percent(x.apr.min)}-{percent(x.apr.max)}",
            x.purpose.value,
        )
    out.print(table)
    out.print(
        f"{file or 'packaged directory'}: {len(directory.lenders)} lender(s), "
        f"APR cap {percent(cap)}: ok",
        markup=False,
    )
