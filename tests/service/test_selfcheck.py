"""The self-check page at ``/`` (TestClient): sign-in links, the answer in both languages,
"what if", human review, disputes, consent withdrawal, CSRF, isolation between users."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from selfcheck_helpers import by_testid, csrf, link, page, post, sign_in, state
from test_api import PROFILES, STRONG, decide, services

from conftest import SECRET, auth, make_settings
from creditgate.service.app import create_app
from creditgate.service.security import issue_user_token
from creditgate.store.repo import verify

PAY599 = PROFILES["02_pay_score_599"]
COUNTY = PROFILES["03_county_area"]
DEVICE = PROFILES["10_shared_device"]


def fresh(db_url: str, tmp_path: Path, **overrides: object) -> TestClient:
    settings = make_settings(db_url, snapshot_dir=str(tmp_path / "snapshots"), **overrides)
    return TestClient(create_app(settings), raise_server_exceptions=False)


# sign-in links ---------------------------------------------------------------------------


def test_link_becomes_a_session_cookie_and_leaves_the_address(client: TestClient) -> None:
    decide(client, PAY599)
    r = sign_in(client, PAY599["user_id"])
    assert r.headers["location"] == "/"
    cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith("cg_session="))
    flags = [f.strip().lower() for f in cookie.split(";")[1:]]
    assert {"httponly", "path=/", "samesite=lax"} <= set(flags), cookie
    assert "secure" not in flags  # plain http here; https below
    assert any(f.startswith("max-age=") and 0 < int(f[8:]) <= 1800 for f in flags)
    assert state(page(client)) == "hidden"


def test_session_cookie_is_secure_over_https(tmp_path: Path) -> None:
    with fresh(f"sqlite:///{tmp_path}/x.db", tmp_path) as c:
        c.base_url = c.base_url.copy_with(scheme="https")  # type: ignore[assignment]
        r = c.get(f"/?t={link('someone')}", follow_redirects=False)
        assert r.status_code == 303
        cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith("cg_session="))
        assert "secure" in cookie.lower()


def test_a_link_works_once(client: TestClient) -> None:
    token = link("someone")
    assert client.get(f"/?t={token}", follow_redirects=False).status_code == 303
    client.cookies.clear()
    again = client.get(f"/?t={token}", follow_redirects=False)
    assert again.status_code == 403 and "cg_session" not in again.headers.get("set-cookie", "")
    assert by_testid(again.text, "notice") and 'data-kind="link"' in again.text
    assert "此链接已失效" in again.text and "This link no longer works" in again.text  # both


def test_expired_forged_and_wrong_kind_links_are_refused(client: TestClient) -> None:
    expired = link("someone", ttl_s=60, now=time.time() - 120)
    forged = link("someone")[:-3] + "AAA"
    api_token = issue_user_token(SECRET.encode(), "someone", 600)
    for bad in (expired, forged, api_token, "nonsense", ""):
        r = client.get("/", params={"t": bad}, follow_redirects=False)
        assert r.status_code == 403, bad
        assert "set-cookie" not in r.headers or "cg_session" not in r.headers["set-cookie"]
        assert "Traceback" not in r.text
    # a link is not an API bearer token
    r = client.get(
        "/v1/users/someone/entry", headers={"Authorization": f"Bearer {link('someone')}"}
    )
    assert r.status_code == 401


def test_a_revoked_link_neither_opens_nor_keeps_a_session(client: TestClient) -> None:
    unused, used = link("someone"), link("someone")
    sign_in_r = client.get(f"/?t={used}", follow_redirects=False)
    assert sign_in_r.status_code == 303 and state(page(client)) == "none"
    for token in (unused, used):
        link_id = token.split(".")[2]
        r = client.post(
            "/v1/admin/tokens/revoke", json={"token_id": link_id}, headers=auth("admin")
        )
        assert r.status_code == 200, r.text
    assert client.get("/").status_code == 401  # the session opened by the revoked link ends
    client.cookies.clear()
    assert client.get(f"/?t={unused}", follow_redirects=False).status_code == 403


def test_no_session_asks_to_open_the_page_from_the_app(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 401 and 'data-kind="signin"' in r.text
    assert client.post("/self-check/review", data={"csrf": "x"}).status_code == 401


# the answer ------------------------------------------------------------------------------


def test_refused_user_sees_reasons_recourse_and_alternatives_in_both_languages(
    client: TestClient,
) -> None:
    decision = decide(client, PAY599)
    sign_in(client, PAY599["user_id"])
    html = page(client)
    assert state(html) == "hidden" and '<html lang="zh-CN">' in html
    [reason] = decision["reasons"]
    assert reason["message"]["zh-CN"] in html and reason["message"]["en"] not in html
    assert 'data-code="PAY_SCORE_LOW"' in by_testid(html, "reason")[0]
    [step] = decision["recourse"]
    assert step["message"]["zh-CN"] in by_testid(html, "recourse-step")[0]
    # named lenders have cards of their own (with a consent form), the rest a line each
    shown = by_testid(html, "alternative") + by_testid(html, "lender")
    assert len(shown) == len(decision["alternatives"])
    assert decision["as_of"] in by_testid(html, "as-of")[0]
    english = client.get("/?lang=en")
    assert "cg_lang=en" in english.headers["set-cookie"]
    assert '<html lang="en">' in english.text and reason["message"]["en"] in english.text
    assert step["message"]["en"] in english.text
    assert '<html lang="en">' in page(client)  # the choice persists
    assert '<html lang="zh-CN">' in page(client, "?lang=zh-CN")
    assert "POST /v1/reviews" not in english.text  # no API path in what the user reads


def test_invited_user_sees_the_entry_and_where_it_is(client: TestClient) -> None:
    assert decide(client, STRONG)["entry_visible"]
    sign_in(client, STRONG["user_id"])
    html = page(client)
    assert state(html) == "visible" and by_testid(html, "entry-where")
    assert not by_testid(html, "reason") and not by_testid(html, "alternative")


def test_cannot_change_steps_are_said_honestly(client: TestClient) -> None:
    decision = decide(client, COUNTY)
    sign_in(client, COUNTY["user_id"])
    html = page(client, "?lang=en")
    fixed = [s for s in decision["recourse"] if s["immutable"]]
    assert fixed and len(by_testid(html, "immutable-step")) == len(fixed)
    assert fixed[0]["message"]["en"] in html
    assert by_testid(html, "input-is_county_area")


def test_user_not_assessed_yet(client: TestClient) -> None:
    sign_in(client, "newcomer")
    html = page(client)
    assert state(html) == "none" and by_testid(html, "none-text")
    assert not by_testid(html, "review-button") and not by_testid(html, "whatif-form")


def test_security_inputs_and_fraud_details_never_shown(client: TestClient) -> None:
    decide(client, DEVICE)
    sign_in(client, DEVICE["user_id"])
    html = page(client, "?lang=en")
    for field in ("accounts_on_device", "blacklist_hit", "sim_changed_days_ago", "applications_7d"):
        assert field not in html
    assert "fraud" not in html.lower()
    assert by_testid(html, "review-in-progress")  # manual review reads as a review, not a decline


def test_page_headers_and_no_external_urls(client: TestClient) -> None:
    decide(client, PAY599)
    sign_in(client, PAY599["user_id"])
    for r in (client.get("/"), client.get("/self-check/consent"), client.get("/?t=bad")):
        csp = r.headers["content-security-policy"]
        for part in ("default-src 'self'", "script-src 'none'", "form-action 'self'"):
            assert part in csp
        assert "frame-ancestors 'none'" in csp
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "no-referrer"
        assert r.headers["cache-control"] == "no-store"
        assert not re.search(r'(src|href|action)="(https?:)?//', r.text), r.text
        assert "<script" not in r.text and "style=" not in r.text
        assert not re.search(r"https?://", r.text)
    css = client.get("/static/self-check.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert "Noto Sans CJK SC" in css.text and "url(" not in css.text


def test_every_page_is_laid_out_at_the_phones_width(client: TestClient) -> None:
    """Without the viewport meta a phone browser lays the page out 980 px wide and shrinks
    it to a quarter: every top-level page (answer, confirmation, notices) carries it."""
    decide(client, PAY599)
    pages = [client.get("/")]  # no session: the sign-in notice
    sign_in(client, PAY599["user_id"])
    pages += [client.get("/"), client.get("/self-check/consent"), client.get("/?t=bad")]
    assert [r.status_code for r in pages] == [401, 200, 200, 403]
    viewport = '<meta name="viewport" content="width=device-width, initial-scale=1">'
    for r in pages:
        assert r.text.split("</head>", 1)[0].count(viewport) == 1, r.text


# what if ---------------------------------------------------------------------------------


def test_what_if_shows_the_outcome_and_stores_nothing(client: TestClient) -> None:
    decide(client, PAY599)
    sign_in(client, PAY599["user_id"])
    before = verify(services(client).log)
    r = post(client, "/self-check/what-if", pay_score="650")
    assert r.status_code == 303 and r.headers["location"] == "/"
    html = page(client, "?lang=en")
    [result] = by_testid(html, "whatif-result")
    assert 'data-visible="true"' in result and by_testid(html, "whatif-not-stored")
    assert 'value="650"' in by_testid(html, "whatif-field-pay_score")[0]
    assert state(html) == "hidden"  # the answer itself did not change
    assert verify(services(client).log) == before
    assert services(client).catalog.reviews(None, 10) == []


def test_what_if_names_a_bad_field_without_echoing_it(client: TestClient) -> None:
    decide(client, PAY599)
    sign_in(client, PAY599["user_id"])
    for value in ("lots-of-7777", "9999"):  # not a number; out of range (profile validation)
        assert post(client, "/self-check/what-if", pay_score=value).status_code == 303
        html = page(client, "?lang=en")
        [flash] = by_testid(html, "flash")
        assert 'data-flash="whatif_bad_field"' in flash and "Pay score" in flash
        assert value not in html and not by_testid(html, "whatif-result")
        assert 'aria-invalid="true"' in by_testid(html, "whatif-field-pay_score")[0]


def test_what_if_is_rate_limited_per_user(tmp_path: Path) -> None:
    with fresh(f"sqlite:///{tmp_path}/x.db", tmp_path, whatif_per_minute=3) as c:
        decide(c, PAY599)
        sign_in(c, PAY599["user_id"])
        token = csrf(c)
        codes = [
            c.post("/self-check/what-if", data={"csrf": token, "pay_score": "620"}).status_code
            for _ in range(4)
        ]
        assert codes == [200, 200, 200, 429]  # 303s followed to the page; then the limit
        r = c.post(
            "/self-check/what-if", data={"csrf": token, "pay_score": "620"}, follow_redirects=False
        )
        assert r.status_code == 429 and r.headers["retry-after"] == "60"
        assert 'data-kind="limited"' in r.text


# review, dispute, consent (the store matters: SQLite and PostgreSQL) ------------------------


def test_review_request_reaches_the_admin_queue_and_its_status_shows(client: TestClient) -> None:
    decision = decide(client, PAY599)
    sign_in(client, PAY599["user_id"])
    assert post(client, "/self-check/review").status_code == 303
    assert post(client, "/self-check/review").status_code == 303  # once while one is open
    html = page(client, "?lang=en")
    assert 'data-flash="review_requested"' in by_testid(html, "flash")[0]
    [status] = by_testid(html, "review-status")
    assert 'data-status="open"' in status and "In progress" in status
    queue = client.get("/v1/admin/reviews", headers=auth("viewer")).json()
    [queued] = queue
    assert queued["decision_id"] == decision["decision_id"] and queued["status"] == "open"
    url = f"/v1/admin/reviews/{queued['review_id']}/resolve"
    r = client.post(url, json={"resolution": "overturned"}, headers=auth("operator"))
    assert r.status_code == 200
    [status] = by_testid(page(client, "?lang=zh-CN"), "review-status")
    assert 'data-status="resolved"' in status and "已更改决定" in status


def test_dispute_opens_a_review_naming_the_field(client: TestClient) -> None:
    decide(client, COUNTY)
    sign_in(client, COUNTY["user_id"])
    r = post(client, "/self-check/dispute", field="is_county_area", note="I live in the city\x07")
    assert r.status_code == 303
    [queued] = client.get("/v1/admin/reviews", headers=auth("viewer")).json()
    assert queued["reason"] == "dispute: is_county_area — I live in the city"
    html = page(client, "?lang=en")
    [status] = by_testid(html, "review-status")
    assert 'data-field="is_county_area"' in status and "County-level area" in status
    # a field the page does not show (a security input) cannot be disputed
    assert post(client, "/self-check/dispute", field="accounts_on_device").status_code == 303
    assert 'data-flash="dispute_bad"' in by_testid(page(client), "flash")[0]
    assert len(client.get("/v1/admin/reviews", headers=auth("viewer")).json()) == 1


def test_consent_withdrawal_confirms_then_erases(client: TestClient) -> None:
    decision = decide(client, PAY599)
    user = PAY599["user_id"]
    sign_in(client, user)
    post(client, "/self-check/review")
    confirm = client.get("/self-check/consent?lang=en")
    assert confirm.status_code == 200 and by_testid(confirm.text, "consent-erases")
    assert "erases the inputs" in confirm.text and "review requests" in confirm.text
    assert "entry disappears" in confirm.text
    assert state(page(client)) == "hidden"  # nothing happened yet
    r = post(client, "/self-check/consent")
    assert r.status_code == 303
    html = page(client)
    assert state(html) == "withdrawn" and 'data-consent="withdrawn"' in html
    assert not by_testid(html, "consent-withdraw-link") and not by_testid(html, "inputs")
    stored = services(client).log.get(decision["decision_id"])
    assert stored.inputs is None  # erased
    [review] = services(client).catalog.reviews(None, 10)
    assert review["reason"] == "[erased]"
    token = issue_user_token(SECRET.encode(), user, 60)
    r = client.get(f"/v1/users/{user}/entry", headers={"Authorization": f"Bearer {token}"})
    assert r.json()["entry_visible"] is False


def test_every_form_needs_the_sessions_csrf_token(client: TestClient) -> None:
    decide(client, PAY599)
    sign_in(client, PAY599["user_id"])
    for path in ("/self-check/review", "/self-check/consent", "/self-check/what-if"):
        for token in (None, "wrong", csrf(client)[:-2] + "xx"):
            data = {"csrf": token} if token is not None else {}
            r = client.post(path, data=data, follow_redirects=False)
            assert r.status_code == 403 and 'data-kind="csrf"' in r.text
    assert services(client).catalog.reviews(None, 10) == []
    assert state(page(client)) == "hidden"


def test_a_second_user_never_sees_or_acts_for_the_first(client: TestClient, db_url: str) -> None:
    first = decide(client, PAY599)
    sign_in(client, PAY599["user_id"])
    first_csrf = csrf(client)
    with TestClient(client.app, raise_server_exceptions=False) as other:
        sign_in(other, "someone-else")
        html = page(other)
        assert state(html) == "none"
        assert first["decision_id"] not in html and "599" not in html
        assert PAY599["user_id"] not in html
        r = other.post("/self-check/review", data={"csrf": first_csrf}, follow_redirects=False)
        assert r.status_code == 403
        assert post(other, "/self-check/consent").status_code == 303  # their own consent
    assert services(client).catalog.reviews(None, 10) == []
    assert state(page(client)) == "hidden"  # the first user's answer is untouched


# logs ------------------------------------------------------------------------------------


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.text: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.text.append(f"{record.name} {record.getMessage()} {getattr(record, 'fields', '')}")


@pytest.fixture
def lines() -> Iterator[Lines]:
    handler, root = Lines(), logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


def test_access_log_never_holds_the_link_or_the_user(tmp_path: Path, lines: Lines) -> None:
    user = "carol-4711"
    with fresh(f"sqlite:///{tmp_path}/x.db", tmp_path, access_log=True) as c:
        token = link(user)
        assert c.get(f"/?t={token}", follow_redirects=False).status_code == 303
        assert c.get(f"/?t={token}", follow_redirects=False).status_code == 403
        page(c)
        post(c, "/self-check/dispute", field="city", note="x")
    access = [t for t in lines.text if t.startswith("creditgate.access")]
    assert len(access) >= 4
    text = "\n".join(lines.text)
    assert token not in text and token.split(".")[2] not in text and user not in text
    assert "'path': '/'" in access[0]
    assert any("'principal': 'user:u~" in t for t in access)
