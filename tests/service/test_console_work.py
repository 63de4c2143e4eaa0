"""The console's review queue and experiments pages (server side; the browser tests drive
the same forms): a manual review appears with its reasons, is claimed and resolved from the
page, and the user's entry follows; a viewer sees no action and is refused one; an experiment
is proposed from the page, approved under changes, and its arms are compared."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from fastapi.testclient import TestClient
from test_api import decide, services
from test_console import csrf_of, sign_in
from test_experiments import CANDIDATES, setup
from test_logs import Captured
from test_review_work import DEVICE

from conftest import auth


def entry(client: TestClient, user: str) -> bool:
    r = client.get(f"/v1/users/{user}/entry", headers=auth("service"))
    return bool(r.json()["entry_visible"])


def test_a_manual_review_is_claimed_and_approved_from_the_queue(client: TestClient) -> None:
    decided = decide(client, DEVICE)
    assert decided["outcome"] == "manual_review" and not entry(client, DEVICE["user_id"])
    sign_in(client, "operator")
    page = client.get("/console/reviews")
    assert (
        'data-kind="manual_review"' in page.text
        and f'data-decision="{decided["decision_id"]}"' in page.text
    )
    assert 'data-testid="queue-summary" data-open="1"' in page.text
    assert "FRAUD_SUSPECTED" in page.text and "shared_device" in page.text  # operators see it
    review_id = re.search(r'data-review="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    r = client.post(
        f"/console/reviews/{review_id}/claim",
        data={"csrf": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert r.headers["location"] == "/console/reviews?flash=claimed"
    page = client.get("/console/reviews")
    assert 'data-claimed-by="operator"' in page.text and 'data-testid="release"' in page.text
    r = client.post(
        f"/console/reviews/{review_id}/resolve",
        data={
            "csrf": csrf_of(page.text),
            "resolution": "approve",
            "note": "device shared by family",
        },
        follow_redirects=False,
    )
    assert r.headers["location"] == "/console/reviews?flash=resolved"
    assert entry(client, DEVICE["user_id"])  # the user's entry follows at once
    assert 'data-open="0"' in client.get("/console/reviews").text


def test_another_operators_claim_is_respected(client: TestClient) -> None:
    decide(client, DEVICE)
    review_id = client.get("/v1/admin/reviews", headers=auth("viewer")).json()[0]["review_id"]
    r = client.post(f"/v1/admin/reviews/{review_id}/claim", headers=auth("admin"))
    assert r.status_code == 200, r.text
    sign_in(client, "operator")
    page = client.get("/console/reviews")
    assert 'data-claimed-by="admin"' in page.text
    assert 'data-testid="claim"' not in page.text and 'data-testid="resolve"' not in page.text
    r = client.post(
        f"/console/reviews/{review_id}/resolve",
        data={"csrf": csrf_of(page.text), "resolution": "decline"},
        follow_redirects=False,
    )
    assert r.headers["location"] == "/console/reviews?flash=conflict"
    assert client.get("/v1/admin/reviews", headers=auth("viewer")).json()[0]["status"] == "open"


def test_a_console_act_is_one_trail_line_that_says_where_it_came_from(
    client: TestClient,
) -> None:
    """The service function writes the act's line; the console adds ``via``, not a second
    line, and the mark stays with the console's request (the next API act has none)."""
    decide(client, DEVICE)
    sign_in(client, "operator")
    page = client.get("/console/reviews")
    review_id = re.search(r'data-review="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    captured, root = Captured(), logging.getLogger()
    root.addHandler(captured)
    try:
        client.post(
            f"/console/reviews/{review_id}/claim",
            data={"csrf": csrf_of(page.text)},
            follow_redirects=False,
        )
        r = client.post(f"/v1/admin/reviews/{review_id}/release", headers=auth("operator"))
        assert r.status_code == 200, r.text
    finally:
        root.removeHandler(captured)
    trail = [
        {k: line.get(k) for k in ("action", "actor", "subject", "via")}
        for line in captured.named("creditgate.admin")
    ]
    assert trail == [
        {"action": "review.claim", "actor": "operator", "subject": review_id, "via": "console"},
        {"action": "review.release", "actor": "operator", "subject": review_id, "via": None},
    ]


def test_a_viewer_reads_the_queue_but_cannot_act(client: TestClient) -> None:
    decide(client, DEVICE)
    sign_in(client, "viewer")
    page = client.get("/console/reviews")
    assert 'data-testid="review"' in page.text
    assert 'data-testid="claim"' not in page.text and 'data-testid="resolve"' not in page.text
    review_id = re.search(r'data-review="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    r = client.post(
        f"/console/reviews/{review_id}/resolve",
        data={"csrf": csrf_of(page.text), "resolution": "approve"},
    )
    assert r.status_code == 403 and 'data-kind="role"' in r.text
    assert not entry(client, DEVICE["user_id"])


def test_an_experiment_is_proposed_approved_and_compared(
    client: TestClient, tmp_path: Path
) -> None:
    challenger, _, chall = setup(client, tmp_path)
    sign_in(client, "operator")
    page = client.get("/console/experiments")
    assert f'value="{chall}"' in page.text
    r = client.post(
        "/console/experiments",
        data={"csrf": csrf_of(page.text), "snapshot_id": chall, "share_percent": "30"},
        follow_redirects=False,
    )
    assert r.headers["location"] == "/console/changes?flash=proposed"
    changes = client.get("/console/changes")
    assert 'data-kind="experiment_start"' in changes.text
    change_id = re.search(r'data-change="([^"]+)"', changes.text).group(1)  # type: ignore[union-attr]
    client.cookies.clear()
    sign_in(client, "admin")
    changes = client.get("/console/changes")
    r = client.post(
        f"/console/changes/{change_id}/approve",
        data={"csrf": csrf_of(changes.text)},
        follow_redirects=False,
    )
    assert r.headers["location"] == "/console/changes?flash=approved"
    invited: dict[str, set[str]] = {"champion": set(), "challenger": set()}
    for user in CANDIDATES[:40]:
        d = decide(client, {**DEVICE, "user_id": user, "accounts_on_device": 1})
        if d["outcome"] == "invited":
            invited[d["experiment"]["arm"]].add(user)
    listing = client.get("/console/experiments")
    experiment_id = re.search(
        r'data-experiment="([^"]+)" data-status="running"', listing.text
    ).group(1)  # type: ignore[union-attr]
    page = client.get(f"/console/experiments/{experiment_id}")
    arms = dict(re.findall(r'data-arm="(\w+)" data-decisions="(\d+)"', page.text))
    assert int(arms["champion"]) + int(arms["challenger"]) == 40 and int(arms["challenger"]) > 0
    assert challenger in page.text and 'data-testid="stop-experiment"' in page.text
    defaulted = {u: int(i % 3 == 0) for i, u in enumerate(CANDIDATES)}
    lines = ["user_id,defaulted", *(f"{u},{d}" for u, d in defaulted.items())]
    (tmp_path / "snapshots" / "outcomes.csv").write_text("\n".join(lines) + "\n")
    page = client.get(
        f"/console/experiments/{experiment_id}", params={"performance": "outcomes.csv"}
    )
    rows = re.findall(r'data-arm="(\w+)" data-defaulted="(\d+)" data-known="(\d+)"', page.text)
    assert {arm: (int(d), int(k)) for arm, d, k in rows} == {
        arm: (sum(defaulted[u] for u in users), len(users)) for arm, users in invited.items()
    }
    both = all(invited.values())
    assert ('data-testid="bad-rate-difference"' in page.text) == both
    assert ('data-testid="no-difference"' in page.text) == (not both)
    bad = client.get(f"/console/experiments/{experiment_id}", params={"performance": "../x.csv"})
    assert 'data-testid="performance-problem"' in bad.text
    assert services(client).log is not None
