"""The operator console's server side (the browser tests drive the same pages in Chromium):
sign-in with a staff token and a double-submit CSRF, the session cookie's flags, idle
timeout and removal of a token, sign-out, the overview's figures equal to the batch run's
report, a decision with its replay, and a report that changed is refused."""

from __future__ import annotations

import json
import re
import time
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from test_api import STRONG, decide
from typer.testing import CliRunner

from conftest import SECRET, TOKENS, approved, auth, make_settings
from creditgate.batch.backends import duckdb_backend
from creditgate.batch.run import run_batch
from creditgate.cli.main import app as cli
from creditgate.decider import Decider
from creditgate.population.synth import write_parquet
from creditgate.service.app import create_app
from creditgate.service.console import session
from creditgate.service.security import Principal
from creditgate.snapshot import read_meta

AS_OF = date(2025, 6, 30)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None, html[:500]
    return found.group(1)


def sign_in(client: TestClient, name: str = "viewer") -> None:
    form = client.get("/console/sign-in")
    assert form.status_code == 200
    done = client.post(
        "/console/sign-in",
        data={"csrf": csrf_of(form.text), "token": TOKENS[name]},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == "/console", done.text


@pytest.fixture(scope="module")
def batch_snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 3,000-user batch with its snapshot, profiles and run report beside it."""
    tmp = tmp_path_factory.mktemp("console") / "snapshots"
    source = tmp.parent / "users.parquet"
    write_parquet(source, 3_000, seed=4, as_of=AS_OF, chunk_size=5_000)
    decider = Decider()
    run_batch(
        duckdb_backend("1GB", 2),
        source,
        tmp.parent / "decisions.parquet",
        decider.policy,
        decider.regions,
        AS_OF,
        snapshot=tmp / "snapshot.parquet",
    )
    return tmp / "snapshot.parquet"


@pytest.fixture
def console(db_url: str, batch_snapshot: Path) -> TestClient:
    settings = make_settings(db_url, snapshot_dir=str(batch_snapshot.parent))
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        yield c


def activate(client: TestClient, path: Path) -> str:
    r = client.post("/v1/admin/snapshots", json={"path": path.name}, headers=auth("operator"))
    assert r.status_code == 201, r.text
    sid: str = r.json()["snapshot_id"]
    approved(client, client.post(f"/v1/admin/snapshots/{sid}/activate", headers=auth("operator")))
    return sid


def test_pages_need_a_session_and_a_token_never_in_a_url(console: TestClient) -> None:
    for path in ("/console", "/console/audit", "/console/decisions/d_x"):
        r = console.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/console/sign-in"
    sign_in(console)
    page = console.get("/console")
    assert page.status_code == 200 and 'data-role="viewer"' in page.text
    assert TOKENS["viewer"] not in page.text
    assert all(TOKENS["viewer"] not in str(h) for h in page.history)


def test_the_session_cookie_is_httponly_strict_and_scoped(console: TestClient) -> None:
    form = console.get("/console/sign-in")
    pre = form.headers["set-cookie"]
    assert "cg_console_pre=" in pre and "HttpOnly" in pre and "SameSite=strict" in pre
    done = console.post(
        "/console/sign-in",
        data={"csrf": csrf_of(form.text), "token": TOKENS["operator"]},
        follow_redirects=False,
    )
    cookie = next(c for c in done.headers.get_list("set-cookie") if c.startswith("cg_console="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie
    assert TOKENS["operator"] not in cookie


@pytest.mark.parametrize(
    ("token", "csrf", "status", "error"),
    [
        ("viewer-token-123", "wrong", 403, "csrf"),
        ("not-a-token-at-all", None, 401, "refused"),
        ("svc-token-123", None, 401, "refused"),  # a machine's token is not a person's
    ],
    ids=["csrf", "unknown", "service-role"],
)
def test_sign_in_refusals(
    console: TestClient, token: str, csrf: str | None, status: int, error: str
) -> None:
    form = console.get("/console/sign-in")
    sent = csrf if csrf is not None else csrf_of(form.text)
    r = console.post("/console/sign-in", data={"csrf": sent, "token": token})
    assert r.status_code == status and f'data-error="{error}"' in r.text
    assert "cg_console=" not in r.headers.get("set-cookie", "")
    assert console.get("/console", follow_redirects=False).status_code == 303


def test_sign_in_without_the_pre_session_cookie_is_refused(console: TestClient) -> None:
    form = console.get("/console/sign-in")
    console.cookies.clear()
    r = console.post(
        "/console/sign-in", data={"csrf": csrf_of(form.text), "token": TOKENS["admin"]}
    )
    assert r.status_code == 403 and 'data-error="csrf"' in r.text


def test_sign_out_needs_the_csrf_token_and_ends_the_session(console: TestClient) -> None:
    sign_in(console)
    page = console.get("/console")
    r = console.post("/console/sign-out", data={"csrf": "forged"}, follow_redirects=False)
    assert r.status_code == 403 and 'data-kind="csrf"' in r.text
    assert console.get("/console", follow_redirects=False).status_code == 200
    r = console.post("/console/sign-out", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console/sign-in"
    assert console.get("/console", follow_redirects=False).status_code == 303


def test_an_idle_session_and_a_removed_token_end(console: TestClient) -> None:
    staff = {t: Principal(r, n) for n, t, r in (("viewer", "viewer-token-123", "viewer"),)}
    key = SECRET.encode()
    idle = session.open_session(key, Principal("viewer", "viewer"), now=time.time() - 16 * 60)
    assert session.read_session((key,), idle, staff, 15 * 60, 8 * 3600) is None
    fresh = session.open_session(key, Principal("viewer", "viewer"))
    assert session.read_session((key,), fresh, staff, 15 * 60, 8 * 3600) is not None
    assert session.read_session((key,), fresh, {}, 15 * 60, 8 * 3600) is None  # token removed
    old = session.open_session(key, Principal("viewer", "viewer"), now=time.time() - 9 * 3600)
    renewed = session.renewed(key, session.read_session((key,), old, staff, 10**9, 10**9)[0])
    assert session.read_session((key,), renewed, staff, 15 * 60, 8 * 3600) is None  # lifetime
    console.cookies.set(session.COOKIE, idle, path="/console")
    assert console.get("/console", follow_redirects=False).status_code == 303


def test_the_overview_shows_the_batch_runs_own_figures(
    console: TestClient, batch_snapshot: Path
) -> None:
    sid = activate(console, batch_snapshot)
    meta = read_meta(batch_snapshot)
    assert meta.report is not None
    report = json.loads((batch_snapshot.parent / meta.report["name"]).read_text(encoding="utf-8"))
    sign_in(console)
    html = console.get("/console").text
    assert f'data-testid="snapshot-id">{sid}<' in html
    assert f'data-testid="kpi-invited">{report["invited"]:,}<' in html
    assert f'data-value="{report["invited_share"]}"' in html
    rows = re.findall(r'data-code="([A-Z_]+)" data-first="(\d+)" data-any="(\d+)"', html)
    assert rows == [(s["code"], str(s["first"]), str(s["any"])) for s in report["funnel"]]
    cities = re.findall(r'data-testid="region-row" data-class="(\w+)" data-city="([^"]*)"', html)
    assert len(cities) == len(report["by_region"]) > 0
    assert html.count("<svg") == 3


def test_a_changed_report_is_refused_at_registration_and_not_shown(
    console: TestClient, batch_snapshot: Path, tmp_path: Path
) -> None:
    meta = read_meta(batch_snapshot)
    assert meta.report is not None
    path = batch_snapshot.parent / meta.report["name"]
    original = path.read_bytes()
    try:
        path.write_bytes(original.replace(b'"invited"', b'"invited" ', 1))
        r = console.post(
            "/v1/admin/snapshots", json={"path": batch_snapshot.name}, headers=auth("operator")
        )
        assert r.status_code in (409, 422), r.text
    finally:
        path.write_bytes(original)


def test_a_decision_page_shows_its_replay_and_operator_only_fraud_detail(
    console: TestClient,
) -> None:
    ok = decide(console, STRONG)
    fraud = decide(console, STRONG | {"user_id": "u-fraud", "blacklist_hit": True})
    sign_in(console, "operator")
    page = console.get(f"/console/decisions/{ok['decision_id']}")
    assert page.status_code == 200
    assert 'data-testid="replay" data-status="identical"' in page.text
    page = console.get(f"/console/decisions/{fraud['decision_id']}")
    assert 'data-code="FRAUD_SUSPECTED"' in page.text and 'data-testid="fraud-rules"' in page.text
    assert "blacklist" in page.text
    assert console.get("/console/decisions/d_nothing").status_code == 404
    found = console.get(
        "/console/decisions", params={"id": ok["decision_id"]}, follow_redirects=False
    )
    assert found.headers["location"] == f"/console/decisions/{ok['decision_id']}"


def test_the_audit_page_walks_the_chain(console: TestClient) -> None:
    decide(console, STRONG)
    sign_in(console)
    page = console.get("/console/audit")
    assert 'data-ok="true"' in page.text and 'data-checked="1"' in page.text


def upload_variant(client: TestClient, suffix: str, change: tuple[str, str]) -> str:
    """Store a new version of the active policy with one line changed; returns its version."""
    version = client.get("/v1/admin/policies", headers=auth("viewer")).json()[0]["version"]
    text = client.get(f"/v1/admin/policies/{version}", headers=auth("viewer")).json()["text"]
    assert change[0] in text
    new_text = text.replace(version, version + suffix, 1).replace(change[0], change[1], 1)
    r = client.post("/v1/admin/policies", json={"text": new_text}, headers=auth("operator"))
    assert r.status_code == 201, r.text
    return version + suffix


def test_a_viewer_sees_no_action_and_is_refused_one(console: TestClient) -> None:
    new = upload_variant(console, "-b", ("capacity_share: 0.15", "capacity_share: 0.14"))
    sign_in(console, "viewer")
    page = console.get("/console/policies")
    assert f'data-version="{new}"' in page.text and 'data-testid="propose"' not in page.text
    r = console.post(f"/console/policies/{new}/propose", data={"csrf": csrf_of(page.text)})
    assert r.status_code == 403 and 'data-kind="role"' in r.text
    assert console.app.state.services.changes.list("proposed", 10) == []  # type: ignore[attr-defined]


def test_propose_then_another_admin_approves_and_it_goes_live(console: TestClient) -> None:
    new = upload_variant(console, "-c", ("capacity_share: 0.15", "capacity_share: 0.14"))
    sign_in(console, "operator")
    page = console.get("/console/policies")
    assert 'data-testid="propose"' in page.text
    r = console.post(
        f"/console/policies/{new}/propose",
        data={"csrf": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/console/changes?flash=proposed"
    changes = console.get("/console/changes")
    assert f'data-target="{new}"' in changes.text
    assert 'data-testid="reject"' in changes.text and 'data-testid="approve"' not in changes.text
    change_id = re.search(r'data-change="([^"]+)"', changes.text).group(1)  # type: ignore[union-attr]
    r = console.post(
        f"/console/changes/{change_id}/approve",
        data={"csrf": csrf_of(changes.text)},
    )
    assert r.status_code == 403 and 'data-kind="role"' in r.text  # an operator cannot approve
    console.cookies.clear()
    sign_in(console, "admin")
    changes = console.get("/console/changes")
    assert 'data-testid="approve"' in changes.text
    r = console.post(
        f"/console/changes/{change_id}/approve",
        data={"csrf": csrf_of(changes.text), "note": "checked the capacity"},
        follow_redirects=False,
    )
    assert r.headers["location"] == "/console/changes?flash=approved"
    assert console.get("/v1/admin/policies", headers=auth("viewer")).json()[-1]["active"] is True
    assert f'data-testid="policy-version">{new}<' in console.get("/console").text


def test_an_admin_cannot_approve_their_own_proposal(console: TestClient) -> None:
    new = upload_variant(console, "-d", ("capacity_share: 0.15", "capacity_share: 0.13"))
    sign_in(console, "admin")
    page = console.get("/console/policies")
    console.post(f"/console/policies/{new}/propose", data={"csrf": csrf_of(page.text)})
    changes = console.get("/console/changes")
    assert (
        'data-testid="own-change"' in changes.text and 'data-testid="approve"' not in changes.text
    )
    change_id = re.search(r'data-change="([^"]+)"', changes.text).group(1)  # type: ignore[union-attr]
    r = console.post(
        f"/console/changes/{change_id}/approve",
        data={"csrf": csrf_of(changes.text)},
        follow_redirects=False,
    )
    assert r.headers["location"] == "/console/changes?flash=own"
    assert console.app.state.services.changes.get(change_id)["status"] == "proposed"  # type: ignore[attr-defined]


def test_the_diff_of_two_versions(console: TestClient) -> None:
    new = upload_variant(console, "-e", ("capacity_share: 0.15", "capacity_share: 0.12"))
    old = new.removesuffix("-e")
    sign_in(console)
    page = console.get("/console/policies/diff", params={"a": old, "b": new})
    assert page.status_code == 200
    assert '<span class="del" data-testid="diff-line">-capacity_share: 0.15' in page.text
    assert '<span class="add" data-testid="diff-line">+capacity_share: 0.12' in page.text
    assert console.get("/console/policies/diff", params={"a": old, "b": "nope"}).status_code == 404
    lint = console.get(f"/console/policies/{new}")
    assert 'data-testid="lint" data-errors="0"' in lint.text


def test_a_background_comparison_equals_the_cli_over_the_same_users(
    console: TestClient, batch_snapshot: Path, tmp_path: Path
) -> None:
    """The console compares a version with the live one over the active snapshot's decided
    profiles; its swap set equals ``creditgate compare`` over the batch's own input."""
    activate(console, batch_snapshot)
    new = upload_variant(console, "-f", ("capacity_share: 0.15", "capacity_share: 0.10"))
    sign_in(console, "operator")
    page = console.get("/console/policies")
    r = console.post(
        f"/console/policies/{new}/compare",
        data={"csrf": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"].startswith("/console/jobs/")
    job_url = r.headers["location"]
    deadline = time.time() + 120
    while 'data-state="running"' in (html := console.get(job_url).text):
        assert 'http-equiv="refresh"' in html
        assert time.time() < deadline, "the comparison did not finish"
        time.sleep(0.5)
    assert 'data-state="done"' in html, html[:2000]
    cells = {
        (a, b): int(n)
        for a, b, n in re.findall(
            r'data-champion="(\w+)" data-challenger="(\w+)" data-users="(\d+)"', html
        )
    }
    texts = {}
    for version, name in ((new.removesuffix("-f"), "a"), (new, "b")):
        body = console.get(f"/v1/admin/policies/{version}", headers=auth("viewer")).json()
        (tmp_path / f"{name}.yaml").write_text(body["text"], encoding="utf-8")
        texts[name] = tmp_path / f"{name}.yaml"
    done = CliRunner().invoke(
        cli,
        [
            "compare", str(texts["a"]), str(texts["b"]),
            "--population", str(batch_snapshot.parent.parent / "users.parquet"),
            "--out", str(tmp_path / "cmp"), "--as-of", AS_OF.isoformat(),
        ],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    expected = json.loads((tmp_path / "cmp" / "compare.json").read_text(encoding="utf-8"))
    assert cells == {(c["champion"], c["challenger"]): c["users"] for c in expected["swap_set"]}
    assert cells[("in", "out")] > 0  # a smaller capacity moves users out
    report = console.get(f"{job_url}/compare.html")
    assert (
        report.status_code == 200 and "script-src" not in report.headers["content-security-policy"]
    )
