"""The console shows a decision's product offers (plans with fee and IRR APR, funding by
lender, or reasons) on the decision page and on a review card, in both languages, and
nothing for a policy without products."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from selfcheck_helpers import by_testid
from test_api import STRONG, decide
from test_console import sign_in
from test_review_products import family_client  # noqa: F401  (the fixture)
from test_review_work import DEVICE

from conftest import policy_client
from product_family import single_text

ATTR = re.compile(r'data-([a-z]+)="([^"]*)"')


def attrs(element: str) -> dict[str, str]:
    return dict(ATTR.findall(element.split(">", 1)[0]))


def test_a_decisions_page_shows_every_offer(family_client: TestClient) -> None:  # noqa: F811
    decision = decide(family_client, STRONG)
    sign_in(family_client, "viewer")
    for lang, words in (("en", "APR (IRR)"), ("zh-CN", "年化利率(IRR)")):
        html = family_client.get(f"/console/decisions/{decision['decision_id']}?lang={lang}").text
        assert words in html
        rows = [attrs(x) for x in by_testid(html, "decision-offer")]
        assert [(r["product"], r["status"]) for r in rows] == [
            (o["product"], o["status"]) for o in decision["offers"]
        ]
        for o in decision["offers"]:
            assert o["name"][lang] in html
        plans = [attrs(x) for x in by_testid(html, "offer-plan")]
        expected = [p for o in decision["offers"] for p in o["plans"]]
        assert [(p["periods"], p["fee"], p["apr"]) for p in plans] == [
            (str(p["periods"]), p["fee_per_period"], p["apr"]) for p in expected
        ]
        funding = [attrs(x) for x in by_testid(html, "offer-funding")]
        assert [(f["lender"], f["amount"]) for f in funding] == [
            (f["lender"], str(f["amount_cny"])) for o in decision["offers"] for f in o["funding"]
        ]
        assert funding, "the strong profile's joint loan is funded"


def test_a_review_card_and_a_refusal_show_each_products_reasons(
    family_client: TestClient,  # noqa: F811
) -> None:
    decided = decide(family_client, DEVICE)
    sign_in(family_client, "viewer")
    html = family_client.get("/console/reviews?lang=en").text
    brief = [attrs(x) for x in by_testid(html, "review-offer")]
    assert [(b["product"], b["status"]) for b in brief] == [
        (o["product"], "not_eligible") for o in decided["offers"]
    ]
    assert all("FRAUD_SUSPECTED" in x for x in by_testid(html, "review-offer"))
    page = family_client.get(f"/console/decisions/{decided['decision_id']}?lang=en").text
    reasons = [attrs(x)["code"] for x in by_testid(page, "offer-reason")]
    assert reasons == ["FRAUD_SUSPECTED"] * len(decided["offers"])


@pytest.fixture
def single_client(tmp_path: Path) -> Iterator[TestClient]:
    """A service on the default policy cut to its cash loan (no ``products:`` section)."""
    with policy_client(tmp_path, single_text()) as client:
        yield client


def test_no_products_section_without_a_family(single_client: TestClient) -> None:
    client = single_client
    decision = decide(client, STRONG)
    assert "offers" not in decision
    sign_in(client, "viewer")
    html = client.get(f"/console/decisions/{decision['decision_id']}").text
    assert by_testid(html, "decision") and not by_testid(html, "decision-offers")
