"""``creditgate policy lint|show|compile FILE`` and ``policy train POPULATION``."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from creditgate.cli.common import AsOfOption, Exit, err, fail, out, parse_as_of
from creditgate.policy.lint import Level, errors, lint
from creditgate.policy.loader import PolicyError, default_policy_path, load_policy
from creditgate.policy.nodes import Condition, Gate, Policy, ProductKind

app = typer.Typer(help="Check and inspect policy files.", no_args_is_help=True)
PolicyFile = Annotated[Path, typer.Argument(help="Policy YAML file.", dir_okay=False)]
DefaultPolicyFile = Annotated[
    Path | None,
    typer.Argument(help="Policy YAML file (default: the packaged default policy).", dir_okay=False),
]


TRAINED = "-trained"  # a trained policy's version: its base's, marked


class Engine(StrEnum):
    ROW = "row"
    DUCKDB = "duckdb"
    SPARK = "spark"


@app.command("lint")
def lint_command(file: PolicyFile) -> None:
    """Compliance and consistency checks; exit 1 on any error (warnings alone exit 0)."""
    try:
        policy = load_policy(file)
    except PolicyError as exc:
        for issue in exc.issues:
            err.print(f"error: {issue}", markup=False, soft_wrap=True)
        raise typer.Exit(int(Exit.FAILURE)) from None
    findings = lint(policy)
    for f in findings:
        line = f"{file}:{f.line}: {f.level.value}: [{f.check}] {f.message}"
        (err if f.level is Level.ERROR else out).print(line, markup=False, soft_wrap=True)
    n_err = len(errors(findings))
    out.print(f"{file}: {n_err} error(s), {len(findings) - n_err} warning(s)", markup=False)
    if n_err:
        raise typer.Exit(int(Exit.FAILURE))


@app.command("show")
def show_command(file: DefaultPolicyFile = None) -> None:
    """Print the policy's layers, gates, fraud rules, scorecard, rollout and offer, after the
    path of its file (the packaged default policy's when FILE is left out)."""
    path = file if file is not None else default_policy_path()
    try:
        policy = load_policy(path)
    except PolicyError as exc:
        fail("the policy cannot be used:\n" + "\n".join(f"  {i}" for i in exc.issues))
    out.print(f"policy file: {path}", markup=False, soft_wrap=True)
    for table in tables(policy):
        out.print(table)


@app.command("compile")
def compile_command(
    file: DefaultPolicyFile = None,
    engine: Annotated[
        Engine,
        typer.Option(
            "--engine",
            help="row: the generated Python of the real-time engine; "
            "duckdb or spark: the batch SQL in that engine's dialect (reads a table or view "
            "named profiles; Spark's statements are separated by a line holding only ';').",
        ),
    ] = Engine.ROW,
    as_of: AsOfOption = None,
    snapshot: Annotated[
        Path | None,
        typer.Option(
            "--snapshot",
            help="Whitelist snapshot from `creditgate batch`: the code cut at its cutoffs.",
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Print the code the policy compiles to: the row engine's Python (`head` and `tail`, the
    bindings named) or the batch SQL for DuckDB or Spark at --as-of (the snapshot's date, else
    today)."""
    from creditgate.listing import compiled_decider, duckdb_sql, python_source, spark_sql
    from creditgate.snapshot import SnapshotError, read_meta

    policy = None if file is None else str(file.resolve())
    cut = None if snapshot is None else str(snapshot.resolve())
    try:
        decider = compiled_decider(policy, cut)
        snapshot_as_of = None if snapshot is None else read_meta(snapshot).as_of
    except PolicyError as exc:
        fail("the policy cannot be used:\n" + "\n".join(f"  {i}" for i in exc.issues))
    except SnapshotError as exc:
        fail(str(exc))
    if engine is Engine.ROW:
        typer.echo(python_source(decider, policy, cut), nl=False)
        return
    when = parse_as_of(as_of) if as_of or snapshot_as_of is None else snapshot_as_of
    p = decider.policy
    header = f"-- creditgate policy compile --engine {engine}: {p.name} {p.version} as of {when}\n"
    if engine is Engine.DUCKDB:
        header += (
            "-- Reads validated profile columns from a table or view named profiles, e.g.\n"
            "-- CREATE VIEW profiles AS FROM 'users.parquet'; writes the decision columns.\n"
        )
        typer.echo(header + duckdb_sql(decider.program, when), nl=False)
        return
    header += (
        "-- Reads validated profile columns from a table or view named profiles, e.g.\n"
        "-- spark.read.parquet('users.parquet').createOrReplaceTempView('profiles'); run each\n"
        "-- statement (separated by a line holding only ';') with spark.sql, the last returns\n"
        "-- the decision columns.\n"
    )
    typer.echo(header + spark_sql(decider.program, when), nl=False)


def condition_text(c: Condition) -> str:
    if c.op is not None:
        return f"{c.field} {c.op.value} {c.value}"
    return f"{c.field} {'not in' if c.negate_values else 'in'} {list(c.values)}"


def tables(policy: Policy) -> list[Table]:
    gates = Table(title=f"{policy.name} {policy.version}: gates")
    for col in ("layer", "id", "code", "rule", "if missing", "action"):
        gates.add_column(col)
    for g in policy.gates:
        rule = (
            f"{g.field} {g.op.value} {g.value}"
            if g.op
            else f"{g.field} {'not in' if g.negate_values else 'in'} {list(g.values)}"
        )
        if g.group is not None:
            rule += f" (or another of any_of {g.group})"
        gates.add_row(
            g.layer.value, g.id, g.code, rule, "pass" if g.when_missing else "fail", g.action.value
        )
    fraud = Table(title="fraud rules (never explained to users in detail)")
    for col in ("id", "when (all)", "action"):
        fraud.add_column(col)
    for r in policy.fraud:
        when = " and ".join(condition_text(c) for c in r.conditions)
        fraud.add_row(r.id, when, r.action.value)
    card = Table(title=f"scorecard (base {policy.scorecard.base_points} points)")
    for col in ("feature", "field", "bins -> points", "factor"):
        card.add_column(col)
    for f in policy.scorecard.features:
        bins = ", ".join(
            (
                f"{b.categories}"
                if b.categories
                else f"<{b.upper}"
                if b.upper is not None
                else "rest"
            )
            + f": {b.points}"
            for b in f.bins
        )
        card.add_row(f.name, f.field, bins, f.factor)
    stab = policy.stability
    held = (
        f"; a held invitation stands {stab.min_days} days, then within {stab.band} points"
        if stab.active
        else "; no hysteresis (stability)"
    )
    rollout = Table(
        title=f"regions (table {policy.regions_version}), capacity {policy.capacity_share:.0%}"
        + held
    )
    for col in ("class", "status", "quota share", "cutoff"):
        rollout.add_column(col)
    cutoffs = dict(policy.scorecard.cutoffs)
    for region in policy.regions:
        rollout.add_row(
            region.region_class,
            region.status.value,
            f"{region.quota_share:.0%}",
            str(cutoffs.get(region.region_class, "-")),
        )
    offer = Table(
        title=f"offer {policy.offer.min_limit}..{policy.offer.max_limit} yuan, "
        f"terms {list(policy.offer.terms)}"
    )
    for col in ("segment", "limit rows (first match wins): when -> yuan", "refer"):
        offer.add_column(col)
    for s in policy.offer.segments:
        if not s.limits:
            offer.add_row(s.name, "-", str(s.refer))
        for j, row in enumerate(s.limits):
            bars = [f"score >= {row.min_score}", *(condition_text(c) for c in row.when)]
            offer.add_row(s.name if j == 0 else "", f"{', '.join(bars)} -> {row.limit:,}", "")
    for p in policy.offer.prices:
        offer.add_row(
            "price",
            f"score >= {p.min_score}: daily {p.daily_rate}, "
            f"APR {p.daily_rate * policy.offer.days_per_year}",
            "",
        )
    family = [products_table(policy)] if policy.products else []
    if not policy.schedule:
        return [gates, fraud, card, rollout, offer, *family]
    schedule = Table(title="rollout schedule (Asia/Shanghai; each stage adds to the earlier)")
    for col in ("from", "provinces", "cities"):
        schedule.add_column(col)
    for stage in policy.schedule:
        provinces = "all" if stage.every_province else ", ".join(stage.provinces)
        schedule.add_row(stage.start.isoformat(), provinces, ", ".join(stage.cities))
    return [gates, fraud, card, rollout, schedule, offer, *family]


def gate_text(g: Gate) -> str:
    return (
        f"{g.code}: {condition_text(Condition(g.field, g.op, g.value, g.values, g.negate_values))}"
    )


def products_table(policy: Policy) -> Table:
    """The product family (docs/policy.md, "Products"): each product's own gates, line,
    instalment plans with the APR computed by the IRR method, and a joint loan's lenders."""
    table = Table(title="products (on top of the shared layers; the cash loan is the offer)")
    for col in ("product", "kind", "own gates", "line", "plans / lenders"):
        table.add_column(col)
    for p in policy.products:
        gates = "\n".join(gate_text(g) for g in p.gates) or "-"
        if p.limit is None:
            line = "the cash line"
        else:
            line = (
                f"{p.limit.share_of_cash} x the cash line, "
                f"{p.limit.min_cny:,}..{p.limit.max_cny:,} yuan"
            )
        if p.merchant_only:
            line += "; at merchants only"
        parts = [
            f"{x.periods} periods: fee {x.fee_per_period * 100:.2f}% a period, "
            f"APR {x.apr * 100:.2f}% (IRR x 12)"
            for x in p.plans
        ]
        for lender in p.lenders:
            own = lender is p.own_lender
            bound = (
                f", at most {lender.max_exposure_cny:,} yuan"
                if lender.max_exposure_cny is not None
                else ""
            )
            appetite = "; ".join(gate_text(g) for g in lender.gates)
            parts.append(
                f"{lender.id} ({dict(lender.name).get('en', lender.id)}"
                f"{', own lender' if own else ''}): share {lender.share}{bound}"
                + (f"; needs {appetite}" if appetite else "")
            )
        if p.partners:
            parts.append(f"partner declines: {p.on_partner_decline.value}")
        if p.kind is ProductKind.CASH:
            parts.append(f"the offer's price bands, terms {list(policy.offer.terms)}")
        table.add_row(p.id, p.kind.value, gates, line, "\n".join(parts))
    return table


@app.command("train")
def train_command(
    population: Annotated[
        Path,
        typer.Argument(
            help="Profiles with a `defaulted` label (`creditgate synth`).", dir_okay=False
        ),
    ],
    out_path: Annotated[Path, typer.Option("--out", help="The policy file to write.")],
    policy: Annotated[
        Path | None,
        typer.Option("--policy", help="Base policy (default: the packaged one).", dir_okay=False),
    ] = None,
    as_of: AsOfOption = None,
    report: Annotated[
        Path | None, typer.Option("--report", help="Directory for the card's HTML report.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Split seed (70% fit, 30% held out).")] = 2026,
) -> None:
    """Train the policy's scorecard on a population and write the policy with that card and
    floors calibrated on it (`scorecard.default_card`: the recipe of the packaged default).

    --as-of is the population's (synth's) evaluation date; default today (Asia/Shanghai).
    """
    from creditgate.cli.scorecards import read_or_fail, spinner
    from creditgate.lab.policy_text import rewrite
    from creditgate.scorecard.default_card import train_policy
    from creditgate.scorecard.report import write_report

    base = policy if policy is not None else default_policy_path()
    when = parse_as_of(as_of)
    try:
        base_text = base.read_text(encoding="utf-8")
        load_policy(base)
    except PolicyError as exc:
        fail("the policy cannot be used:\n" + "\n".join(f"  {i}" for i in exc.issues))
    table = read_or_fail(population)

    def note(held_out: Mapping[str, float]) -> str:
        return (
            f"Trained by `creditgate policy train {population.name}` on {table.num_rows:,} "
            f"users as of {when}\n(held-out AUC {held_out['auc']:.3f}, KS {held_out['ks']:.3f})."
        )

    with spinner() as progress:
        progress.add_task(f"training and calibrating on {table.num_rows:,} users", total=None)
        try:
            trained = train_policy(table, base_text, note, when, seed)
        except (ValueError, KeyError) as exc:
            fail(f"cannot train a policy card on {population}: {exc}", Exit.FAILURE)
    version = load_policy(base).version.removesuffix(TRAINED) + TRAINED  # not the base's
    out_path.write_text(rewrite(trained.text, {}, version), encoding="utf-8")
    for line in trained.summary:
        out.print(line, markup=False, soft_wrap=True)
    if report is not None:
        write_report(trained.trainer, trained.fit, trained.test, report)
        out.print(f"report: {report / 'index.html'}", markup=False)
    out.print(f"policy: {out_path} (version {version})", markup=False)
