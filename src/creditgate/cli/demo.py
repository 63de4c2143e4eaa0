"""``creditgate demo``: the main job, end to end on embedded defaults.

synth (a synthetic population with ground truth) -> policy train (the policy's scorecard
trained on it, with its report, and floors calibrated on it: ``policy.yaml``) -> batch (every
user decided by that policy on DuckDB, the whitelist snapshot written) -> the bundled example
profiles explained by it -> serve (the API on loopback with that policy and the snapshot
active, SQLite storage): the card trained is the card served. Each step is the same command a
user would run; the demo only chains them.
"""

from __future__ import annotations

import socket
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from creditgate.cli.common import Exit, PolicyOption, err, fail, load_decider, out, parse_as_of
from creditgate.cli.render import decision_panel
from creditgate.examples import EXAMPLES_AS_OF, example_profiles
from creditgate.policy.nodes import Outcome
from creditgate.profile import validate_profile

UNACTIONABLE = frozenset({"FRAUD_SUSPECTED", "REGION_CLOSED", "BLACKLIST"})
DEMO_HOST = "127.0.0.1"
DEMO_PORT = 8000  # served on when free and no --port is given


def port_free(host: str, port: int) -> bool:
    """Can a server bind ``host:port`` now (as uvicorn binds: ``SO_REUSEADDR``)?"""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def demo_port(host: str, wanted: int | None) -> int:
    """The port the demo will serve on, settled before the pipeline runs (minutes) rather than
    after: ``wanted`` when free, else exit 2 in one line; with no ``--port``, ``DEMO_PORT``
    or, when that is taken, a free port the system picks (the printed URLs say which)."""
    if wanted is not None:
        if not port_free(host, wanted):
            fail(f"port {wanted} on {host} is in use: pass another --port, or --no-serve")
        return wanted
    if port_free(host, DEMO_PORT):
        return DEMO_PORT
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        free: int = sock.getsockname()[1]
    err.print(f"port {DEMO_PORT} is in use: the demo will serve on port {free}")
    return free


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
    port: Annotated[
        int | None,
        typer.Option(
            help=f"Port to serve on (default {DEMO_PORT}, or a free one when that is taken; "
            "a given port that is taken stops the demo before it starts)."
        ),
    ] = None,
) -> None:
    """The main job: synth -> train -> batch whitelist -> explain examples -> serve."""
    port = demo_port(DEMO_HOST, port) if serve else None
    when = parse_as_of(as_of)
    work = workdir or Path(tempfile.mkdtemp(prefix="creditgate-demo-"))
    work.mkdir(parents=True, exist_ok=True)
    snapshot: Path | None = None
    if pipeline:
        people, snapshot = work / "users.parquet", work / "snapshot.parquet"
        trained = work / "policy.yaml"
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
            "2/3 the policy's scorecard trained on it",
            [
                "policy",
                "train",
                str(people),
                "--out",
                str(trained),
                "--report",
                str(work / "report"),
                "--as-of",
                when.isoformat(),
                *(["--policy", str(policy)] if policy else []),
            ],
        )
        policy = trained  # from here on the demo decides and serves with the trained card
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
                "--policy",
                str(policy),
            ],
        )
        out.print(
            f"files in {work}: users.parquet, policy.yaml (the trained card), report/index.html, "
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
        assert port is not None
        serve_demo(f"sqlite:///{work / 'creditgate.db'}", policy, snapshot, DEMO_HOST, port, shown)


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
