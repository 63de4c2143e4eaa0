"""The console's product offers in a real Chromium: under a policy with a product family an
operator reads an invited decision's offers (instalment plans with fee and IRR APR, the joint
loan's funding by lender) in zh-CN and en, and a manual review's card and the person's
approval with its offers. Screenshots ``console-decision-products-<lang>``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from creditgate.examples import example_profiles
from product_family import family_text

from .conftest import AS_OF, Served
from .test_console_pages import sign_in

PROFILES = {name: dict(json.loads(doc)) for name, doc in example_profiles()}


def decide(served: Served, profile: dict[str, Any]) -> dict[str, Any]:
    body = {"profile": profile, "as_of": AS_OF.isoformat()}
    r = httpx.post(served.url("/v1/decisions"), json=body, headers=served.staff_headers("service"))
    assert r.status_code == 200, r.text
    return dict(r.json())


def family_server(start_server: Any, tmp_path: Path) -> Served:
    """A service whose live policy is the default with the test family, no snapshot."""
    policy = tmp_path / "family.yaml"
    policy.write_text(family_text(), encoding="utf-8")
    served: Served = start_server(policy_path=str(policy), snapshot_path=None)
    return served


def shown(desk: Any, testid: str, attribute: str) -> list[str | None]:
    found = desk.get_by_test_id(testid)
    return [found.nth(i).get_attribute(attribute) for i in range(found.count())]


def fits(desk: Any) -> None:
    """Nothing wider than the desktop viewport (the offers table scrolls inside its card)."""
    width = desk.evaluate("document.documentElement.scrollWidth")
    assert width <= desk.viewport_size["width"], width


def test_an_operator_reads_each_products_offer(
    start_server: Any, tmp_path: Path, desk: Any, save_screenshot: Any
) -> None:
    served = family_server(start_server, tmp_path)
    decision = decide(served, PROFILES["01_strong_shenzhen"])
    offers = {o["product"]: o for o in decision["offers"]}
    assert offers["instalments"]["status"] == "offered" and offers["joint_loan"]["funding"]
    sign_in(desk, served, "operator")
    for lang in ("zh-CN", "en"):
        desk.goto(served.url(f"/console/decisions/{decision['decision_id']}?lang={lang}"))
        assert shown(desk, "decision-offer", "data-product") == list(offers)
        assert shown(desk, "offer-plan", "data-apr") == [
            p["apr"] for p in offers["instalments"]["plans"]
        ]
        assert shown(desk, "offer-funding", "data-amount") == [
            str(f["amount_cny"]) for f in offers["joint_loan"]["funding"]
        ]
        fits(desk)
        save_screenshot(
            desk, f"console-decision-products-{lang}", mask=[desk.get_by_test_id("decision-id")]
        )


def test_a_review_card_then_the_persons_approval_show_the_offers(
    start_server: Any, tmp_path: Path, desk: Any
) -> None:
    served = family_server(start_server, tmp_path)
    decided = decide(served, PROFILES["10_shared_device"])
    assert decided["outcome"] == "manual_review"
    sign_in(desk, served, "operator")
    desk.get_by_test_id("nav-reviews").click()
    item = desk.locator(f'[data-testid="review"][data-decision="{decided["decision_id"]}"]')
    statuses = [
        item.get_by_test_id("review-offer").nth(i).get_attribute("data-status")
        for i in range(item.get_by_test_id("review-offer").count())
    ]
    assert statuses == ["not_eligible"] * len(decided["offers"])
    item.get_by_test_id("claim").click()
    item = desk.locator(f'[data-testid="review"][data-decision="{decided["decision_id"]}"]')
    item.get_by_test_id("resolution").select_option("approve")
    item.get_by_test_id("resolve").click()
    assert desk.get_by_test_id("flash").get_attribute("data-flash") == "resolved"
    [review] = served.services.catalog.reviews("resolved", 10, None)
    desk.goto(served.url(f"/console/decisions/{review['human_decision_id']}?lang=en"))
    assert desk.get_by_test_id("replay").get_attribute("data-status") == "identical"
    assert "offered" in shown(desk, "decision-offer", "data-status")
