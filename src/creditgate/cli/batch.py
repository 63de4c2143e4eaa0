"""``creditgate batch``: decide a whole user base (Parquet in, Parquet out) and whitelist it."""

from __future__ import annotations

import tempfile
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import duckdb
import typer
from rich.progress import Progress, SpinnerColumn, TimeElapsedColumn

from creditgate.batch.backends import DEFAULT_MEMORY_LIMIT, Backend, duckdb_backend, spark_backend
from creditgate.batch.locations import is_remote, local_path, location_of
from creditgate.batch.run import BatchInputError, BatchReport, run_batch, summary
from creditgate.batch.spark import SparkConfError, parse_conf, spark_session
from creditgate.cli.common import (
    AsOfOption,
    Exit,
    PolicyOption,
    err,
    fail,
    load_decider,
    out,
    parse_as_of,
)
from creditgate.policy.nodes import Outcome


class Engine(StrEnum):
    DUCKDB = "duckdb"
    SPARK = "spark"


MasterOption = Annotated[
    str | None,
    typer.Option(
        "--master",
        help=(
            "Spark master URL (spark://host:7077, yarn, k8s://..., local[4]); default: "
            "spark-submit's, else spark-defaults.conf's, else local[*]. --engine spark only."
        ),
    ),
]
ConfOption = Annotated[
    list[str] | None,
    typer.Option(
        "--conf",
        help="Spark setting key=value, repeatable; wins over spark-defaults.conf "
        "(--engine spark only).",
    ),
]


class PartitionBy(StrEnum):
    NONE = "none"
    REGION_CLASS = "region_class"
    PROVINCE = "province"

    def columns(self) -> tuple[str, ...]:
        """The directory levels: by province means by region class, then province."""
        return {"none": (), "region_class": ("region_class",)}.get(
            self.value, ("region_class", "province")
        )


def connect(
    engine: Engine,
    memory_limit: str,
    threads: int | None,
    master: str | None = None,
    conf: list[str] | None = None,
) -> Backend:
    """The engine's backend, or exit 2 naming what is wrong (options that do not apply to it,
    a malformed ``--conf``, a Spark that cannot start)."""
    if engine is Engine.SPARK:
        try:
            settings = parse_conf(conf or [])
        except SparkConfError as exc:
            fail(str(exc))
        try:
            return spark_backend(spark_session(master, settings))
        except Exception as exc:  # Py4J / the JVM: a master that cannot be reached, bad conf
            fail(f"--engine spark: Spark cannot start: {summary(exc)}")
    if master is not None or conf:
        fail(f"{'--master' if master is not None else '--conf'}: only with --engine spark")
    try:
        return duckdb_backend(memory_limit, threads)
    except duckdb.Error as exc:  # DuckDB parses the limit: its own words say what is wrong
        fail(f"--memory-limit {memory_limit}: {summary(exc)}")


def print_report(report: BatchReport) -> None:
    share = (
        report.outcomes.get(Outcome.INVITED, 0) / report.input_rows if report.input_rows else 0.0
    )
    out.print(
        f"input {report.input_rows:,} = decided {report.decided:,} + quarantined "
        f"{report.quarantined:,} ({report.duplicate_rows:,} with duplicate user ids)"
        + ("" if report.reconciles else "  [bold red]DOES NOT RECONCILE[/]")
    )
    for outcome, n in sorted(report.outcomes.items()):
        out.print(f"  {outcome:<14} {n:>12,}")
    out.print(f"invited share {share:.2%} (capacity {report.cutoffs.capacity:,})")
    cuts = ", ".join(f"{c} {v}" for c, v in sorted(report.cutoffs.by_class.items()))
    out.print(f"cutoffs: {cuts}")
    cities = [
        f"{c} {min(xs.values())}..{max(xs.values())} ({len(xs)} cities)"
        for c, xs in sorted(report.cutoffs.by_city.items())
        if xs
    ]
    if cities:  # partly open classes: each city's own quota cutoff
        out.print(f"city cutoffs: {', '.join(cities)}")
    out.print(f"quarantine: {report.quarantine_path}")
    if report.snapshot_path:
        out.print(f"snapshot: {report.snapshot_path}")
    if report.report_path:
        out.print(f"report: {report.report_path} (creditgate simulate's figures of this run)")


def unwritable(path: Path, directory: bool = False) -> str | None:
    """Why ``path`` cannot be written, found before the run spends its time: a file is created
    and removed next to it (local paths only: ``s3a://bucket/x`` is the engine's to check).
    ``directory``: the writer makes ``path`` a directory of part files (Spark)."""
    if path.parts and path.parts[0].endswith(":"):
        return None
    if path.is_dir() and not directory:
        return "is a directory"
    try:
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".creditgate-probe-"):
            pass
    except OSError as exc:
        return f"cannot write in {path.parent}: {exc.strerror or exc}"
    return None


def batch(
    source: Annotated[
        str,
        typer.Argument(
            help="Profiles as Parquet (file or directory); with --engine spark any URI the "
            "cluster reads (hdfs://, s3a://, file://)."
        ),
    ],
    output: Annotated[
        str,
        typer.Option(
            "--out",
            help="Decisions Parquet to write (--engine spark: a directory, partitioned; "
            "a URI the cluster writes).",
        ),
    ],
    snapshot: Annotated[
        str | None,
        typer.Option(
            "--snapshot", help="Whitelist snapshot Parquet to write (a local file: the service's)."
        ),
    ] = None,
    engine: Annotated[Engine, typer.Option(help="Where to run.")] = Engine.DUCKDB,
    master: MasterOption = None,
    conf: ConfOption = None,
    partition_by: Annotated[
        PartitionBy | None,
        typer.Option(
            "--partition-by",
            help="Spark output directories: region_class (the default with --engine spark), "
            "province (region_class, then province) or none. DuckDB writes one file.",
        ),
    ] = None,
    policy: PolicyOption = None,
    as_of: AsOfOption = None,
    memory_limit: Annotated[
        str, typer.Option(help="DuckDB memory limit (spills beyond).")
    ] = DEFAULT_MEMORY_LIMIT,
    threads: Annotated[
        int | None, typer.Option(min=1, help="DuckDB threads (default: all cores).")
    ] = None,
    previous: Annotated[
        Path | None,
        typer.Option(
            "--previous",
            dir_okay=False,
            help=(
                "The snapshot in force: the invitations it holds (since when, which line) "
                "are what the policy's stability rules keep; omitted, the input's own "
                "invited_since / invited_limit_cny columns are read, if any."
            ),
        ),
    ] = None,
) -> None:
    """Decide every row; bad rows go to OUTPUT.quarantine.parquet with their reason.

    Exit 0 when the run completes (quarantined rows are counted, not an error), 2 when the
    input cannot be used (missing file, missing profile columns, a previous snapshot that
    cannot be read or is dated after AS_OF) or an output cannot be written (no such
    directory, no permission).
    """
    when = parse_as_of(as_of)
    snap = None if snapshot is None else local_path(location_of(snapshot))
    if snapshot is not None and snap is None:
        fail(f"--snapshot {snapshot}: a local file (the service loads it); copy it on from there")
    spark = engine is Engine.SPARK
    if partition_by is None:
        partition_by = PartitionBy.REGION_CLASS if spark else PartitionBy.NONE
    if not spark and partition_by is not PartitionBy.NONE:
        fail(
            f"--partition-by {partition_by.value}: only with --engine spark "
            "(DuckDB writes one file)"
        )
    src, out_at = location_of(source), location_of(output)
    if is_remote(src) and not spark:
        fail(f"{source}: a remote URI needs --engine spark")
    outputs = (("--out", local_path(out_at), spark), ("--snapshot", snap, False))
    if is_remote(out_at) and not spark:
        fail(f"--out {output}: a remote URI needs --engine spark")
    for option, path, directory in outputs:  # remote outputs are the engine's to check
        if path is not None and (why := unwritable(path, directory)):
            fail(f"{option} {path}: {why}")
    decider = load_decider(policy)
    backend = connect(engine, memory_limit, threads, master, conf)
    columns = (SpinnerColumn(), "[progress.description]{task.description}", TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task("starting", total=None)
        try:
            report = run_batch(
                backend,
                src,
                out_at,
                decider.policy,
                decider.regions,
                when,
                snap,
                step=lambda s: progress.update(task, description=s),
                previous=previous,
                partition_by=partition_by.columns(),
            )
        except BatchInputError as exc:
            fail(str(exc))
    print_report(report)
    if not report.reconciles:
        raise typer.Exit(int(Exit.FAILURE))
