"""Recourse per product on the self-check page, in Chromium on a phone, zh-CN and en: under a
product family (``tests/products/family.yaml``), each product not offered lists its own steps,
dated when time alone clears them (a refused user: only those beyond the decision's, the
products those open named in one list); screenshots ``selfcheck-product-steps-<lang>.png`` (an
invited user) and ``selfcheck-product-steps-refused-<lang>.png``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from creditgate.examples import example_profiles
from product_family import family_text

from .conftest import AS_OF, Served
from .test_selfcheck_page import changing, fits_the_phone, lang, sign_in, state

STRONG = json.loads(dict(example_profiles())["01_strong_shenzhen"])
# Gen-Z, 600 yuan a month: a 500 yuan line; instalments want 1,000 a month, and the joint
# loan needs a partner (A: two years of account age, B: pay score 700)
YOUNG = {
    **STRONG,
    "user_id": "u-young-products",
    "birth_date": "2001-03-02",
    "registered_at": "2024-05-01",
    "pay_score": 650,
    "monthly_spend_cny_6m": "600.00",
}
# overdue, and 600 yuan a month: instalments also want 1,000 a month
OVERDUE = {
    **STRONG,
    "user_id": "u-overdue-products",
    "current_overdue_days": 4,
    "monthly_spend_cny_6m": "600.00",
}


def family_server(start_server: Callable[..., Served], tmp_path: Path) -> Served:
    policy = tmp_path / "family.yaml"
    policy.write_text(family_text(), encoding="utf-8")
    return start_server(policy_path=str(policy))


def decide(served: Served, profile: dict[str, Any]) -> dict[str, Any]:
    body = {"profile": profile, "as_of": AS_OF.isoformat()}
    r = httpx.post(served.url("/v1/decisions"), json=body, headers=served.staff_headers("service"))
    assert r.status_code == 200, r.text
    found: dict[str, Any] = r.json()
    return found


def steps_of(page: Any, product: str) -> list[tuple[str, bool]]:
    """(field, dated) of each step listed under ``product``."""
    item = page.locator(f"[data-testid=offer][data-product={product}]")
    return [
        (step.get_attribute("data-field"), step.get_by_test_id("offer-step-eta").count() == 1)
        for step in item.get_by_test_id("offer-step").all()
    ]


def both(page: Any, served: Served, name: str, save_screenshot: Any) -> None:
    assert lang(page) == "zh-CN"
    fits_the_phone(page)
    save_screenshot(page, f"{name}-zh-CN", mask=changing(page))
    page.goto(served.url("/?lang=en"))
    assert lang(page) == "en"
    fits_the_phone(page)
    save_screenshot(page, f"{name}-en", mask=changing(page))


def test_an_invited_user_sees_what_each_other_product_needs(
    start_server: Callable[..., Served], tmp_path: Path, page: Any, save_screenshot: Any
) -> None:
    served = family_server(start_server, tmp_path)
    decision = decide(served, YOUNG)
    assert decision["outcome"] == "invited"
    offers = {o["product"]: o for o in decision["offers"]}
    assert offers["cash_loan"]["status"] == "offered"
    sign_in(page, served, YOUNG["user_id"])
    assert state(page) == "visible"
    for _ in ("zh-CN", "en"):
        assert steps_of(page, "cash_loan") == []
        for product in ("instalments", "joint_loan"):
            assert offers[product]["status"] == "not_eligible"
            assert steps_of(page, product) == [
                (s["field"], s["eta"] is not None) for s in offers[product]["recourse"]
            ]
        assert ("monthly_spend_cny_6m", False) in steps_of(page, "instalments")
        page.goto(served.url("/?lang=en"))
    page.goto(served.url("/?lang=zh-CN"))
    both(page, served, "selfcheck-product-steps", save_screenshot)


def test_a_refused_user_sees_each_products_steps_beyond_the_decisions(
    start_server: Callable[..., Served], tmp_path: Path, page: Any, save_screenshot: Any
) -> None:
    served = family_server(start_server, tmp_path)
    decision = decide(served, OVERDUE)
    assert decision["outcome"] == "not_invited"
    sign_in(page, served, OVERDUE["user_id"])
    assert state(page) == "hidden"
    assert page.get_by_test_id("recourse-step").count() == len(decision["recourse"])
    shown = decision["recourse"]
    same = [e.get_attribute("data-product") for e in page.get_by_test_id("offer-same").all()]
    for offer in decision["offers"]:
        extra = [(s["field"], s["eta"] is not None) for s in offer["recourse"] if s not in shown]
        assert steps_of(page, offer["product"]) == extra
        assert (offer["product"] in same) == (not extra)  # the others, named in one list
    assert steps_of(page, "instalments") == [("monthly_spend_cny_6m", False)]
    both(page, served, "selfcheck-product-steps-refused", save_screenshot)
