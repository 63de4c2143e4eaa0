"""``simulate`` under a product family: each product's counts, shares, mean and median line
and a joint loan's yuan by lender agree with the batch's ``decisions.offers.parquet`` over
the same users, and ``index.html`` shows them (both languages' product names)."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from creditgate.batch.backends import duckdb_backend
from creditgate.batch.run import run_batch
from creditgate.decider import Decider
from creditgate.lab.evaluate import evaluate
from creditgate.lab.html import render
from creditgate.lab.report import line_summary
from creditgate.population.synth import write_parquet
from product_family import family_policy

AS_OF = date(2025, 6, 30)
USERS = 1_500


@pytest.fixture(scope="module")
def population(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("lab-products") / "users.parquet"
    write_parquet(source, USERS, seed=11, as_of=AS_OF, dirty_fraction=0.03, chunk_size=5_000)
    return source


@pytest.fixture(scope="module")
def simulated(population: Path) -> dict[str, Any]:
    regions = Decider().regions
    policy = family_policy()
    with evaluate(duckdb_backend("1GB", 2), population, [policy], regions, AS_OF, None) as ev:
        return ev.report(ev.runs[0])


@pytest.fixture(scope="module")
def offers(population: Path) -> list[dict[str, Any]]:
    out = population.parent / "decisions.parquet"
    regions = Decider().regions
    run_batch(duckdb_backend("1GB", 2), population, out, family_policy(), regions, AS_OF)
    return pq.read_table(population.parent / "decisions.offers.parquet").to_pylist()


def test_each_product_agrees_with_the_batchs_offers(
    simulated: dict[str, Any], offers: list[dict[str, Any]]
) -> None:
    by_product: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in offers:
        by_product[row["product"]].append(row)
    population = simulated["population"]
    assert sorted(p["product"] for p in simulated["products"]) == sorted(by_product)
    for p in simulated["products"]:
        rows = by_product[p["product"]]
        statuses = Counter(r["status"] for r in rows)
        assert (p["offered"], p["not_eligible"], p["referred"]) == (
            statuses["offered"],
            statuses["not_eligible"],
            statuses["referred"],
        )
        assert p["eligible"] == simulated["invited"]
        lines = [r["limit_cny"] for r in rows if r["status"] == "offered"]
        assert p["offered"] > 0 and p["exposure_cny"] == sum(lines)
        assert Decimal(p["offered_share"]) == round(Decimal(len(lines)) / population, 6)
        assert Decimal(p["mean_limit_cny"]) == round(Decimal(sum(lines)) / len(lines), 2)
        assert Decimal(p["median_limit_cny"]) == Decimal(str(statistics.median(lines)))
        lenders: Counter[str] = Counter()
        for r in rows:
            for part in r["funding"] or []:
                lenders[part["lender"]] += part["amount_cny"]
        assert {f["lender"]: f["amount_cny"] for f in p["funding"]} == (
            {k: lenders[k] for k in (f["lender"] for f in p["funding"])}
        )
        assert sum(f["amount_cny"] for f in p["funding"]) in (0, p["exposure_cny"])
    joint = next(p for p in simulated["products"] if p["kind"] == "joint")
    assert sum(f["amount_cny"] for f in joint["funding"]) == joint["exposure_cny"] > 0


def test_the_median_of_an_even_count_is_the_middle_pair_s_mean() -> None:
    assert line_summary({1000: 1, 3000: 1}) == {
        "mean_limit_cny": "2000.00",
        "median_limit_cny": "2000",
    }
    assert line_summary({1000: 2, 2001: 2})["median_limit_cny"] == "1500.5"
    assert line_summary({5000: 3})["median_limit_cny"] == "5000"
    assert line_summary({}) == {"mean_limit_cny": None, "median_limit_cny": None}


def test_the_page_shows_each_product(simulated: dict[str, Any]) -> None:
    html = render([simulated])
    assert 'id="products"' in html
    for p in simulated["products"]:
        assert p["name"]["zh-CN"] in html and p["name"]["en"] in html
        assert f"{p['offered']:,}" in html and f"{Decimal(p['median_limit_cny']):,}" in html
        for f in p["funding"]:
            assert f["name"]["zh-CN"] in html and f"{f['amount_cny']:,}" in html
    assert "<script" not in html and 'href="http' not in html and 'src="' not in html
