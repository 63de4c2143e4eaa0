"""The ``creditgate`` command: one Typer app composed of one module per command group."""

from __future__ import annotations

import typer

from creditgate.cli import audit, experiment, lenders, policy, scorecards, token
from creditgate.cli.batch import batch
from creditgate.cli.calibrate import calibrate_command
from creditgate.cli.decide import decide
from creditgate.cli.demo import demo
from creditgate.cli.lab import compare, simulate
from creditgate.cli.replay import replay
from creditgate.cli.serve import serve
from creditgate.cli.synth import synth

app = typer.Typer(
    name="creditgate",
    help="Invitation-only consumer credit: decide, explain and whitelist from one policy file.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command()(demo)
app.command()(decide)
app.command()(synth)
app.command()(batch)
app.command()(simulate)
app.command()(compare)
app.command("calibrate")(calibrate_command)
app.add_typer(policy.app, name="policy")
app.command()(scorecards.train)
app.command()(scorecards.score)
app.command()(scorecards.monitor)
app.command()(serve)
app.command()(replay)
app.add_typer(audit.app, name="audit")
app.add_typer(token.app, name="token")
app.add_typer(experiment.app, name="experiment")
app.add_typer(lenders.app, name="lenders")

if __name__ == "__main__":
    app()
