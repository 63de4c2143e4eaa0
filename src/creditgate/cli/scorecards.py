"""``creditgate train``, ``score`` and ``monitor``: scorecards on any tabular credit data.

Exit codes: 0 ok, 1 failure (including drift over the threshold in ``monitor``), 2 bad input
with a message naming the file, column or row.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import pyarrow as pa
import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from creditgate.cli.common import Exit, err, fail, out
from creditgate.scorecard.artifact import Artifact, ArtifactError, dump, load
from creditgate.scorecard.fairness import ColumnAudit
from creditgate.scorecard.scoring import DataError, RowEngine, read_table, score_table, write_table

DataArg = Annotated[Path, typer.Argument(help="Input data: .csv or .parquet", dir_okay=False)]
CardOption = Annotated[
    Path, typer.Option("--scorecard", help="Scorecard artefact YAML from `creditgate train`.")
]


def spinner() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,} rows"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )


def load_card(path: Path) -> Artifact:
    if not path.is_file():
        fail(f"--scorecard: {path} does not exist")
    try:
        return load(path)
    except ArtifactError as exc:
        fail(f"{path}: {exc}")


def read_or_fail(path: Path) -> pa.Table:
    if not path.is_file():
        fail(f"{path} does not exist")
    try:
        return read_table(path)
    except DataError as exc:
        fail(str(exc))


def parse_costs(items: list[str]) -> dict[str, int]:
    """``["age=3", "income=2"]`` -> ``{"age": 3, "income": 2}``; exit 2 on anything else."""
    costs: dict[str, int] = {}
    for item in items:
        column, _, value = item.rpartition("=")
        if not column or not value.isdigit() or not 1 <= int(value) <= 100:
            fail(f"--cost {item!r}: expected COLUMN=N with N from 1 to 100")
        costs[column] = int(value)
    return costs


AuditOption = Annotated[
    list[str] | None,
    typer.Option(
        "--audit-column",
        help="Protected column to audit (approval, adverse impact, AUC by group); never an input.",
    ),
]


def with_audit(card: Artifact, frame: object, columns: list[str], cutoff: float | None) -> Artifact:
    """The fairness audit on ``frame`` (held-out rows when there are any) into the metadata."""
    from dataclasses import replace

    from creditgate.scorecard.fairness import audit_card

    table = pa.Table.from_pandas(frame, preserve_index=False)
    audits = audit_card(card, table, columns, cutoff)
    for audit in audits:
        print_audit(audit)
    fairness = {"rows": table.num_rows, "columns": [a.to_dict() for a in audits]}
    return replace(card, metadata={**card.metadata, "fairness": fairness})


def print_audit(audit: ColumnAudit) -> None:
    out.print(f"audit {audit.column} at cutoff {audit.cutoff:g} (reference {audit.reference}):")
    for g in audit.groups:
        flag = "  ADVERSE IMPACT (< 4/5)" if g.adverse else ""
        extra = f"  AUC {g.auc:.4f}" if g.auc is not None else ""
        out.print(
            f"  {g.group}: n={g.rows:,} approved {g.approval_rate:.3f} impact ratio "
            f"{g.impact_ratio:.3f} [{g.impact_low:.3f}, {g.impact_high:.3f}]{extra}{flag}"
        )


def parse_monotone(items: list[str]) -> dict[str, str]:
    """``["age=up"]`` -> ``{"age": "up"}``; exit 2 on anything else."""
    found: dict[str, str] = {}
    for item in items:
        column, _, way = item.rpartition("=")
        if not column or way not in ("up", "down"):
            fail(f"--monotone {item!r}: expected COLUMN=up or COLUMN=down")
        found[column] = way
    return found


def train(
    data: DataArg,
    target: Annotated[str, typer.Option("--target", help="Label column.")],
    bad: Annotated[str, typer.Option("--bad", help="The label value that means default.")],
    out_path: Annotated[Path, typer.Option("--out", help="Artefact YAML to write.")],
    report: Annotated[
        Path | None, typer.Option("--report", help="Directory for the HTML report.")
    ] = None,
    include_protected: Annotated[
        list[str] | None,
        typer.Option("--include-protected", help="Use this protected column (recorded)."),
    ] = None,
    exclude: Annotated[list[str] | None, typer.Option("--exclude", help="Never use.")] = None,
    immutable: Annotated[
        list[str] | None, typer.Option("--immutable", help="Column recourse must not move.")
    ] = None,
    cost: Annotated[
        list[str] | None,
        typer.Option("--cost", help="Recourse cost per bin moved, COL=N (default 1)."),
    ] = None,
    special: Annotated[
        list[float] | None, typer.Option("--special", help="Special code (own bin).")
    ] = None,
    pdo: Annotated[float, typer.Option(help="Points to double the odds.")] = 20.0,
    base_score: Annotated[float, typer.Option(help="Score at the base odds.")] = 600.0,
    base_odds: Annotated[float, typer.Option(help="Good:bad odds at the base score.")] = 50.0,
    min_iv: Annotated[float, typer.Option(help="Minimum information value to keep.")] = 0.02,
    test_size: Annotated[float, typer.Option(help="Held-out share for the report.")] = 0.3,
    seed: Annotated[int, typer.Option(help="Split seed.")] = 0,
    method: Annotated[
        str,
        typer.Option(
            help="logistic (optbinning bins + logistic regression), boosted (additive EBM "
            "shapes) or auto (the better by cross-validated AUC on the training rows)."
        ),
    ] = "logistic",
    monotone: Annotated[
        list[str] | None,
        typer.Option("--monotone", help="boosted: COL=up|down, the fit keeps points monotone."),
    ] = None,
    audit_column: AuditOption = None,
    cutoff: Annotated[
        float | None,
        typer.Option(help="Approval cutoff for the audit (default: approves the good share)."),
    ] = None,
    pairs: Annotated[
        int,
        typer.Option(
            min=0,
            max=10,
            help="boosted: also export up to N pairwise tables (FAST-ranked); 0: none.",
        ),
    ] = 0,
) -> None:
    """Train a scorecard and export it as plain YAML data."""
    from creditgate.scorecard.methods import METHODS, fit_method, train_auto
    from creditgate.scorecard.report import split, write_report
    from creditgate.scorecard.train import TrainingError

    table = read_or_fail(data)
    frame = table.to_pandas()
    if target not in frame.columns:
        fail(f"--target: column {target!r} is not in {data}")
    if not 0.0 <= test_size < 0.9:
        fail("--test-size must be in [0, 0.9)")
    if method not in METHODS:
        fail(f"--method {method!r}: expected one of {', '.join(METHODS)}")
    clash = sorted(set(audit_column or ()) & set(include_protected or ()))
    if clash:
        fail(f"--audit-column {clash[0]!r} cannot also be a model input (--include-protected)")
    absent = [c for c in audit_column or () if c not in frame.columns]
    if absent:
        fail(f"--audit-column: column {absent[0]!r} is not in {data}")
    if monotone and method == "logistic":
        fail("--monotone needs --method boosted or auto (logistic bins pick their own trend)")
    if pairs and method == "logistic":
        fail("--pairs needs --method boosted or auto (logistic cards are additive)")
    options = {
        "costs": parse_costs(cost or []),
        "pdo": pdo,
        "base_score": base_score,
        "base_odds": base_odds,
        "min_iv": min_iv,
        "special_values": special or (),
        "include_protected": include_protected or (),
        "exclude": [*(exclude or ()), *(audit_column or ())],  # audited, never an input
        "immutable": immutable or (),
        "monotone": parse_monotone(monotone or []),
    }
    if pairs:  # only when asked: the default options (and card) stay as they were
        options["pairs"] = pairs
    started = time.perf_counter()
    with spinner() as progress:
        progress.add_task(f"training ({method}) on {len(frame):,} rows", total=None)
        try:
            fit_part, test_part = split(frame, target, bad, test_size, seed)
            if method == "auto":
                trainer = train_auto(fit_part, target, bad, options, seed=seed)
            else:
                trainer = fit_method(method, options, fit_part, target, bad)
        except TrainingError as exc:
            fail(str(exc))
    if audit_column:
        audited = test_part if len(test_part) else fit_part
        trainer.artifact_ = with_audit(trainer.artifact_, audited, audit_column, cutoff)
    card = trainer.artifact_
    if report is not None or test_size > 0:
        card = write_report(trainer, fit_part, test_part, report)
    dump(card, out_path)
    used = ", ".join(card.columns)
    err.print(
        f"trained on {card.trained_rows:,} rows in {time.perf_counter() - started:.1f}s; "
        f"features: {used}"
    )
    for key, value in card.metrics.items():
        out.print(f"{key}: {value:.4f}")
    if report is not None:
        out.print(f"report: {report / 'index.html'}")


def score(
    data: DataArg,
    scorecard: CardOption,
    out_path: Annotated[Path, typer.Option("--out", help="Output .csv or .parquet.")],
    cutoff: Annotated[
        int | None,
        typer.Option(
            "--cutoff", help="Also explain rows below this score: `factors` and `recourse`."
        ),
    ] = None,
) -> None:
    """Append `score` and `pd` to every row (same order), via the compiled row engine."""
    card = load_card(scorecard)
    table = read_or_fail(data)
    if out_path.suffix.lower() not in (".csv", ".parquet"):
        fail(f"--out: {out_path} must end in .csv or .parquet")
    with spinner() as progress:
        task = progress.add_task("scoring", total=table.num_rows)
        engine = RowEngine(lambda n: progress.advance(task, n))
        try:
            scored = score_table(table, card, engine)
        except DataError as exc:
            fail(str(exc))
    if cutoff is not None:
        scored = with_explanations(scored, table, card, cutoff)
    write_table(scored, out_path)
    err.print(f"scored {scored.num_rows:,} rows -> {out_path}")


def with_explanations(scored: pa.Table, table: pa.Table, card: Artifact, cutoff: int) -> pa.Table:
    """Principal factors and exact recourse (JSON text) for every row below ``cutoff``."""
    import numpy as np

    from creditgate.policy.bindings import BinIndex, PairBin
    from creditgate.scorecard.recourse import explain_rows
    from creditgate.scorecard.scoring import bins_matrix

    result = dict(bins_matrix(table, card))
    at = [BinIndex(f.name).column for f in card.features]
    bins = np.column_stack(
        [np.asarray(result[name].to_numpy(zero_copy_only=False)) for name in at]
    ).astype(np.int64)
    scores = np.asarray(scored.column("score").to_numpy(), dtype=np.int64)
    cells = None
    if card.pairs:  # the pairs' current cells, for recourse exact over their tables
        names = [PairBin(p.name, k).column for p in card.pairs for k in (0, 1)]
        columns = [np.asarray(result[n].to_numpy(zero_copy_only=False)) for n in names]
        cells = np.column_stack(columns).astype(np.int64)
    factors, recourse = explain_rows(bins, scores, card, cutoff, cells)
    scored = scored.append_column("factors", pa.array(factors, pa.string()))
    return scored.append_column("recourse", pa.array(recourse, pa.string()))


def monitor(
    baseline: Annotated[Path, typer.Argument(help="Baseline data (.csv/.parquet).")],
    current: Annotated[Path, typer.Argument(help="Current data (.csv/.parquet).")],
    scorecard: CardOption,
    threshold: Annotated[float, typer.Option(help="PSI/CSI above this is drift.")] = 0.25,
    audit_column: AuditOption = None,
    cutoff: Annotated[
        float | None,
        typer.Option(help="Approval cutoff for the audit (default: the one audited in training)."),
    ] = None,
) -> None:
    """Score and feature drift (PSI / CSI); exit 1 when any crosses the threshold.
    ``--audit-column`` adds the fairness audit of the current data (it does not change the exit
    code: adverse impact is a finding for review, not drift)."""
    from creditgate.scorecard.fairness import audit_card
    from creditgate.scorecard.monitor import drift

    card = load_card(scorecard)
    base, cur = read_or_fail(baseline), read_or_fail(current)
    try:
        result = drift(base, cur, card)
    except DataError as exc:
        fail(str(exc))
    out.print(f"score PSI: {result.score_psi:.4f}")
    for column, value in result.csi.items():
        out.print(f"CSI {column}: {value:.4f}")
    if audit_column:
        trained = card.metadata.get("fairness", {}).get("columns", [])
        chosen = cutoff if cutoff is not None else next((a["cutoff"] for a in trained), None)
        try:
            for audit in audit_card(card, cur, audit_column, chosen):
                print_audit(audit)
        except (ValueError, DataError) as exc:
            fail(f"--audit-column: {exc}")
    drifted = result.over(threshold)
    if drifted:
        err.print(f"drift over {threshold}: {', '.join(drifted)}")
        raise typer.Exit(int(Exit.FAILURE))
