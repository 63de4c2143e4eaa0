"""Where a batch runs: DuckDB (default, one machine) or Apache Spark (a cluster).

Both are Ibis connections: the compiled expression is the same, only reading, writing and
fetching differ. DuckDB streams Parquet to Parquet with ``COPY ... TO`` under a memory limit,
so inputs larger than memory work; Spark writes a directory of part files, as Spark does.

Every query compiles with Ibis's select fusion off (``unfused``): fusing a projection into the
next one inlines each binding's expression wherever a later binding reads it, so a binding
read N times is computed N times (the outcome CASE four times, a points CASE inside the
score...). The compiler projects bindings level by level precisely so each is computed once.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Generator, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from creditgate.batch.locations import Location, local_path, text_of

# DuckDB's cap: a 10M-user run then peaks under 2 GiB of RSS, the engine spilling a little of
# the early bindings while the decided rows are staged beside them (docs/batch.md, "Memory").
DEFAULT_MEMORY_LIMIT = "1700MB"
BATCH_ROWS = 500_000  # rows per record batch when streaming a result out (a few tens of MB)
# A second DuckDB's cap (``duckdb_beside``): it streams a scan, it never sorts or joins.
SIDE_MEMORY_LIMIT = "256MB"


@contextmanager
def unfused() -> Iterator[None]:
    """Ibis's ``sql.fuse_selects`` off for the duration (module docstring says why)."""
    options = ibis.options.sql
    before = options.fuse_selects
    options.fuse_selects = False
    try:
        yield
    finally:
        options.fuse_selects = before


@dataclass
class Backend:
    """An Ibis connection plus the few operations a batch needs."""

    name: str
    con: Any
    compiled: list[ir.Expr] = field(default_factory=list)  # keeps their memtables registered
    cached: dict[str, Any] = field(default_factory=dict)  # Spark: checkpointed frames by view

    def read(self, path: Location) -> ir.Table:
        """A Parquet file or directory, its files united by column name: a file without some
        column gives NULLs there (its rows are quarantined, ``required``) instead of failing
        the run midway or, on Spark, depending on which file's schema was sampled. Spark
        reads any URI its Hadoop file systems know; a partitioned directory's partition
        columns come back as columns."""
        if self.name == "spark":
            return self.con.read_parquet(text_of(path), mergeSchema="true")
        return self.con.read_parquet(engine_path(path), union_by_name=True)

    def write(
        self,
        expr: ir.Table,
        path: Location,
        partition_by: Sequence[str] = (),
        enums: Mapping[str, tuple[str, ...]] | None = None,
    ) -> None:
        """``expr`` as Parquet at ``path``: DuckDB one zstd file; Spark a directory of part
        files, one subdirectory per value of each ``partition_by`` column (``region_class=
        tier1/``), those columns kept in the directory names only. ``enums`` (DuckDB): string
        columns of the listed values only, written as ENUMs (``stage`` says why); a constant
        column's cast costs nothing, a computed one's about what the writer then saves."""
        with unfused():
            if self.name == "spark":
                by = list(partition_by) or None
                self.con.to_parquet(expr, text_of(path), mode="overwrite", partitionBy=by)
            elif partition_by:
                raise ValueError("DuckDB writes one Parquet file: partitioning needs Spark")
            elif enums:
                sql = with_enums(self.compile(expr), expr, enums)
                target = engine_path(path).replace("'", "''")
                self.con.con.execute(
                    f"COPY ({sql}) TO '{target}' (FORMAT parquet, COMPRESSION zstd)"
                )
            else:
                self.con.to_parquet(expr, engine_path(path), compression="zstd")

    def exists(self, path: Location) -> bool:
        """Whether ``path`` exists: locally, or on Spark's Hadoop file system for a URI (DuckDB
        leaves a remote URI to its reader, which names what is wrong)."""
        local = local_path(path)
        if local is not None:
            return local.exists()
        if self.name != "spark":
            return True
        fs, p = self.hadoop(path)
        return bool(fs.exists(p))

    def write_text(self, path: Location, text: str) -> None:
        """A small text file (a report) at ``path``, local or on Spark's file system."""
        local = local_path(path)
        if local is not None:
            local.write_text(text, encoding="utf-8")
            return
        if self.name != "spark":
            raise ValueError(f"{path}: DuckDB writes local files only")
        fs, p = self.hadoop(path)
        stream = fs.create(p, True)
        try:
            stream.write(bytearray(text.encode("utf-8")))
        finally:
            stream.close()

    def listing(self, path: Location) -> list[tuple[str, int]]:
        """(name, size) of every file under a remote ``path`` (Spark's file system), sorted:
        what identifies an input that cannot be read cheaply byte for byte."""
        fs, p = self.hadoop(path)
        files = fs.listFiles(p, True)
        found = []
        while files.hasNext():
            status = files.next()
            found.append((str(status.getPath().getName()), int(status.getLen())))
        return sorted(found)

    def hadoop(self, path: Location) -> tuple[Any, Any]:
        """The Hadoop ``FileSystem`` of ``path`` and its Hadoop ``Path`` (through the JVM)."""
        session = self.con._session
        jvm = session.sparkContext._jvm
        p = jvm.org.apache.hadoop.fs.Path(text_of(path))
        return p.getFileSystem(session.sparkContext._jsc.hadoopConfiguration()), p

    def stage(self, expr: ir.Table, enums: Mapping[str, tuple[str, ...]] | None = None) -> ir.Table:
        """``expr`` computed once and kept (DuckDB: a temporary table, which spills under the
        memory limit; Spark: a view of a checkpoint, ``checkpointed``). ``release`` drops it.

        ``enums``: string (or string list) columns that only hold the values listed; DuckDB
        stores them as ENUMs, which Parquet receives as plain strings, dictionary-encoded
        without hashing every value again (the costliest part of writing such a column).
        """
        sql = self.compile(expr)
        name = f"_cg_staged_{uuid.uuid4().hex[:12]}"
        if self.name == "spark":
            frame = checkpointed(self.con._session.sql(sql))
            frame.createOrReplaceTempView(name)
            self.cached[name] = frame
            spark_table: ir.Table = self.con.table(name)
            return spark_table
        sql = with_enums(sql, expr, enums or {})
        self.con.con.execute(f'CREATE TEMPORARY TABLE "{name}" AS {sql}')
        table: ir.Table = self.con.table(name, database="temp")
        return table

    def release(self, staged: ir.Table) -> None:
        """Drop a ``stage``d table now, its memory (DuckDB) or its checkpoint (Spark) freed.

        The bare name: ``get_name`` gives DuckDB's as ``temp.<name>``, and a DROP of that
        name found nothing, so every staged table stayed in memory until the connection
        closed (0.9 GB of early bindings at 10M users, through the rest of the run)."""
        name: str = staged.op().name
        if self.name == "spark":
            self.con._session.catalog.dropTempView(name)
            self.drop_checkpoint(self.cached.pop(name))
        else:
            self.con.con.execute(f'DROP TABLE IF EXISTS temp."{name}"')

    def drop_checkpoint(self, frame: Any) -> None:
        """Free a ``checkpointed`` frame now rather than at the JVM's next garbage collection:
        its blocks on the executors, and a reliable checkpoint's files."""
        rdd = frame._jdf.queryExecution().analyzed().rdd()
        rdd.unpersist(False)
        written = rdd.getCheckpointFile()
        if written.isDefined():
            fs, p = self.hadoop(str(written.get()))
            fs.delete(p, True)

    def fetch(self, expr: ir.Expr) -> pa.Table:
        with unfused():
            table: pa.Table = self.con.to_pyarrow(expr)
        return table

    def batches(self, expr: ir.Table) -> Generator[pa.RecordBatch, None, None]:
        """``expr``'s rows in order, a record batch at a time: DuckDB streams them (never the
        whole result in memory); Spark collects the result on the driver first.

        DuckDB streams an ORDER BY result out of order when ``preserve_insertion_order`` is
        off, as the batch runs it (measured: on 100M users the 15M-row snapshot came back with
        its first sorted block split in two), so it is switched on while streaming.
        """
        sql = self.compile(expr)
        if self.name == "spark":
            yield from self.fetch_sql(sql).to_batches(BATCH_ROWS)
            return
        yield from self.stream_sql(sql)

    def stream_sql(self, sql: str) -> Generator[pa.RecordBatch, None, None]:
        """DuckDB: ``batches`` of SQL compiled beforehand (``compile``), which another thread
        can run on this backend's connection without touching Ibis."""
        con = self.con.con
        setting = "SELECT current_setting('preserve_insertion_order')"
        [(preserved,)] = con.execute(setting).fetchall()
        con.execute("SET preserve_insertion_order = true")
        reader = con.sql(sql).to_arrow_reader(BATCH_ROWS)
        try:
            yield from reader
        finally:
            reader.close()  # a reader left half read would block the connection
            con.execute(f"SET preserve_insertion_order = {bool(preserved)}")

    def scalar(self, expr: ir.Scalar) -> Any:
        with unfused():
            return self.con.execute(expr)

    def compile(self, expr: ir.Expr) -> str:
        """The backend's SQL for ``expr``: compile once, run many times (``fetch_sql``).

        The in-memory tables the SQL reads (a compiler's lookup tables) are registered now
        and kept alive with the backend, since plain SQL cannot register them later.
        """
        self.con._run_pre_execute_hooks(expr)
        self.compiled.append(expr)
        with unfused():
            return str(self.con.compile(expr))

    def fetch_sql(self, sql: str) -> pa.Table:
        if self.name == "spark":
            table: pa.Table = self.con._session.sql(sql).toArrow()
        else:
            table = self.con.con.sql(sql).to_arrow_table()
        return table


def checkpointed(frame: Any) -> Any:
    """A Spark DataFrame computed now and kept with its lineage cut: its plan is a leaf.

    A cached DataFrame keeps its whole plan: a staged table's is the policy program (about a
    hundred bindings of CASE expressions), and every later query reading the view carried it
    through Catalyst's analysis and the cache manager's plan matching again (a 3,000-user run
    spent most of its minute planning). A checkpoint's plan is a scan of the kept rows.

    Where it is kept: with a checkpoint directory (``spark.checkpoint.dir``, or
    ``SparkContext.setCheckpointDir``; on a cluster an HDFS or object-store path) the rows are
    written there (a *reliable* checkpoint: an executor lost later costs nothing, the files
    remain); computed once, into the cache the write then reads. Without one, on the
    executors (``localCheckpoint``: memory and local disk, no extra write), which is right
    for a local session and for clusters that do not lose executors mid-run; on a cluster
    that may (spot or preemptible nodes), an executor lost with its blocks fails the run's
    next query (rerunning the batch is safe: every output is overwritten), so such clusters
    set ``spark.checkpoint.dir`` (docs/batch.md, "Spark")."""
    if frame.sparkSession.sparkContext.getCheckpointDir() is None:
        return frame.localCheckpoint(eager=True)
    cached = frame.cache()
    try:
        return cached.checkpoint(eager=True)
    finally:
        cached.unpersist()


def engine_path(path: Location) -> str:
    """What DuckDB opens: a ``file://`` URI as its local path, anything else as written."""
    local = local_path(path)
    return str(local) if local is not None else text_of(path)


def with_enums(sql: str, expr: ir.Table, enums: Mapping[str, tuple[str, ...]]) -> str:
    """DuckDB: ``sql`` with the ``enums`` columns cast to ENUM types of the listed values.

    A column with no values listed (an empty input has no cities) stays as it is: DuckDB has
    no empty ENUM.
    """
    casts = []
    for column, values in enums.items():
        if not values:
            continue
        kind = "ENUM(" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + ")"
        if expr.schema()[column].is_array():
            kind += "[]"
        casts.append(f'CAST("{column}" AS {kind}) AS "{column}"')
    if not casts:
        return sql
    return f"SELECT * REPLACE ({', '.join(casts)}) FROM ({sql})"


def duckdb_backend(memory_limit: str = DEFAULT_MEMORY_LIMIT, threads: int | None = None) -> Backend:
    """An in-process DuckDB capped at ``memory_limit`` (it spills to a temp dir beyond)."""
    con = ibis.duckdb.connect(
        memory_limit=memory_limit,
        threads=threads or os.cpu_count() or 1,
        preserve_insertion_order=False,
    )
    return Backend("duckdb", con)


def duckdb_beside(backend: Backend, memory_limit: str = SIDE_MEMORY_LIMIT) -> Backend:
    """A second in-process DuckDB with ``backend``'s threads, for a stream that runs while
    ``backend`` runs its own queries: a connection runs one query at a time, and what its
    queries read (the input's view, registered lookup tables) belongs to that connection."""
    [(threads,)] = backend.con.con.execute("SELECT current_setting('threads')").fetchall()
    return duckdb_backend(memory_limit, int(threads))


def spark_backend(session: Any = None) -> Backend:
    """Ibis on an existing SparkSession (a cluster; ``batch.spark.spark_session`` builds one
    from the standard configuration), or the tests' small ``local_spark`` one when None."""
    if session is None:
        session = local_spark()
    return Backend("spark", ibis.pyspark.connect(session))


def local_spark() -> Any:
    """A local[1] session for tests: no UI, 2 GB driver, 2 shuffle partitions, the planning
    defaults of ``batch.spark`` (the CLI's
    ``--engine spark`` uses ``batch.spark.spark_session``: ``local[*]`` unless configured)."""
    from pyspark.sql import SparkSession

    from creditgate.batch.spark import PLANNING_DEFAULTS

    builder = SparkSession.builder
    for key, value in PLANNING_DEFAULTS.items():
        builder = builder.config(key, value)
    return (
        builder.master("local[1]")
        .appName("creditgate")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.memory", "2g")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
