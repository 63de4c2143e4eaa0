"""The console's work in a real Chromium: an operator resolves a manual review and the user's
own page changes; a viewer sees no action; a challenger is proposed, approved by a second
admin and compared; two policy versions are diffed. Screenshots ``console-<page>-<lang>``."""

from __future__ import annotations

import json
from typing import Any

import httpx

from creditgate.batch.backends import duckdb_backend
from creditgate.batch.run import run_batch
from creditgate.decider import Decider
from creditgate.policy.loader import parse_policy

from .conftest import AS_OF, STAFF_TOKENS, Served
from .test_console_pages import sign_in
from .test_selfcheck_page import sign_in as user_sign_in
from .test_selfcheck_page import state as user_state


def sign_out(page: Any, served: Served) -> None:
    page.get_by_test_id("sign-out").click()
    assert page.url == served.url("/console/sign-in")


def store_decision(served: Served, user: str, **changes: Any) -> dict[str, Any]:
    live = served.services.state.snapshot
    assert live is not None and live.profiles is not None
    profile = live.profiles.get(user)
    assert profile is not None
    body = {
        "profile": json.loads(json.dumps({**profile, **changes}, default=str)),
        "as_of": AS_OF.isoformat(),
    }
    r = httpx.post(served.url("/v1/decisions"), json=body, headers=served.staff_headers("service"))
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_an_approved_manual_review_changes_the_users_page(
    served: Served, desk: Any, page: Any, save_screenshot: Any
) -> None:
    user = served.users.by_outcome["manual_review"]
    decided = store_decision(served, user)
    assert decided["outcome"] == "manual_review"
    user_sign_in(page, served, user)
    assert user_state(page) == "hidden"
    sign_in(desk, served, "viewer")  # a viewer reads the queue and has no action
    desk.get_by_test_id("nav-reviews").click()
    item = desk.locator(f'[data-testid="review"][data-decision="{decided["decision_id"]}"]')
    assert item.count() == 1
    assert item.get_by_test_id("claim").count() == 0 and item.get_by_test_id("resolve").count() == 0
    sign_out(desk, served)
    sign_in(desk, served, "operator")
    desk.get_by_test_id("nav-reviews").click()
    item = desk.locator(f'[data-testid="review"][data-decision="{decided["decision_id"]}"]')
    changing = [desk.locator("code"), desk.get_by_test_id("review-age")]
    save_screenshot(
        desk, "console-reviews-zh-CN", mask=[*changing, desk.get_by_test_id("review-decision")]
    )
    item.get_by_test_id("claim").click()
    assert desk.get_by_test_id("flash").get_attribute("data-flash") == "claimed"
    item = desk.locator(f'[data-testid="review"][data-decision="{decided["decision_id"]}"]')
    assert item.get_attribute("data-claimed-by") == "operator"
    item.get_by_test_id("resolution").select_option("approve")
    item.get_by_test_id("resolve").click()
    assert desk.get_by_test_id("flash").get_attribute("data-flash") == "resolved"
    page.reload()
    assert user_state(page) == "visible"  # the person's decision, on the user's own page
    codes = [
        page.get_by_test_id("notice").nth(i).get_attribute("data-code")
        for i in range(page.get_by_test_id("notice").count())
    ]
    assert "HUMAN_APPROVED" in codes


def test_a_challenger_is_proposed_approved_and_compared(
    served: Served, desk: Any, save_screenshot: Any
) -> None:
    """A second batch over the same population with another policy version is the
    challenger's snapshot; an operator proposes it on 20% of users, a second admin approves,
    and the experiment page compares the arms' decisions."""
    admin = served.staff_headers("admin")
    version = httpx.get(served.url("/v1/admin/policies"), headers=admin).json()[0]["version"]
    text = httpx.get(served.url(f"/v1/admin/policies/{version}"), headers=admin).json()["text"]
    challenger_text = text.replace(version, version + "-ch", 1).replace(
        "capacity_share: 0.15", "capacity_share: 0.12", 1
    )
    r = httpx.post(served.url("/v1/admin/policies"), json={"text": challenger_text}, headers=admin)
    assert r.status_code == 201, r.text
    snapshots = served.directory / "snapshots"
    regions = Decider().regions
    run_batch(
        duckdb_backend("1GB", 1),
        served.users_source,
        served.directory / "challenger-decisions.parquet",
        parse_policy(challenger_text, "<challenger>"),
        regions,
        AS_OF,
        snapshot=snapshots / "challenger.parquet",
    )
    r = httpx.post(
        served.url("/v1/admin/snapshots"), json={"path": "challenger.parquet"}, headers=admin
    )
    assert r.status_code == 201, r.text
    challenger_snapshot = r.json()["snapshot_id"]
    sign_in(desk, served, "operator")
    desk.get_by_test_id("nav-experiments").click()
    desk.get_by_test_id("challenger").select_option(challenger_snapshot)
    desk.get_by_test_id("share").fill("20")
    desk.get_by_test_id("propose-experiment").click()
    assert desk.url == served.url("/console/changes?flash=proposed")
    sign_out(desk, served)
    sign_in(desk, served, "admin2")  # four eyes: not the proposer
    desk.get_by_test_id("nav-changes").click()
    change = desk.locator('[data-testid="change"][data-kind="experiment_start"]')
    change.get_by_test_id("approve").click()
    assert desk.get_by_test_id("flash").get_attribute("data-flash") == "approved"
    users = sorted(served.users.batch)[:60]
    for user in users:
        store_decision(served, user)
    desk.get_by_test_id("nav-experiments").click()
    desk.locator('[data-testid="experiment-row"][data-status="running"] a').click()
    arms = {
        desk.get_by_test_id("arm").nth(i).get_attribute("data-arm"): int(
            desk.get_by_test_id("arm").nth(i).get_attribute("data-decisions") or 0
        )
        for i in range(2)
    }
    assert sum(arms.values()) == len(users) and arms["challenger"] > 0
    save_screenshot(
        desk,
        "console-experiment-zh-CN",
        mask=[desk.locator("code"), desk.get_by_test_id("experiment-facts")],
    )
    desk.get_by_test_id("stop-experiment").click()  # proposed: another admin approves it
    assert desk.url == served.url("/console/changes?flash=proposed")
    sign_out(desk, served)
    sign_in(desk, served, "admin")
    desk.get_by_test_id("nav-changes").click()
    desk.locator('[data-testid="change"][data-kind="experiment_stop"]').get_by_test_id(
        "approve"
    ).click()
    assert desk.get_by_test_id("flash").get_attribute("data-flash") == "approved"


def test_two_policy_versions_are_diffed(served: Served, desk: Any, save_screenshot: Any) -> None:
    admin = served.staff_headers("admin")
    version = httpx.get(served.url("/v1/admin/policies"), headers=admin).json()[0]["version"]
    text = httpx.get(served.url(f"/v1/admin/policies/{version}"), headers=admin).json()["text"]
    changed = text.replace(version, version + "-d", 1).replace("review_band: 5", "review_band: 8")
    r = httpx.post(served.url("/v1/admin/policies"), json={"text": changed}, headers=admin)
    assert r.status_code == 201, r.text
    sign_in(desk, served, "viewer")
    desk.get_by_test_id("nav-policies").click()
    assert desk.get_by_test_id("propose").count() == 0  # a viewer proposes nothing
    desk.locator("#diff-a").select_option(version)
    desk.locator("#diff-b").select_option(version + "-d")
    desk.get_by_test_id("diff").click()
    lines = [
        desk.get_by_test_id("diff-line").nth(i).inner_text()
        for i in range(desk.get_by_test_id("diff-line").count())
    ]
    assert any(line.startswith("-") and "review_band: 5" in line for line in lines)
    assert any(line.startswith("+") and "review_band: 8" in line for line in lines)
    save_screenshot(desk, "console-diff-zh-CN")
    assert STAFF_TOKENS["viewer"] not in desk.url
