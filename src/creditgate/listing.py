"""The code a policy compiles to, as text a reader or a tool can follow.

``python_source`` is the row engine's generated module for a ``Decider``: ``head(r, as_of)``
(every binding ``Decider.decide`` needs) and ``tail(r, as_of, prev)`` (the reason keys, the
reasons, the gate and schedule recourse, the fired fraud rules), with the constants they read
written out as literals. ``duckdb_sql`` and ``spark_sql`` are the batch engine's SQL for the
same program (``batch.decisions.decision_columns``) over a table or view named ``profiles``,
preceded by the small lookup tables it joins. ``creditgate policy compile`` prints any of them.
"""

from __future__ import annotations

import datetime
import importlib
import re
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from creditgate.codegen import SOURCE
from creditgate.decider import Decider
from creditgate.policy.loader import load_policy
from creditgate.policy.lower import Program

PROFILES = "profiles"  # the table or view the printed SQL reads
_LITERAL_NAMES: dict[str, Any] = {"Decimal": Decimal, "datetime": datetime}


def compiled_decider(
    policy: str | Path | None = None, snapshot: str | Path | None = None
) -> Decider:
    """The ``Decider`` of a policy file (the packaged default when None), cut at a whitelist
    snapshot's cutoffs when one is given, as ``decide --snapshot`` is."""
    from creditgate.snapshot import read_meta
    from creditgate.snapshot_decider import snapshot_decider

    decider = Decider(load_policy(policy))
    if snapshot is None:
        return decider
    return snapshot_decider(decider, read_meta(Path(snapshot)), str(snapshot))


def compiled_objects(policy: str | None = None, snapshot: str | None = None) -> Mapping[str, Any]:
    """The globals of a policy's generated ``head``/``tail``: what a printed listing takes the
    objects without a literal form from (message makers, recourse helpers)."""
    return compiled_decider(policy, snapshot).run_head.__globals__


def _literal(value: Any) -> str | None:
    """``repr(value)`` when it reads back as an equal value, else None."""
    text = repr(value)
    try:
        same = bool(eval(text, dict(_LITERAL_NAMES)) == value)  # our own repr, read back
    except Exception:  # any failure means "no literal form"
        return None
    return text if same else None


def _importable(value: Any) -> tuple[str, str] | None:
    """(module, name) when ``value`` is a module-level object importable by that name."""
    module, name = getattr(value, "__module__", None), getattr(value, "__qualname__", None)
    if not module or not name or "." in name:
        return None
    try:
        found = getattr(importlib.import_module(module), name, None)
    except ImportError:
        return None
    return (module, name) if found is value else None


def python_source(decider: Decider, policy: str | None = None, snapshot: str | None = None) -> str:
    """The generated module of ``decider`` (compiled from ``policy``, None for the packaged
    default, and ``snapshot``): valid Python which, executed, defines ``head`` and ``tail``
    that compute what ``decider.run_head`` and ``decider.explain`` compute."""
    namespace = decider.run_head.__globals__
    source: str = namespace[SOURCE]
    defined = {"head", "tail", SOURCE, "__builtins__"}
    imports: list[str] = []
    literals: list[str] = []
    objects: list[str] = []
    for name, value in namespace.items():
        if name in defined:
            continue
        if (where := _importable(value)) is not None:
            module, attr = where
            imports.append(f"from {module} import {attr}" + ("" if attr == name else f" as {name}"))
        elif (text := _literal(value)) is not None:
            literals.append(f"{name} = {text}")
        else:
            objects.append(f"{name} = _objects[{name!r}]  # {type(value).__name__}")
    p = decider.policy
    where_from = "the packaged default policy" if policy is None else policy
    header = [
        f"# creditgate policy compile: the row engine's code for {p.name} {p.version}",
        f"# ({where_from}" + (f", cut at snapshot {snapshot})" if snapshot else ")"),
        "#",
        "# Decider.decide calls head(r, as_of) on every validated profile r: it computes each",
        "# binding of the lowered program into a local v<i>, NULL-safe as in SQL, and returns",
        "# those before the reason keys. For a user who is not invited, tail(r, as_of, prev)",
        "# computes the reason keys and returns the reasons, the gate and schedule recourse",
        "# (a rule that time alone fixes gets its date: as_of plus what is missing) and the",
        "# fraud rules that fired (operators only).",
        "#",
        "# Bindings:",
        *(f"#   v{i} = {b.name}" for i, b in enumerate(decider.program.bindings)),
        "",
        "import datetime  # noqa: F401 (constants)",
        "from decimal import Decimal  # noqa: F401 (constants)",
        "",
        *imports,
        "",
        "# Constants of the policy",
        *literals,
    ]
    if objects:
        args = ", ".join(repr(a) for a in (policy, snapshot))
        header += [
            "",
            "# Made from the policy when it is compiled, without a literal form: message makers",
            "# (memoised per observed value) and recourse helpers, taken from its Decider",
            "from creditgate.listing import compiled_objects",
            "",
            f"_objects = compiled_objects({args})",
            *objects,
        ]
    return "\n".join([*header, "", "", source, ""])


def duckdb_sql(program: Program, as_of: datetime.date) -> str:
    """The batch SQL deciding ``profiles`` (validated profile columns) at ``as_of``, for
    DuckDB: the lookup tables it joins are created first, so the script runs as printed."""
    from creditgate.batch.backends import duckdb_backend
    from creditgate.batch.decisions import OUTPUT_COLUMNS, decision_columns
    from creditgate.population.schema import PROFILE_SCHEMA

    backend = duckdb_backend("1GB", 1)
    con = backend.con.con
    con.register("_empty_profiles", PROFILE_SCHEMA.empty_table())
    con.execute(f"CREATE TABLE {PROFILES} AS SELECT * FROM _empty_profiles")
    table = backend.con.table(PROFILES)
    sql = backend.compile(decision_columns(program, table, as_of).select(*OUTPUT_COLUMNS))
    tables = sorted(set(re.findall(r'"(ibis_\w+)"', sql)))  # in-memory lookup tables
    statements = [_create_table(con, name) for name in tables]
    return "\n".join([*statements, sql + ";", ""])


SPARK_STATEMENT_END = "\n;\n"
"""What separates two statements of ``spark_sql``'s script (a line holding only ``;``)."""


def spark_sql(program: Program, as_of: datetime.date) -> str:
    """The batch SQL deciding ``profiles`` at ``as_of`` in Spark SQL, compiled by Ibis's
    PySpark dialect without a Spark session; the lookup tables it joins come first as
    temporary views over ``VALUES``. Spark runs one statement per ``spark.sql`` call: the
    statements are separated by a line holding only ``;``."""
    import ibis
    from ibis.backends.pyspark import Backend as PySparkBackend
    from ibis.expr import operations as ops

    from creditgate.batch.decisions import OUTPUT_COLUMNS, decision_columns
    from creditgate.population.schema import PROFILE_SCHEMA

    if ibis.options.pyspark is None:  # the dialect reads the backend's options
        PySparkBackend.register_options()
    table = ibis.table(ibis.Schema.from_pyarrow(PROFILE_SCHEMA), name=PROFILES)
    expr = decision_columns(program, table, as_of).select(*OUTPUT_COLUMNS)
    memtables = sorted(expr.op().find(ops.InMemoryTable), key=lambda t: t.name)
    statements = [_spark_view(t.name, t.schema, t.data.to_pyarrow(t.schema)) for t in memtables]
    return SPARK_STATEMENT_END.join([*statements, ibis.to_sql(expr, dialect="pyspark")]) + "\n"


def _spark_view(name: str, schema: Any, rows: Any) -> str:
    """A ``CREATE OR REPLACE TEMPORARY VIEW`` over the rows of an in-memory table."""
    from ibis.backends.sql.datatypes import PySparkType

    columns = list(schema.names)
    typed = ", ".join(
        f"CAST(`{c}` AS {PySparkType.to_string(schema[c])}) AS `{c}`" for c in columns
    )
    values = ",\n  ".join(
        "(" + ", ".join(_spark_value(v) for v in row.values()) + ")" for row in rows.to_pylist()
    )
    names = ", ".join(f"`{c}`" for c in columns)
    return (
        f"CREATE OR REPLACE TEMPORARY VIEW `{name}` AS\nSELECT {typed}\n"
        f"FROM VALUES\n  {values}\nAS t({names})"
    )


def _spark_value(value: Any) -> str:
    """A Spark SQL literal: strings escape backslash and quote with a backslash."""
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(value, list | tuple):
        return "array(" + ", ".join(_spark_value(v) for v in value) + ")"
    return _sql_value(value)


def _create_table(con: Any, name: str) -> str:
    """A ``CREATE TEMP TABLE`` statement with the rows of the connection's table ``name``."""
    columns = con.execute(f'DESCRIBE "{name}"').fetchall()
    rows = con.execute(f'SELECT * FROM "{name}"').fetchall()
    types = ", ".join(f'"{c[0]}" {c[1]}' for c in columns)
    values = ",\n  ".join("(" + ", ".join(_sql_value(v) for v in row) + ")" for row in rows)
    create = f'CREATE OR REPLACE TEMP TABLE "{name}" ({types});'
    return create if not rows else f'{create}\nINSERT INTO "{name}" VALUES\n  {values};'


def _sql_value(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, datetime.date):
        return f"DATE '{value.isoformat()}'"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_sql_value(v) for v in value) + "]"
    return "'" + str(value).replace("'", "''") + "'"
