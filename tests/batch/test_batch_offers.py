"""A batch under a product family writes one offer row per decided user and product beside
its decisions, the same on DuckDB and Spark, and agreeing with ``decide`` at the snapshot's
cutoffs; a policy without products writes none, and its decisions are unchanged."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from batch_runs import AS_OF, run_into
from shared_spark import SharedRun, read_spark_dir

from creditgate.batch.backends import duckdb_backend
from creditgate.batch.offers import OFFER_COLUMNS, offers_path
from creditgate.decider import Decider
from creditgate.population.schema import PROFILE_SCHEMA
from creditgate.population.synth import write_parquet
from creditgate.profile import validate_profile
from creditgate.snapshot import read_meta
from creditgate.snapshot_decider import snapshot_decider
from product_family import family_policy, single_policy


@pytest.fixture(scope="module")
def family_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Decider]:
    tmp = tmp_path_factory.mktemp("family")
    source = tmp / "users.parquet"
    write_parquet(source, 3_000, seed=11, as_of=AS_OF, chunk_size=5_000)
    decider = Decider(family_policy())
    run_into(duckdb_backend("1GB", 2), source, tmp / "duck", decider)
    return source, tmp / "duck", decider


def offer_rows(out: Path) -> list[dict[str, Any]]:
    rows = pq.read_table(offers_path(out / "decisions.parquet")).to_pylist()
    return sorted(rows, key=lambda r: (r["user_id"], r["product"]))


def test_one_offer_row_per_decided_user_and_product(
    family_run: tuple[Path, Path, Decider],
) -> None:
    _, out, decider = family_run
    decided = pq.read_table(out / "decisions.parquet", columns=["user_id"])["user_id"]
    offers = offer_rows(out)
    assert pq.read_schema(offers_path(out / "decisions.parquet")).names == list(OFFER_COLUMNS)
    products = [p.id for p in decider.policy.products]
    assert [(r["user_id"], r["product"]) for r in offers] == sorted(
        (u, p) for u in decided.to_pylist() for p in products
    )


def test_offers_agree_with_decide_at_the_snapshot(family_run: tuple[Path, Path, Decider]) -> None:
    source, out, decider = family_run
    realtime = snapshot_decider(decider, read_meta(out / "snapshot.parquet"))
    offers = {(r["user_id"], r["product"]): r for r in offer_rows(out)}
    statuses = set()
    for row in pq.read_table(source, columns=PROFILE_SCHEMA.names).to_pylist()[:600]:
        profile = validate_profile(row, AS_OF, realtime.policy, realtime.regions)
        for o in realtime.decide(profile, AS_OF).offers:
            b = offers[(row["user_id"], o.product)]
            funding = [{"lender": f.lender, "amount_cny": f.amount_cny} for f in o.funding]
            assert (b["status"], b["limit_cny"], b["reason_codes"], b["funding"]) == (
                o.status,
                o.limit_cny,
                [r.code for r in o.reasons],
                funding,
            ), row["user_id"]
            statuses.add(o.status)
    assert statuses == {"offered", "not_eligible", "referred"}


def test_spark_writes_the_same_offers(spark_run: SharedRun) -> None:
    """The session's shared Spark run (the packaged default declares the family; a dirty
    input, so quarantined rows must get no offer row) writes DuckDB's offer rows."""
    assert spark_run.decider.policy.products
    want = pq.read_table(offers_path(spark_run.duck_decisions))
    got = read_spark_dir(offers_path(spark_run.out / "decisions"), want.schema)
    key = [("user_id", "ascending"), ("product", "ascending")]
    assert got.num_rows == want.num_rows > 0
    assert got.sort_by(key).to_pylist() == want.sort_by(key).to_pylist()


def test_a_policy_without_products_writes_no_offers(tmp_path: Path) -> None:
    source = tmp_path / "users.parquet"
    write_parquet(source, 500, seed=3, as_of=AS_OF, chunk_size=5_000)
    run_into(duckdb_backend("1GB", 1), source, tmp_path, Decider(single_policy()))
    assert not offers_path(tmp_path / "decisions.parquet").exists()


def test_the_run_report_counts_each_product(family_run: tuple[Path, Path, Decider]) -> None:
    """``decisions.report.json`` (``simulate``'s figures too) counts each product's offers."""
    _, out, decider = family_run
    document = json.loads((out / "decisions.report.json").read_text(encoding="utf-8"))
    report = document["reports"][0]
    offers = offer_rows(out)
    assert [p["product"] for p in report["products"]] == [p.id for p in decider.policy.products]
    for p in report["products"]:
        mine = [r for r in offers if r["product"] == p["product"]]
        for status in ("offered", "not_eligible", "referred"):
            assert p[status] == sum(r["status"] == status for r in mine)
        assert p["exposure_cny"] == sum(r["limit_cny"] or 0 for r in mine)
