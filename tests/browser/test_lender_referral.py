"""The refused user's licensed lenders in real Chromium: licence and APR shown, a consent
form naming the lender and each field, a referral that shares exactly those fields, and a
button that withdraws the consent, after which nothing more can be sent."""

from __future__ import annotations

from typing import Any

import httpx

from creditgate.service.answers import answer
from creditgate.service.referrals import named_lenders, store

from .conftest import Served
from .test_selfcheck_page import shoot, sign_in, state  # noqa: F401  (shoot: a fixture)


def refused_with_lenders(served: Served) -> tuple[str, list[dict[str, Any]]]:
    """The first refused batch user (by id) whose refusal names a licensed lender."""
    for uid, row in sorted(served.users.batch.items()):
        if row["outcome"] != "not_invited" or row["entry"] == "servicing":
            continue
        named = named_lenders(answer(served.services, uid))
        if named:
            return uid, named
    raise AssertionError("the seeded batch has no refused user matching a lender")


def api_referral(served: Served, user: str, lender: str) -> httpx.Response:
    return httpx.post(
        served.url(f"/v1/users/{user}/referrals"),
        json={"lender_id": lender},
        headers={"Authorization": f"Bearer {served.user_token(user)}"},
    )


def consent_status(card: Any) -> str:
    found: str = card.get_by_test_id("lender-consent-status").get_attribute("data-consent")
    return found


def test_consent_then_referral_then_withdrawal(served, page, shoot) -> None:  # noqa: F811
    user, named = refused_with_lenders(served)
    lender = named[0]
    sign_in(page, served, user)
    assert state(page) == "hidden"
    cards = page.get_by_test_id("lender")
    assert [c.get_attribute("data-lender") for c in cards.all()] == [x["id"] for x in named]
    card = cards.first
    assert lender["licence_number"] in card.get_by_test_id("lender-licence").inner_text()
    assert "%" in card.get_by_test_id("lender-apr").inner_text()
    listed = card.get_by_test_id("lender-fields").locator("li")
    assert [f.get_attribute("data-field") for f in listed.all()] == lender["fields"]
    assert consent_status(card) == "none"
    assert lender["name"]["zh-CN"] in card.get_by_test_id("lender-consent-submit").inner_text()
    shoot(page, "lenders")

    assert api_referral(served, user, lender["id"]).status_code == 403  # no consent: nothing
    referrals = store(served.services)
    assert referrals.referrals(user) == []

    card.get_by_test_id("lender-consent-submit").click()
    page.wait_for_load_state()
    assert page.get_by_test_id("flash").get_attribute("data-flash") == "lender_consent_recorded"
    card = page.get_by_test_id("lender").first
    assert consent_status(card) == "given"
    shoot(page, "lender-consent")

    card.get_by_test_id("referral-submit").click()
    page.wait_for_load_state()
    assert page.get_by_test_id("flash").get_attribute("data-flash") == "referral_sent"
    made = referrals.referrals(user)
    assert len(made) == 1 and list(made[0].fields) == lender["fields"]

    page.get_by_test_id("lender").first.get_by_test_id("lender-withdraw-submit").click()
    page.wait_for_load_state()
    assert page.get_by_test_id("flash").get_attribute("data-flash") == "lender_consent_withdrawn"
    assert consent_status(page.get_by_test_id("lender").first) == "none"
    refused = api_referral(served, user, lender["id"])
    assert refused.status_code == 403 and refused.json()["missing_fields"] == lender["fields"]
    assert len(referrals.referrals(user)) == 1
