"""Under a policy with a product family, an invited user's self-check page shows each offer:
the instalment plans with their APRs and who funds the joint loan; a product not offered
shows its own steps (an invited user's, and a refused user's beyond the decision's)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from selfcheck_helpers import by_testid, page, sign_in, state
from sqlalchemy import text
from test_api import PROFILES, STRONG, decide
from typer.testing import CliRunner

from conftest import make_settings, policy_client
from creditgate.cli.main import app as cli
from creditgate.service.app import create_app
from product_family import family_text


def family_client(tmp_path: Path) -> TestClient:
    return policy_client(tmp_path, family_text())


def offer_items(html: str) -> dict[str, str]:
    """Each offer's list item (to its closing tag), by product."""
    items = html.split('data-testid="offer" data-product="')[1:]
    return {item.split('"')[0]: item.split("\n</li>")[0] for item in items}


def test_the_page_shows_every_offer(tmp_path: Path) -> None:
    with family_client(tmp_path) as client:
        decision = decide(client, STRONG)
        sign_in(client, str(STRONG["user_id"]))
        html = page(client, "?lang=en")
    assert state(html) == "visible"
    offers = by_testid(html, "offer")
    assert [o.split('data-product="')[1].split('"')[0] for o in offers] == [
        o["product"] for o in decision["offers"]
    ]
    instalments = next(o for o in decision["offers"] if o["product"] == "instalments")
    plans = by_testid(html, "offer-plan")
    assert len(plans) == len(instalments["plans"]) == 3
    assert all(p["apr"] in html for p in instalments["plans"])
    lenders = {f["lender"] for o in decision["offers"] for f in o["funding"] if f["amount_cny"]}
    assert {
        f.split('data-lender="')[1].split('"')[0] for f in by_testid(html, "offer-funding")
    } == lenders


def test_replay_reproduces_a_family_decision_and_sees_a_changed_offer(tmp_path: Path) -> None:
    """``replay`` decides a stored decision again, offers included: identical as stored, and
    an offer changed in the log (a joint loan's funding) is a difference."""
    policy = tmp_path / "family.yaml"
    policy.write_text(family_text(), encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'r.db'}"
    settings = make_settings(url, snapshot_dir=str(tmp_path / "s"), policy_path=str(policy))
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        ids = [decide(client, p)["decision_id"] for p in PROFILES.values()]
        log = client.app.state.services.log  # type: ignore[attr-defined]
    runner = CliRunner()
    for decision_id in ids:
        result = runner.invoke(cli, ["replay", decision_id, "--db", url])
        assert result.exit_code == 0, result.output
    with log.engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE decisions SET decision = replace(decision, "
                '\'"lender":"partner_a"\', \'"lender":"partner_z"\') WHERE seq = 1'
            )
        )
    result = runner.invoke(cli, ["replay", ids[0], "--db", url])
    assert result.exit_code != 0


def test_a_product_not_offered_shows_its_own_steps(tmp_path: Path) -> None:
    low_spend = {**STRONG, "user_id": "u-low-spend", "monthly_spend_cny_6m": "600.00"}
    with family_client(tmp_path) as client:
        decision = decide(client, low_spend)
        sign_in(client, "u-low-spend")
        pages = {lang: page(client, f"?lang={lang}") for lang in ("en", "zh-CN")}
    assert decision["outcome"] == "invited"
    instalments = next(o for o in decision["offers"] if o["product"] == "instalments")
    assert instalments["status"] == "not_eligible" and instalments["recourse"]
    for lang, html in pages.items():
        assert state(html) == "visible"
        items = offer_items(html)
        assert by_testid(items["cash_loan"], "offer-step") == []
        steps = by_testid(items["instalments"], "offer-step")
        assert [s.split('data-field="')[1].split('"')[0] for s in steps] == [
            s["field"] for s in instalments["recourse"]
        ]
        assert all(s["message"][lang] in items["instalments"] for s in instalments["recourse"])


def test_a_refused_users_products_add_only_their_own_steps(tmp_path: Path) -> None:
    overdue = {
        **STRONG,
        "user_id": "u-overdue",
        "current_overdue_days": 3,
        "monthly_spend_cny_6m": "600.00",
    }
    with family_client(tmp_path) as client:
        decision = decide(client, overdue)
        sign_in(client, "u-overdue")
        html = page(client, "?lang=en")
    assert decision["outcome"] == "not_invited" and state(html) == "hidden"
    items = offer_items(html)
    shown = {s["field"] for s in decision["recourse"]}
    own = {
        o["product"]: [s["field"] for s in o["recourse"] if s["field"] not in shown]
        for o in decision["offers"]
    }
    assert own["instalments"] == ["monthly_spend_cny_6m"]
    assert set(items) == {p for p, fields in own.items() if fields}
    same = [s.split('data-product="')[1].split('"')[0] for s in by_testid(html, "offer-same")]
    assert same == [p for p, fields in own.items() if not fields]  # named once, in one list
    for product, fields in own.items():
        if product in same:
            continue
        steps = by_testid(items[product], "offer-step")
        assert [s.split('data-field="')[1].split('"')[0] for s in steps] == fields
        assert by_testid(items[product], "offer-reason") == []  # the reasons are above


def test_a_refusal_with_no_steps_lists_no_products(tmp_path: Path) -> None:
    """A fraud refusal says nothing of what to do, so no product is listed with steps."""
    flagged = {**STRONG, "user_id": "u-flagged", "blacklist_hit": True}
    with family_client(tmp_path) as client:
        decision = decide(client, flagged)
        sign_in(client, "u-flagged")
        html = page(client, "?lang=en")
    assert decision["outcome"] == "not_invited" and decision["recourse"] == []
    assert all(o["recourse"] == [] for o in decision["offers"])
    assert state(html) == "hidden" and by_testid(html, "offers") == []


def test_a_blocker_no_step_clears_is_said_once(tmp_path: Path) -> None:
    """Overdue and flagged: the decision's steps clear the overdue gates, but no step clears
    the fraud rule, so every product ends unreachable: one note, no product listed."""
    flagged = {**STRONG, "user_id": "u-flagged-overdue", "blacklist_hit": True}
    flagged["current_overdue_days"] = 3
    with family_client(tmp_path) as client:
        decision = decide(client, flagged)
        sign_in(client, "u-flagged-overdue")
        html = page(client, "?lang=en")
    assert decision["outcome"] == "not_invited" and decision["recourse"]
    assert all(o["recourse"][-1]["code"] == "PRODUCT_UNREACHABLE" for o in decision["offers"])
    assert len(by_testid(html, "offers-unreachable")) == 1
    assert by_testid(html, "offer") == [] and by_testid(html, "offer-same") == []
    assert by_testid(html, "offer-immutable-step") == []


def test_no_product_is_said_to_open_after_a_step_the_user_cannot_take(tmp_path: Path) -> None:
    """A county (closed) region: the products are not listed as opened by the steps above."""
    county = {**STRONG, "user_id": "u-county", **PROFILES["03_county_area"]}
    county["user_id"] = "u-county"
    with family_client(tmp_path) as client:
        decision = decide(client, county)
        sign_in(client, "u-county")
        html = page(client, "?lang=en")
    assert any(s["immutable"] for s in decision["recourse"])
    assert state(html) == "hidden" and by_testid(html, "offer-same") == []
