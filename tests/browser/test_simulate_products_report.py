"""``simulate``'s page under a product family in Chromium, offline: the *Products / 产品*
table (each product's offered users, shares, mean and median line) and the joint loan's
funding by lender. Screenshot ``simulate-report-products``."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from creditgate.batch.backends import duckdb_backend
from creditgate.decider import Decider
from creditgate.lab.evaluate import evaluate
from creditgate.lab.html import write_html
from creditgate.population.synth import write_parquet
from product_family import family_policy

from .conftest import write_screenshot
from .test_simulate_report import offline_page

AS_OF = date(2025, 6, 30)


def test_the_products_section_renders_offline(browser: Any, tmp_path: Path) -> None:
    source = tmp_path / "users.parquet"
    write_parquet(source, 1_000, seed=5, as_of=AS_OF, chunk_size=5_000)
    policy, regions = family_policy(), Decider().regions
    with evaluate(duckdb_backend("1GB", 1), source, [policy], regions, AS_OF, None) as ev:
        [report] = [ev.report(run) for run in ev.runs]
    page_file = tmp_path / "index.html"
    write_html(page_file, [report])
    with offline_page(browser, page_file) as page:
        heading = page.locator("#products")
        assert heading.count() == 1
        table = heading.locator("xpath=following-sibling::table[1]")
        rows = table.locator("tbody tr")
        assert rows.count() == len(report["products"])
        for i, p in enumerate(report["products"]):
            cells = rows.nth(i).locator("td")
            assert p["name"]["zh-CN"] in cells.nth(0).inner_text()
            assert cells.nth(1).inner_text() == f"{p['offered']:,}"
        joint = next(p for p in report["products"] if p["funding"])
        funding = page.locator("h4", has_text="funding by lender")
        assert funding.count() == 1
        lenders = funding.locator("xpath=following-sibling::table[1]").locator("tbody tr")
        assert [lenders.nth(i).locator("td").nth(1).inner_text() for i in range(3)] == [
            f"{f['amount_cny']:,}" for f in joint["funding"]
        ]
        page.emulate_media(media="print")  # printable: nothing hidden or clipped in print
        assert heading.is_visible()
        page.emulate_media(media="screen")
        heading.scroll_into_view_if_needed()
        write_screenshot(page, "simulate-report-products")
