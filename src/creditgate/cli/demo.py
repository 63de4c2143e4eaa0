"""``creditgate demo``: the main job. Decides the bundled example profiles and explains them."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import typer

from creditgate.cli.common import PolicyOption, load_decider, out, parse_as_of
from creditgate.cli.render import decision_panel
from creditgate.examples import EXAMPLES_AS_OF, example_profiles
from creditgate.profile import validate_profile


def demo(
    policy: PolicyOption = None,
    as_of: Annotated[str, typer.Option("--as-of", help="Evaluation date.")] = (
        EXAMPLES_AS_OF.isoformat()
    ),
    lang: Annotated[str, typer.Option(help="zh-CN or en.")] = "zh-CN",
    serve: Annotated[
        bool, typer.Option("--serve", help="Then serve the API on 127.0.0.1 (embedded SQLite).")
    ] = False,
    port: Annotated[int, typer.Option(help="Port for --serve.")] = 8000,
) -> None:
    """Decide the bundled example profiles with the policy and print their explanations."""
    when = parse_as_of(as_of)
    decider = load_decider(policy)
    out.print(
        f"[bold]creditgate[/] policy {decider.policy.name} {decider.policy.version}, as of {when}"
    )
    for name, doc in example_profiles():
        row = validate_profile(doc, when, decider.policy, decider.regions)
        out.print(decision_panel(name, decider.decide(row, when), lang))
    if serve:
        from creditgate.cli.serve import serve_demo  # uvicorn only when serving

        work = Path(tempfile.mkdtemp(prefix="creditgate-demo-"))
        serve_demo(f"sqlite:///{work / 'creditgate.db'}", None, "127.0.0.1", port)
