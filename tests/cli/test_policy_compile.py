"""``creditgate policy compile``: the printed code is the code that decides.

The row listing must be valid Python whose ``head``/``tail``, executed on their own, compute
what the ``Decider`` computes; the DuckDB listing must run as printed and decide alike.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from typer.testing import CliRunner

from creditgate.cli.main import app
from creditgate.decider import Decider
from creditgate.policy.loader import default_policy_path, load_policy
from creditgate.population.schema import PROFILE_SCHEMA
from strategies import AS_OF, invitable_profiles, profiles, strong_profile

runner = CliRunner()
HANDSET = default_policy_path().with_name("seed_handset.yaml")


def listing(*args: str) -> str:
    result = runner.invoke(app, ["policy", "compile", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture(scope="module")
def generated() -> dict[str, Any]:
    src = listing()
    namespace: dict[str, Any] = {}
    exec(compile(src, "<policy compile>", "exec"), namespace)
    return namespace


@pytest.fixture(scope="module")
def decider() -> Decider:
    return Decider()


def test_the_row_listing_names_the_bindings_and_the_as_of_arithmetic() -> None:
    src = listing()
    assert src.startswith("# creditgate policy compile: the row engine's code for default")
    assert "#   v0 = age" in src and "def head(r, as_of):" in src
    assert "def tail(r, as_of, prev):" in src


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(profiles() | invitable_profiles())
def test_the_printed_source_decides_like_the_decider(
    generated: dict[str, Any], decider: Decider, row: dict[str, Any]
) -> None:
    values = generated["head"](row, AS_OF)
    assert values == decider.run_head(row, AS_OF)
    assert generated["tail"](row, AS_OF, values) == decider.explain(row, AS_OF, values)


def test_a_policy_file_compiles_to_its_own_code() -> None:
    namespace: dict[str, Any] = {}
    exec(compile(listing(str(HANDSET)), "<handset>", "exec"), namespace)
    handset = Decider(load_policy(HANDSET))
    row = strong_profile(pay_score=640)
    values = namespace["head"](row, AS_OF)
    assert values == handset.run_head(row, AS_OF) != Decider().run_head(row, AS_OF)
    assert namespace["tail"](row, AS_OF, values) == handset.explain(row, AS_OF, values)


def decided(d: Decider, row: dict[str, Any]) -> dict[str, Any]:
    x = d.decide(row, AS_OF)
    return {
        "user_id": x.user_id,
        "outcome": x.outcome,
        "score": x.score,
        "limit_cny": x.limit_cny,
        "apr": None if x.apr is None else str(x.apr),
        "reason_codes": list(x.reason_codes),
    }


@settings(
    max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(profiles())
def test_the_printed_duckdb_sql_runs_and_decides_like_the_decider(
    decider: Decider, row: dict[str, Any]
) -> None:
    sql = SQL_CACHE.setdefault("sql", listing("--engine", "duckdb", "--as-of", AS_OF.isoformat()))
    rows = [{**row, "user_id": "u0"}, {**strong_profile(), "user_id": "u1"}]
    con = duckdb.connect()
    con.register("given", pa.Table.from_pylist(rows, schema=PROFILE_SCHEMA))
    con.execute("CREATE TABLE profiles AS SELECT * FROM given")
    result = con.execute(sql).fetchall()
    names = [column[0] for column in con.description or ()]
    keys = ("user_id", "outcome", "score", "limit_cny", "apr", "reason_codes")
    got = sorted(({k: dict(zip(names, r, strict=True))[k] for k in keys} for r in result), key=str)
    assert got == [decided(decider, r) for r in rows]


SQL_CACHE: dict[str, str] = {}


def test_the_printed_spark_sql_runs_on_spark_and_decides_like_the_decider(
    decider: Decider,
) -> None:
    """The listing is compiled without a Spark session; run as printed (one ``spark.sql`` per
    statement) it must decide a varied sample as the Decider does."""
    pytest.importorskip("pyspark")
    from creditgate.batch.backends import local_spark
    from creditgate.listing import SPARK_STATEMENT_END

    sql = listing("--engine", "spark", "--as-of", AS_OF.isoformat())
    assert sql.startswith("-- creditgate policy compile --engine spark: default")
    rows = [
        {**strong_profile(), "user_id": "strong"},
        {**strong_profile(city="北京"), "user_id": "beijing"},
        {**strong_profile(pay_score=580), "user_id": "low_pay"},
        {**strong_profile(city="绵阳"), "user_id": "prefecture"},
        {**strong_profile(is_county_area=True), "user_id": "county"},
        {**strong_profile(current_overdue_days=3), "user_id": "overdue"},
        {**strong_profile(sim_changed_days_ago=3, applications_7d=2), "user_id": "sim_swap"},
    ]
    session = local_spark()
    given = pa.Table.from_pylist(rows, schema=PROFILE_SCHEMA).to_pandas()
    session.createDataFrame(given).createOrReplaceTempView("profiles")
    *views, query = sql.split(SPARK_STATEMENT_END)
    for statement in views:
        session.sql(statement)
    result = session.sql(query).toPandas().to_dict("records")
    keys = ("user_id", "outcome", "score", "limit_cny", "apr", "reason_codes")
    got = sorted(({k: _plain(r[k]) for k in keys} for r in result), key=lambda r: str(r["user_id"]))
    want = sorted((decided(decider, r) for r in rows), key=lambda r: str(r["user_id"]))
    assert got == want
    assert {r["outcome"] for r in want} >= {"invited", "not_invited"}


def _plain(value: Any) -> Any:
    """A Spark cell as the Decider's JSON has it: arrays as lists, NaN/NA as None."""
    if hasattr(value, "tolist"):
        return list(value.tolist())
    return None if value is None or value != value else value


def test_policy_show_defaults_to_the_packaged_policy_and_names_its_file() -> None:
    result = runner.invoke(app, ["policy", "show"])
    assert result.exit_code == 0, result.output
    assert f"policy file: {default_policy_path()}" in result.stdout
    assert "default 2026" in result.stdout


def test_compile_refuses_a_broken_policy_with_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\n", encoding="utf-8")
    result = runner.invoke(app, ["policy", "compile", str(bad)])
    assert result.exit_code == 2 and "Traceback" not in result.output
