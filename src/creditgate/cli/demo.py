"""``creditgate demo``: the main job, end to end on embedded defaults.

synth (a synthetic population with ground truth) -> train (a scorecard on it, with its report)
-> batch (every user decided on DuckDB, the whitelist snapshot written) -> the bundled example
profiles explained -> serve (the API on loopback with the snapshot active, SQLite storage).
Each step is the same command a user would run; the demo only chains them.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import typer

from creditgate.cli.common import Exit, PolicyOption, fail, load_decider, out, parse_as_of
from creditgate.cli.render import decision_panel
from creditgate.examples import EXAMPLES_AS_OF, example_profiles
from creditgate.policy.nodes import Outcome
from creditgate.profile import validate_profile

UNACTIONABLE = frozenset({"FRAUD_SUSPECTED", "REGION_CLOSED", "BLACKLIST"})


def run_step(title: str, args: list[str]) -> None:
    """Run one creditgate command in-process; stop the demo if it fails."""
    from typer.main import get_command

    from creditgate.cli.main import app

    out.rule(f"[bold]{title}[/]  creditgate {' '.join(args)}")
    code = get_command(app).main(args, prog_name="creditgate", standalone_mode=False)
    if code not in (None, 0):
        fail(f"demo step {title!r} failed (exit {code})", Exit.FAILURE)


def demo(
    policy: PolicyOption = None,
    as_of: Annotated[str, typer.Option("--as-of", help="Evaluation date.")] = (
        EXAMPLES_AS_OF.isoformat()
    ),
    lang: Annotated[str, typer.Option(help="zh-CN or en.")] = "zh-CN",
    users: Annotated[int, typer.Option(min=1000, help="Synthetic users to generate.")] = 200_000,
    seed: Annotated[int, typer.Option(help="Random seed of the population.")] = 7,
    workdir: Annotated[
        Path | None, typer.Option(help="Where to write the files (default: a new temp dir).")
    ] = None,
    pipeline: Annotated[
        bool, typer.Option("--pipeline/--examples-only", help="Run synth, train and batch.")
    ] = True,
    serve: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve the API on 127.0.0.1 at the end.")
    ] = True,
    port: Annotated[int, typer.Option(help="Port to serve on.")] = 8000,
) -> None:
    """The main job: synth -> train -> batch whitelist -> explain examples -> serve."""
    when = parse_as_of(as_of)
    work = workdir or Path(tempfile.mkdtemp(prefix="creditgate-demo-"))
    work.mkdir(parents=True, exist_ok=True)
    policy_args = ["--policy", str(policy)] if policy else []
    snapshot: Path | None = None
    if pipeline:
        people, snapshot = work / "users.parquet", work / "snapshot.parquet"
        run_step(
            "1/3 synthetic population",
            [
                "synth",
                "--users",
                str(users),
                "--seed",
                str(seed),
                "--out",
                str(people),
                "--as-of",
                when.isoformat(),
            ],
        )
        run_step(
            "2/3 scorecard training",
            [
                "train",
                str(people),
                "--target",
                "defaulted",
                "--bad",
                "True",
                # the trainer excludes raw dates itself; city is left to the region rules
                "--exclude",
                "city",
                "--out",
                str(work / "scorecard.yaml"),
                "--report",
                str(work / "report"),
            ],
        )
        run_step(
            "3/3 batch decisions and whitelist",
            [
                "batch",
                str(people),
                "--out",
                str(work / "decisions.parquet"),
                "--snapshot",
                str(snapshot),
                "--as-of",
                when.isoformat(),
                *policy_args,
            ],
        )
        out.print(
            f"files in {work}: users.parquet, scorecard.yaml, report/index.html, "
            "decisions.parquet, snapshot.parquet"
        )
    decider = load_decider(policy)
    out.rule(
        f"[bold]examples[/]  policy {decider.policy.name} {decider.policy.version}, as of {when}"
    )
    for name, doc in example_profiles():
        row = validate_profile(doc, when, decider.policy, decider.regions)
        out.print(decision_panel(name, decider.decide(row, when), lang))
    if serve:
        from creditgate.cli.serve import serve_demo  # uvicorn only when serving

        shown = page_users(work / "decisions.parquet") if pipeline else None
        serve_demo(
            f"sqlite:///{work / 'creditgate.db'}", policy, snapshot, "127.0.0.1", port, shown
        )


def page_users(decisions: Path) -> dict[str, str]:
    """An invited and a refused user of the batch (refused for a reason they can act on) to
    open the self-check page as."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pq.read_table(decisions, columns=["user_id", "outcome", "reason_codes"])
    users: dict[str, str] = {}
    invited = table.filter(pc.equal(table["outcome"], Outcome.INVITED.value))["user_id"]
    if len(invited):
        users["invited"] = str(invited[0])
    refused = table.filter(pc.equal(table["outcome"], Outcome.NOT_INVITED.value)).to_pylist()
    helped = [r for r in refused if not UNACTIONABLE & set(r["reason_codes"] or ())]
    for row in (helped or refused)[:1]:
        users["refused"] = str(row["user_id"])
    return users
