"""What every command shares: exit codes, the error console, option parsing."""

from __future__ import annotations

from datetime import date
from enum import IntEnum
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from creditgate.decider import Decider
from creditgate.policy.loader import PolicyError, load_policy
from creditgate.timeutil import as_of_problem, today_shanghai

err = Console(stderr=True, highlight=False)
out = Console(highlight=False)


class Exit(IntEnum):
    OK = 0
    FAILURE = 1
    BAD_INPUT = 2


PolicyOption = Annotated[
    Path | None,
    typer.Option(
        "--policy", help="Policy YAML file (default: the packaged default policy).", dir_okay=False
    ),
]
AsOfOption = Annotated[
    str | None,
    typer.Option("--as-of", help="Evaluation date YYYY-MM-DD (default: today, Asia/Shanghai)."),
]


def fail(message: str, code: Exit = Exit.BAD_INPUT) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", markup=True, soft_wrap=True)
    raise typer.Exit(int(code))


def parse_as_of(value: str | None) -> date:
    if value is None:
        return today_shanghai()
    try:
        when = date.fromisoformat(value)
    except ValueError:
        fail("--as-of: not a date in the form YYYY-MM-DD")
    if problem := as_of_problem(when):
        fail(f"--as-of: {problem}")
    return when


def load_decider(policy: Path | None) -> Decider:
    """Load, check and compile a policy, or exit 2 naming the file lines at fault."""
    try:
        return Decider(load_policy(policy))
    except PolicyError as exc:
        fail("the policy cannot be used:\n" + "\n".join(f"  {i}" for i in exc.issues))
