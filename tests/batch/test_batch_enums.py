"""The batch's writes keep the ENUMs they stage (a byte a value to the Parquet writer, no
string hashed again): the optional-column wrapper keeps each column's type, and the offers
file takes its reason lists from the staged ENUM lists by key, with the same rows as lists
built row by row."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import creditgate.batch.run as run_module
from creditgate.batch.backends import Backend, duckdb_backend, with_enums
from creditgate.batch.decisions import with_reasons
from creditgate.batch.offers import OFFER_COLUMNS, offer_enums
from creditgate.batch.run import as_optional, run_batch
from creditgate.decider import Decider
from creditgate.policy.lower import Program
from creditgate.population.synth import write_parquet

AS_OF = date(2025, 6, 30)


def duck_types(backend: Backend, sql: str) -> dict[str, str]:
    return {r[0]: r[1] for r in backend.con.con.execute(f"DESCRIBE {sql}").fetchall()}


def test_optional_columns_keep_their_enum_types(tmp_path: Path) -> None:
    backend = duckdb_backend("1GB", 1)
    rows = ibis.memtable(pa.table({"outcome": ["invited", "referred"], "codes": [["A"], []]}))
    staged = backend.stage(rows, enums={"outcome": ("invited", "referred"), "codes": ("A",)})
    types = duck_types(backend, backend.compile(as_optional(staged)))
    assert types == {"outcome": "ENUM('invited', 'referred')", "codes": "ENUM('A')[]"}
    out = tmp_path / "o.parquet"
    backend.write(as_optional(staged), out)
    schema = pq.ParquetFile(out).schema  # still optional: a NULL may be written
    assert [schema.column(i).max_definition_level for i in range(len(schema))] == [1, 3]
    assert pq.read_table(out).to_pylist() == rows.to_pyarrow().to_pylist()


@pytest.fixture(scope="module")
def offer_writes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A dirty 2,000-user batch under the packaged family: the offers the run wrote (its
    expression's DuckDB types) and, while its staged tables exist, the offers with every
    list built row by row from the decisions' lists (``offers_of`` without ``lists``)."""
    tmp = tmp_path_factory.mktemp("enums")
    source = tmp / "users.parquet"
    write_parquet(source, 2_000, seed=5, as_of=AS_OF, dirty_fraction=0.05, chunk_size=5_000)
    decider = Decider()
    backend = duckdb_backend("1GB", 2)
    seen: dict[str, Any] = {}
    original = run_module.offers_of

    def spy(program: Program, rows: ir.Table, lists: ir.Table | None = None) -> ir.Table:
        assert lists is not None  # the default's reasons can be listed
        keyed = original(program, rows, lists)
        per_row = original(program, with_reasons(rows, lists))
        order = ["user_id", "product"]
        seen["keyed"] = backend.fetch(keyed.order_by(order)).to_pylist()
        seen["per_row"] = backend.fetch(per_row.order_by(order)).to_pylist()
        sql = with_enums(backend.compile(as_optional(keyed)), keyed, offer_enums(program))
        seen["types"] = duck_types(backend, sql)
        return keyed

    patch = pytest.MonkeyPatch()
    patch.setattr(run_module, "offers_of", spy)
    try:
        out = tmp / "decisions.parquet"
        run_batch(backend, source, out, decider.policy, decider.regions, AS_OF)
    finally:
        patch.undo()
    seen["written"] = pq.read_table(tmp / "decisions.offers.parquet")
    return seen


def test_offers_by_key_are_the_offers_built_row_by_row(offer_writes: dict[str, Any]) -> None:
    keyed, per_row = offer_writes["keyed"], offer_writes["per_row"]
    assert len(keyed) == 3 * len({r["user_id"] for r in keyed}) > 0
    assert keyed == per_row
    statuses = {r["status"] for r in keyed}
    assert statuses == {"offered", "not_eligible", "referred"}
    codes = {c for r in keyed for c in r["reason_codes"]}
    assert "LOW_SPEND" in codes and len(codes) > 2  # a product's own and the decisions'


def test_offers_reach_the_writer_as_enums(offer_writes: dict[str, Any]) -> None:
    types = offer_writes["types"]
    assert [c for c in OFFER_COLUMNS if types[c].startswith("ENUM")] == [
        "product",
        "kind",
        "status",
        "reason_codes",
    ]
    assert types["reason_codes"].endswith("[]")
    written = offer_writes["written"]  # Parquet receives plain strings
    assert written.schema.field("product").type == pa.string()
    assert written.schema.field("reason_codes").type == pa.list_(pa.string())


def test_decided_decimal_choices_are_staged_as_enums_of_their_text(tmp_path: Path) -> None:
    """The daily rate and the APRs (a policy's decimal constants, compiled to their text) are
    staged as ENUMs of exactly the texts the rows hold, and written as plain strings."""
    source = tmp_path / "users.parquet"
    write_parquet(source, 3_000, seed=11, as_of=AS_OF, chunk_size=5_000)
    decider = Decider()
    backend = duckdb_backend("1GB", 2)
    staged: list[dict[str, tuple[str, ...]]] = []
    original = backend.stage

    def spy(expr: ir.Table, enums: dict[str, tuple[str, ...]] | None = None) -> ir.Table:
        staged.append(dict(enums or {}))
        return original(expr, enums)

    patch = pytest.MonkeyPatch()
    patch.setattr(backend, "stage", spy)
    try:
        run_batch(backend, source, tmp_path / "d.parquet", decider.policy, decider.regions, AS_OF)
    finally:
        patch.undo()
    [decided] = [e for e in staged if "entry" in e]  # the decided rows' stage
    rates = ("0.0002", "0.0003", "0.0004")
    aprs = ("0.0730", "0.1095", "0.1460")
    assert decided["daily_rate"] == rates and decided["apr"] == aprs
    assert decided["product.cash_loan.apr"] == decided["product.joint_loan.apr"] == aprs
    written = pq.read_table(tmp_path / "d.parquet")
    assert written.schema.field("apr").type == pa.string()
    held = {v for v in written.column("apr").to_pylist() if v is not None}
    assert held and held <= set(aprs)
    assert {v for v in written.column("daily_rate").to_pylist() if v is not None} <= set(rates)
