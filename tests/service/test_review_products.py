"""A person's decision under a product family: an approved manual review gets the offers the
policy gives the profile once invited (a product whose own gate fails stays not eligible with
its own reason), a declined one every product refused with the decision's reasons; ``replay``
derives both again."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from test_api import decide, services
from test_review_work import DEVICE, USER, queue, resolve

from conftest import auth, policy_client
from creditgate.store.models import decisions
from creditgate.store.replay import replay
from product_family import family_text


@pytest.fixture
def family_client(tmp_path: Path) -> Iterator[TestClient]:
    with policy_client(tmp_path, family_text()) as client:
        yield client


def by_product(decision: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {o["product"]: o for o in decision["offers"]}


def human_after(client: TestClient, resolution: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """DEVICE's manual-review decision and the person's decision ``resolution`` records."""
    decided = decide(client, DEVICE)
    assert decided["outcome"] == "manual_review"
    assert {o["status"] for o in decided["offers"]} == {"not_eligible"}
    [item] = queue(client, kind="manual_review")
    r = resolve(client, item["review_id"], resolution)
    assert r.status_code == 200, r.text
    human = client.get(f"/v1/decisions/{r.json()['decision_id']}", headers=auth("viewer"))
    return decided, human.json()


def test_an_approved_review_gets_the_policys_offers_for_the_invited_profile(
    family_client: TestClient,
) -> None:
    decided, human = human_after(family_client, "approve")
    assert human["outcome"] == "invited"
    # the same profile without the shared device is invited by the engine: the same offers
    clean = decide(family_client, DEVICE | {"user_id": "same-but-clean", "accounts_on_device": 1})
    assert clean["outcome"] == "invited"
    assert human["offers"] == clean["offers"]
    offers = by_product(human)
    assert offers["cash_loan"]["status"] == "offered"
    assert offers["cash_loan"]["limit_cny"] == human["limit_cny"]
    svc = services(family_client)
    assert replay(svc.log, svc.catalog, human["decision_id"]).status == "identical"
    # the offers are part of what replay derives again: the contested ones stored instead
    # (what a person's decision held before) are a difference
    stored = svc.log.get(human["decision_id"])
    assert stored is not None
    forged = stored.decision | {"offers": decided["offers"]}
    with svc.engine.begin() as conn:
        conn.execute(
            update(decisions)
            .where(decisions.c.decision_id == human["decision_id"])
            .values(decision=orjson.dumps(forged).decode())
        )
    result = replay(svc.log, svc.catalog, human["decision_id"])
    assert result.status == "different"
    assert [d.split(":")[0] for d in result.differences] == ["offers"]


def test_a_products_own_gate_still_refuses_after_an_approval(family_client: TestClient) -> None:
    """Spending little on the platform fails the instalments' own gate: a person's approval
    of the shared layers does not lift it."""
    low = DEVICE | {"monthly_spend_cny_6m": 300}
    decided = decide(family_client, low)
    assert decided["outcome"] == "manual_review"
    [item] = queue(family_client, kind="manual_review")
    r = resolve(family_client, item["review_id"], "approve")
    assert r.status_code == 200, r.text
    human = family_client.get(f"/v1/decisions/{r.json()['decision_id']}", headers=auth("viewer"))
    offers = by_product(human.json())
    assert offers["cash_loan"]["status"] == "offered"
    assert offers["instalments"]["status"] == "not_eligible"
    assert [x["code"] for x in offers["instalments"]["reasons"]] == ["LOW_SPEND"]
    svc = services(family_client)
    assert replay(svc.log, svc.catalog, human.json()["decision_id"]).status == "identical"


def test_a_declined_review_refuses_every_product_with_its_reasons(
    family_client: TestClient,
) -> None:
    _, human = human_after(family_client, "decline")
    assert human["outcome"] == "not_invited" and human["user_id"] == USER
    for offer in human["offers"]:
        assert offer["status"] == "not_eligible" and offer["limit_cny"] is None
        assert offer["plans"] == [] and offer["funding"] == []
        assert offer["reasons"] == human["reasons"]
    svc = services(family_client)
    assert replay(svc.log, svc.catalog, human["decision_id"]).status == "identical"
