"""Products on every engine: the row engine's offers, DuckDB's and Spark's offer rows
(``batch.offers``) and the reference oracle's agree, with and without a snapshot's cut."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import reference
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from creditgate.batch.backends import Backend, duckdb_backend, spark_backend
from creditgate.batch.decisions import decision_columns
from creditgate.batch.offers import OFFER_COLUMNS, offer_bindings, offers_of
from creditgate.batch.whitelist import apply_cutoffs
from creditgate.decider import Decider
from creditgate.policy.bindings import Funding, ProductPart, ProductValue
from creditgate.policy.lower import Program
from creditgate.population.schema import PROFILE_SCHEMA
from product_family import family_policy
from strategies import AS_OF, invitable_profiles, profiles

Rows = list[dict[str, Any]]
CUTOFFS = {"tier1": 640, "new_tier1": 660, "capital": 670, "prefecture": 680}
EXAMPLES = {"row": 25, "duckdb": 15, "spark": 2}


def oracle(program: Program, row: dict[str, Any]) -> Rows:
    """The offer rows the interpreted program gives (``reference``: no engine imported)."""
    env = reference.values(program, row, AS_OF)
    shared = reference.decide(program, row, AS_OF)["reason_codes"]
    out = []
    for p in program.policy.products:

        def get(part: ProductPart, pid: str = p.id) -> Any:
            return env.get(ProductValue(pid, part).column)

        status, reason, apr = get(ProductPart.STATUS), get(ProductPart.REASON), get(ProductPart.APR)
        offered = status == "offered"
        out.append(
            {
                "user_id": row["user_id"],
                "product": p.id,
                "kind": p.kind.value,
                "status": status,
                "limit_cny": get(ProductPart.LIMIT),
                "apr": None if apr is None else str(apr),
                "reason_codes": [reason] if reason else [] if offered else shared,
                "funding": [
                    {"lender": lender.id, "amount_cny": env[Funding(p.id, lender.id).column]}
                    for lender in p.lenders
                ]
                if offered
                else [],
            }
        )
    return out


def row_engine(decider: Decider, rows: Rows) -> Rows:
    out = []
    for row in rows:
        for o in decider.decide(row, AS_OF).offers:
            out.append(
                {
                    "user_id": row["user_id"],
                    "product": o.product,
                    "kind": o.kind,
                    "status": o.status,
                    "limit_cny": o.limit_cny,
                    "apr": None if o.apr is None else str(o.apr),
                    "reason_codes": [r.code for r in o.reasons],
                    "funding": [
                        {"lender": f.lender, "amount_cny": f.amount_cny} for f in o.funding
                    ],
                }
            )
    return out


def batch_engine(backend: Backend, decider: Decider, tmp: Path) -> Callable[[Rows], Rows]:
    path = tmp / "profiles.parquet"
    pq.write_table(PROFILE_SCHEMA.empty_table(), path)
    table = backend.con.read_parquet(str(path), table_name="profiles")
    program = decider.program
    decided = decision_columns(program, table, AS_OF, extra=offer_bindings(program))
    sql = backend.compile(offers_of(program, decided).select(*OFFER_COLUMNS))

    def run(rows: Rows) -> Rows:
        pq.write_table(pa.Table.from_pylist(rows, schema=PROFILE_SCHEMA), path)
        if backend.name == "spark":
            backend.con.read_parquet(str(path), table_name="profiles")
        return backend.fetch_sql(sql).to_pylist()

    return run


def key(r: dict[str, Any]) -> tuple[str, str]:
    return r["user_id"], r["product"]


@pytest.fixture(scope="module")
def spark() -> Backend:
    pytest.importorskip("pyspark")
    return spark_backend()


# Spark runs the snapshot variant only: it is slow to start, and the snapshot's cutoffs cover
# the plain program's bindings too
VARIANTS = [(n, snap) for n in EXAMPLES for snap in (False, True) if n != "spark" or snap]


@pytest.mark.parametrize(
    ("name", "snapshot"),
    VARIANTS,
    ids=[f"{n}-{'snapshot' if snap else 'plain'}" for n, snap in VARIANTS],
)
def test_offers_agree_on_every_engine(
    name: str, snapshot: bool, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    policy = family_policy()
    decider = Decider(apply_cutoffs(policy, CUTOFFS) if snapshot else policy)
    if name == "row":
        run: Callable[[Rows], Rows] = lambda rows: row_engine(decider, rows)  # noqa: E731
    else:
        backend = duckdb_backend("1GB", 1) if name == "duckdb" else request.getfixturevalue(name)
        run = batch_engine(backend, decider, tmp_path)

    rows_of = st.lists(st.one_of(profiles(), invitable_profiles()), min_size=1, max_size=40)

    @settings(
        max_examples=EXAMPLES[name],
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(rows_of.map(lambda rs: [{**r, "user_id": f"u{i:05d}"} for i, r in enumerate(rs)]))
    def check(rows: Rows) -> None:
        want = sorted((o for r in rows for o in oracle(decider.program, r)), key=key)
        got = sorted(run(rows), key=key)
        assert got == want

    check()


def test_the_parity_sees_every_status() -> None:
    """The family policy reaches offered, not_eligible (shared and own) and referred, so the
    parity above compares all of them."""
    decider = Decider(family_policy())
    from strategies import strong_profile

    seen = set()
    for overrides in (
        {},
        {"monthly_spend_cny_6m": 900},
        {"pay_score": 500},
        {"loan_purpose": "business"},
        {"pay_score": 690},
    ):
        for o in decider.decide(strong_profile(**overrides), AS_OF).offers:
            seen.add((o.status, bool(o.reasons)))
    assert {("offered", False), ("not_eligible", True), ("referred", True)} <= seen
