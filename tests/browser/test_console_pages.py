"""The operator console in a real Chromium on a 1280 px desktop: sign in with a staff token
typed into the form, the overview's figures equal the seeded batch run's report, a decision
with its replay, sign-out, and a forged form refused. Screenshots ``console-<page>-<lang>``."""

from __future__ import annotations

import json
from typing import Any

import httpx

from creditgate.snapshot import read_meta

from .conftest import STAFF_TOKENS, Served


def sign_in(page: Any, served: Served, name: str) -> None:
    page.goto(served.url("/console"))
    assert page.url == served.url("/console/sign-in")
    page.get_by_test_id("token").fill(STAFF_TOKENS[name])
    page.get_by_test_id("sign-in").click()
    assert page.url == served.url("/console")
    assert STAFF_TOKENS[name] not in page.url


def report_of(served: Served) -> dict[str, Any]:
    snapshot = served.directory / "snapshots"
    live = served.services.state.snapshot
    assert live is not None
    meta = read_meta(next(snapshot.glob(f"{live.snapshot_id}.parquet")))
    assert meta.report is not None
    return dict(json.loads((snapshot / meta.report["name"]).read_text(encoding="utf-8")))


def test_sign_in_overview_equals_the_run_report_and_sign_out(
    served: Served, desk: Any, save_screenshot: Any
) -> None:
    desk.goto(served.url("/console/sign-in"))
    save_screenshot(desk, "console-sign-in-zh-CN")
    sign_in(desk, served, "viewer")
    report = report_of(served)
    assert desk.get_by_test_id("who").get_attribute("data-role") == "viewer"
    assert desk.get_by_test_id("kpi-invited").inner_text() == f"{report['invited']:,}"
    assert desk.get_by_test_id("kpi-share").get_attribute("data-value") == report["invited_share"]
    rows = desk.get_by_test_id("funnel-row")
    assert rows.count() == len(report["funnel"])
    for i, step in enumerate(report["funnel"]):
        row = rows.nth(i)
        assert row.get_attribute("data-code") == step["code"]
        assert int(row.get_attribute("data-first") or -1) == step["first"]
        assert int(row.get_attribute("data-any") or -1) == step["any"]
    regions = desk.get_by_test_id("region-row")
    assert regions.count() == len(report["by_region"])
    cutoffs = {(r["region_class"], r["city"] or ""): r["cutoff"] for r in report["by_region"]}
    for i in range(0, regions.count(), 25):  # a sample: every 25th row
        row = regions.nth(i)
        key = (row.get_attribute("data-class"), row.get_attribute("data-city"))
        shown = row.get_attribute("data-cutoff")
        assert (int(shown) if shown else None) == cutoffs[key]
    mask = [desk.get_by_test_id("snapshot-id")]
    save_screenshot(desk, "console-overview-zh-CN", mask=mask)
    desk.goto(served.url("/console?lang=en"))
    save_screenshot(desk, "console-overview-en", mask=mask)
    desk.goto(served.url("/console?lang=zh-CN"))
    for name in ("policies", "changes", "audit"):  # a viewer's read-only pages
        desk.get_by_test_id(f"nav-{name}").click()
        assert desk.get_by_test_id("propose").count() == 0
        save_screenshot(desk, f"console-{name}-zh-CN", mask=[desk.locator("code")])
    desk.get_by_test_id("sign-out").click()
    assert desk.url == served.url("/console/sign-in")
    desk.goto(served.url("/console"))
    assert desk.url == served.url("/console/sign-in")


def test_a_decision_with_its_replay(served: Served, desk: Any, save_screenshot: Any) -> None:
    user = served.users.by_reason["PAY_SCORE_LOW"]
    row = served.users.batch[user]
    assert row["outcome"] == "not_invited"
    profile = served.services.state.snapshot.profiles.get(user)  # type: ignore[union-attr]
    assert profile is not None
    body = {"profile": json.loads(json.dumps(profile, default=str)), "as_of": "2025-06-30"}
    r = httpx.post(served.url("/v1/decisions"), json=body, headers=served.staff_headers("service"))
    assert r.status_code == 200, r.text
    decision_id = r.json()["decision_id"]
    sign_in(desk, served, "operator")
    desk.get_by_test_id("find-id").fill(decision_id)
    desk.get_by_test_id("find-id").press("Enter")
    assert desk.url == served.url(f"/console/decisions/{decision_id}")
    assert desk.get_by_test_id("replay").get_attribute("data-status") == "identical"
    codes = [
        desk.get_by_test_id("decision-reason").nth(i).get_attribute("data-code")
        for i in range(desk.get_by_test_id("decision-reason").count())
    ]
    assert codes == list(row["reason_codes"])
    save_screenshot(desk, "console-decision-zh-CN", mask=[desk.get_by_test_id("decision-id")])


def test_a_forged_form_is_refused(served: Served, desk: Any) -> None:
    """A page of another origin cannot post the console's forms: without the session's CSRF
    token the sign-out is refused (403) and the session stays."""
    sign_in(desk, served, "viewer")
    desk.evaluate(  # a form built without the token, as a forged page would send it
        """() => { const f = document.createElement('form'); f.method = 'post';
        f.action = '/console/sign-out'; document.body.appendChild(f); f.submit(); }"""
    )
    desk.wait_for_load_state()
    assert desk.get_by_test_id("refused").get_attribute("data-kind") == "csrf"
    desk.goto(served.url("/console"))
    assert desk.url == served.url("/console")
