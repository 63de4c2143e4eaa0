"""The lab's pages in Chromium, offline (no request leaves the file): ``simulate``'s with the
headline, the funnel, the regional table and three charts, with zh-CN city names;
``compare``'s with its swap set."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

from creditgate.batch.backends import duckdb_backend
from creditgate.cli.lab import headline
from creditgate.decider import Decider
from creditgate.lab.compare import compare_tables
from creditgate.lab.evaluate import evaluate
from creditgate.lab.html import write_compare_html, write_html
from creditgate.population.synth import write_parquet

from .conftest import write_screenshot

AS_OF = date(2025, 6, 30)


@contextmanager
def offline_page(browser: Any, file: Path) -> Iterator[Any]:
    """``file`` open in a desktop-sized page; nothing but the file itself may be requested."""
    context = browser.new_context(viewport={"width": 1000, "height": 900}, locale="zh-CN")
    try:
        page = context.new_page()
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto(file.as_uri())
        assert requests == [file.as_uri()]
        yield page
    finally:
        context.close()


def test_simulate_report_renders_offline(browser: Any, tmp_path: Path) -> None:
    source = tmp_path / "users.parquet"
    write_parquet(source, 2_000, seed=5, as_of=AS_OF, chunk_size=5_000)
    d = Decider()
    with evaluate(
        duckdb_backend("1GB", 1), source, [d.policy], d.regions, AS_OF, "defaulted"
    ) as ev:
        reports = [ev.report(run) for run in ev.runs]
    page_file = tmp_path / "index.html"
    write_html(page_file, reports)
    with offline_page(browser, page_file) as page:
        assert page.locator("svg").count() == 3
        assert page.get_by_text("stopped first here").count() == 1
        assert page.locator("td", has_text="深圳").count() >= 1
        write_screenshot(page, "simulate-report")


def test_compare_page_renders_offline(browser: Any, tmp_path: Path) -> None:
    source = tmp_path / "users.parquet"
    write_parquet(source, 2_000, seed=5, as_of=AS_OF, chunk_size=5_000)
    d = Decider()
    floors = (("capital", 600), ("new_tier1", 600), ("prefecture", 600), ("tier1", 660))
    wider = replace(d.policy, scorecard=replace(d.policy.scorecard, cutoffs=floors), version="b")
    backend = duckdb_backend("1GB", 1)
    with evaluate(backend, source, [d.policy, wider], d.regions, AS_OF, "defaulted") as ev:
        reports = [ev.report(run) for run in ev.runs]
        swap = compare_tables(backend, ev.runs[0].decided, ev.runs[1].decided, "defaulted")
    body = {
        "as_of": AS_OF.isoformat(),
        "champion": headline(reports[0] | {"file": "default.yaml"}),
        "challenger": headline(reports[1] | {"file": "wider.yaml"}),
    } | swap
    page_file = tmp_path / "compare.html"
    write_compare_html(page_file, body)
    with offline_page(browser, page_file) as page:
        assert page.get_by_role("heading", name="Swap set").count() == 1
        assert page.locator("table").count() == 6
        assert "0 change it" not in page.locator("p").first.inner_text()  # users did move
        write_screenshot(page, "compare-report")
