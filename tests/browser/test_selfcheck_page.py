"""The self-check page in a real Chromium on a 390 px phone: signed in by link, real clicks
on real forms, every answer state in zh-CN and en, with a screenshot of each under
``docs/screenshots/`` (``selfcheck-<state>-<lang>.png``).

Assertions are on the page's structure (``data-testid``, ``data-code``, ``data-state``) and a
few page-chrome texts, never on explanation sentences (those belong to ``explain/``).

Every refusal kind is a user of the 3,000-user batch the ``served`` fixture activated (none had
to be crafted through ``POST /v1/decisions``): a credit reason (``PAY_SCORE_LOW``), a
behaviour reason (``ACCOUNT_TOO_NEW``), ``REGION_QUOTA`` in a partly open city, a closed county
(``REGION_CLOSED``), missing consent (``CONSENT_MISSING``), a fraud review
(``manual_review``) and a fraud decline (``FRAUD_SUSPECTED``, ``not_invited``).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from creditgate.schema import PROFILE_FIELDS, Consent
from creditgate.service.web.links import issue_link, link_url
from creditgate.store.repo import verify

from .conftest import PHONE, Served, new_phone, phone_page

LANGS = ("zh-CN", "en")
SECURITY_FIELDS = [n for n, spec in PROFILE_FIELDS.items() if spec.consent is Consent.SECURITY]
Shot = Callable[[Any, str], Any]


# helpers ---------------------------------------------------------------------------------


def only(served: Served, outcome: str, *codes: str, index: int = 0) -> str:
    """The ``index``-th batch user (by id) refused with exactly ``codes`` and ``outcome``."""
    found = sorted(
        uid
        for uid, row in served.users.batch.items()
        if row["outcome"] == outcome
        and list(row["reason_codes"]) == list(codes)
        and row["entry"] != "servicing"
    )
    assert len(found) > index, f"the batch has no {outcome} user with only {codes}"
    return found[index]


def sign_in_link(served: Served, user_id: str, ttl_s: int = 600, now: float | None = None) -> str:
    token = issue_link(served.settings.secret_bytes, user_id, ttl_s, now=now)
    return link_url(served.base_url, token)


def sign_in(page: Any, served: Served, user_id: str) -> None:
    """Follow a fresh link: the 303 leaves the page at ``/`` with the session cookie."""
    response = page.goto(sign_in_link(served, user_id))
    assert response is not None and response.status == 200
    assert page.url == served.url("/")


def state(page: Any) -> str:
    found: str = page.get_by_test_id("entry-status").get_attribute("data-state")
    return found


def lang(page: Any) -> str:
    found: str = page.locator("html").get_attribute("lang")
    return found


CONTRAST = """() => {
  const rgb = (css) => (css.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => [r, g, b]
    .map((v) => v / 255)
    .map((v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4))
    .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
  const behind = (e) => {
    for (; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || c[3] > 0) return c;
    }
    return [255, 255, 255];
  };
  const low = [];
  for (const e of document.querySelectorAll('body *')) {
    const own = [...e.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own || !e.getClientRects().length) continue;
    const [a, b] = [lum(rgb(getComputedStyle(e).color)), lum(behind(e))];
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const name = e.tagName + '#' + (e.id || e.dataset.testid || '');
    if (ratio < 4.5) low.push(name + ' ' + ratio.toFixed(2));
  }
  return low;
}"""


def fits_the_phone(page: Any) -> None:
    """Laid out at the phone's width (a missing viewport meta lays it out 980 px wide),
    nothing sticks out to the right, and every text reaches the WCAG AA contrast (4.5:1)."""
    width = PHONE["width"]
    assert page.evaluate("window.innerWidth") == width
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    overflowing = page.evaluate(
        """(width) => [...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > width + 0.5)
            .map(e => e.tagName + '#' + (e.id || e.dataset.testid || ''))""",
        width,
    )
    assert overflowing == []
    assert page.evaluate(CONTRAST) == []


def changing(page: Any) -> list[Any]:
    """What differs from run to run (a decision's random number, a request's date): masked in
    the screenshots, which are then rewritten only when the page's look changes."""
    return [
        page.get_by_test_id("decision-ref"),
        page.locator("[data-testid=review-status] .meta"),
        page.locator("[data-testid=lender-consent-status][data-consent=given]"),  # its time
    ]


@pytest.fixture
def shoot(served: Served, save_screenshot: Shot) -> Callable[[Any, str], None]:
    """``shoot(page, state)``: the page as it is (zh-CN) and again in English, each checked to
    fit the phone; the page is left in zh-CN."""

    def both(page: Any, name: str) -> None:
        path = urlsplit(page.url).path
        assert lang(page) == "zh-CN"
        fits_the_phone(page)
        save_screenshot(page, f"selfcheck-{name}-zh-CN", mask=changing(page))
        page.goto(served.url(f"{path}?lang=en"))
        assert lang(page) == "en"
        fits_the_phone(page)
        save_screenshot(page, f"selfcheck-{name}-en", mask=changing(page))
        page.goto(served.url(f"{path}?lang=zh-CN"))

    return both


@pytest.fixture
def other_page(browser: Any) -> Iterator[Any]:
    """A second, separate phone (its own cookies)."""
    with phone_page(browser) as found:
        yield found


def stored_decisions(served: Served) -> int:
    return verify(served.services.log)[0]


def admin_queue(served: Served, status: str = "open") -> list[dict[str, Any]]:
    r = httpx.get(
        served.url("/v1/admin/reviews"),
        params={"status": status, "limit": 1000},
        headers=served.staff_headers("viewer"),
    )
    assert r.status_code == 200, r.text
    found: list[dict[str, Any]] = r.json()
    return found


def decision_ref(page: Any) -> str:
    text: str = page.get_by_test_id("decision-ref").inner_text()
    return re.split(r"[:：]", text)[-1].strip()


def codes(page: Any, testid: str = "reason") -> list[str]:
    return [e.get_attribute("data-code") for e in page.get_by_test_id(testid).all()]


def entry_visible(served: Served, user_id: str) -> bool:
    r = httpx.get(
        served.url(f"/v1/users/{user_id}/entry"),
        headers={"Authorization": f"Bearer {served.user_token(user_id)}"},
    )
    assert r.status_code == 200, r.text
    visible: bool = r.json()["entry_visible"]
    return visible


# the answer, one state at a time ---------------------------------------------------------


def test_invited_user_sees_the_entry_and_where_to_find_it(served, page, shoot) -> None:
    sign_in(page, served, served.users.invited)
    assert state(page) == "visible"
    assert page.get_by_test_id("entry-where").is_visible()
    assert page.get_by_test_id("reasons").count() == 0
    assert page.get_by_test_id("alternatives").count() == 0
    assert page.get_by_test_id("snapshot-as-of").is_visible()
    shoot(page, "invited")


def test_a_refused_user_who_owes_money_keeps_the_entry_for_servicing(served, page, shoot) -> None:
    user = served.users.servicing
    assert served.users.batch[user]["outcome"] == "not_invited"
    sign_in(page, served, user)
    assert state(page) == "servicing"
    notice = page.get_by_test_id("notice")
    assert notice.count() == 1 and notice.get_attribute("data-code") == "SERVICING"
    assert page.get_by_test_id("entry-where").count() == 0  # nothing new to borrow
    assert page.get_by_test_id("reasons").is_visible()  # why no new borrowing, still
    shoot(page, "servicing")


REFUSALS = {  # screenshot name -> (outcome, reason codes, the principal reason shown)
    "credit": ("not_invited", ("PAY_SCORE_LOW",), "PAY_SCORE_LOW"),
    "behaviour": ("not_invited", ("ACCOUNT_TOO_NEW",), "ACCOUNT_TOO_NEW"),
    "region-quota": ("not_invited", ("REGION_QUOTA",), "REGION_QUOTA"),
    "region-closed": ("not_invited", ("REGION_CLOSED",), "REGION_CLOSED"),
    "consent-missing": ("not_invited", ("CONSENT_MISSING",), "CONSENT_MISSING"),
}


@pytest.mark.parametrize("name", list(REFUSALS))
def test_refused_user_sees_reasons_and_what_to_do(served, page, shoot, name: str) -> None:
    outcome, reason_codes, principal = REFUSALS[name]
    user = only(served, outcome, *reason_codes)
    if name == "region-quota":  # a partly open city: its quota, not a closed region
        assert served.users.batch[user]["region_class"] != "county"
    sign_in(page, served, user)
    assert state(page) == "hidden"
    assert codes(page)[0] == principal
    assert page.get_by_test_id("review-in-progress").count() == 0
    steps = page.get_by_test_id("recourse-step").count()
    fixed = page.get_by_test_id("immutable-step").count()
    others = page.get_by_test_id("alternative").count()
    assert steps + fixed + others > 0, "a refusal says what to do, what cannot change, or else"
    if name == "region-closed":
        assert fixed > 0 and page.get_by_test_id("alternatives").is_visible()
    if name == "region-quota":  # score moves to the quota's cutoff, or honestly none
        assert steps + fixed > 0 and page.get_by_test_id("snapshot-as-of").is_visible()
    if name == "credit":
        first_step = page.get_by_test_id("recourse-step").first
        assert first_step.get_attribute("data-field") == "pay_score"
    assert page.get_by_test_id("review-button").is_visible()
    assert page.get_by_test_id("inputs").is_visible()
    shoot(page, name)


def test_manual_review_reads_as_a_review_in_progress(served, page, shoot) -> None:
    user = only(served, "manual_review", "FRAUD_SUSPECTED")
    sign_in(page, served, user)
    assert state(page) == "hidden"
    assert page.get_by_test_id("review-in-progress").is_visible()
    html = page.content()
    assert "FRAUD" not in html and codes(page) == ["SECURITY_CHECK"]
    for field in SECURITY_FIELDS:
        assert field not in html
    shoot(page, "manual-review")


def test_fraud_refusal_shows_only_the_generic_security_message(served, page, shoot) -> None:
    user = only(served, "not_invited", "FRAUD_SUSPECTED")
    sign_in(page, served, user)
    assert state(page) == "hidden"
    assert codes(page) == ["SECURITY_CHECK"]
    assert page.get_by_test_id("review-in-progress").count() == 0
    html = page.content()
    assert "FRAUD" not in html and "fraud" not in html.lower()
    for field in SECURITY_FIELDS:  # no signal: neither shown, nor tried, nor disputable
        assert field not in html
    shoot(page, "fraud")


@pytest.mark.parametrize("who", ["unknown", "quarantined"])
def test_user_not_assessed(served, page, shoot, who: str) -> None:
    user = "u-joined-after-the-batch" if who == "unknown" else served.users.quarantined
    assert user not in served.users.batch
    sign_in(page, served, user)
    assert state(page) == "none" and page.get_by_test_id("none-text").is_visible()
    for absent in ("review-button", "whatif-form", "dispute-form", "reasons"):
        assert page.get_by_test_id(absent).count() == 0
    if who == "unknown":
        shoot(page, "not-assessed")


# language ----------------------------------------------------------------------------------


def test_english_switch_persists(served, page) -> None:
    sign_in(page, served, only(served, "not_invited", "PAY_SCORE_LOW", index=1))
    assert lang(page) == "zh-CN" and page.get_by_test_id("review-button").inner_text() != ""
    chinese_heading = page.get_by_test_id("entry-status").inner_text()
    page.get_by_test_id("lang-switch").click()
    page.wait_for_load_state()
    assert lang(page) == "en"
    assert page.get_by_test_id("review-button").inner_text() == "Ask for a human review"
    assert page.get_by_test_id("entry-status").inner_text() != chinese_heading
    page.reload()
    assert lang(page) == "en"  # the choice is a cookie
    page.goto(served.url("/"))
    assert lang(page) == "en" and state(page) == "hidden"
    page.get_by_test_id("lang-switch").click()
    page.wait_for_load_state()
    assert lang(page) == "zh-CN"
    page.reload()
    assert lang(page) == "zh-CN"


# what if (without JavaScript) --------------------------------------------------------------


def whatif_yes(served: Served, code: str, changes: dict[str, Any]) -> str:
    """A batch user refused for ``code`` alone whom ``changes`` turn into a yes at the
    snapshot's cutoffs (asked of the service's own what-if: the cutoffs differ by region)."""
    from creditgate.service.answers import answer, what_if

    for index in range(1, 40):
        user = only(served, "not_invited", code, index=index)
        if what_if(served.services, answer(served.services, user), changes)["entry_visible"]:
            return user
    raise AssertionError(f"no user refused for {code} alone whom {changes} would invite")


def test_what_if_without_javascript_stores_nothing(served, browser, save_screenshot) -> None:
    context = new_phone(browser, java_script_enabled=False)
    try:
        page = context.new_page()
        sign_in(page, served, whatif_yes(served, "PAY_SCORE_LOW", {"pay_score": 720}))
        assert state(page) == "hidden"
        before = stored_decisions(served)
        field = page.get_by_test_id("whatif-field-pay_score")
        field.fill("720")
        page.get_by_test_id("whatif-submit").click()
        page.wait_for_load_state()
        assert page.url == served.url("/")  # post, redirect, get
        result = page.get_by_test_id("whatif-result")
        assert result.is_visible() and result.get_attribute("data-visible") == "true"
        assert page.get_by_test_id("whatif-not-stored").is_visible()
        assert page.get_by_test_id("whatif-field-pay_score").input_value() == "720"
        assert state(page) == "hidden"  # the answer itself did not change
        assert stored_decisions(served) == before
        save_screenshot(page, "selfcheck-whatif-zh-CN")
        page.goto(served.url("/?lang=en"))
        assert page.get_by_test_id("whatif-result").is_visible()  # kept across pages
        save_screenshot(page, "selfcheck-whatif-en")
        assert stored_decisions(served) == before
    finally:
        context.close()


# human review and dispute --------------------------------------------------------------------


def test_review_request_reaches_the_admin_queue_and_resolves(served, page, shoot) -> None:
    sign_in(page, served, only(served, "not_invited", "ACCOUNT_TOO_NEW", index=1))
    page.get_by_test_id("review-button").click()
    page.wait_for_load_state()
    assert page.get_by_test_id("flash").get_attribute("data-flash") == "review_requested"
    [status] = page.get_by_test_id("review-status").all()
    assert status.get_attribute("data-status") == "open"
    assert status.get_attribute("data-field") is None
    decision_id = decision_ref(page)
    [queued] = [q for q in admin_queue(served) if q["decision_id"] == decision_id]
    assert queued["status"] == "open"
    shoot(page, "review-open")
    r = httpx.post(
        served.url(f"/v1/admin/reviews/{queued['review_id']}/resolve"),
        json={"resolution": "upheld"},
        headers=served.staff_headers("admin"),
    )
    assert r.status_code == 200, r.text
    page.reload()
    [status] = page.get_by_test_id("review-status").all()
    assert status.get_attribute("data-status") == "resolved"
    assert not re.search(r"[:,]", status.inner_text())  # Chinese punctuation in Chinese
    shoot(page, "review-resolved")
    page.goto(served.url("/?lang=en"))
    assert "Done" in page.get_by_test_id("review-status").inner_text()
    assert not [q for q in admin_queue(served) if q["decision_id"] == decision_id]


def test_dispute_of_an_input_names_the_field(served, page, shoot) -> None:
    sign_in(page, served, only(served, "not_invited", "REGION_CLOSED", index=1))
    page.get_by_test_id("dispute-field").select_option("city")
    page.get_by_test_id("dispute-note").fill("我已经搬到市区了")
    page.get_by_test_id("dispute-submit").click()
    page.wait_for_load_state()
    assert page.get_by_test_id("flash").get_attribute("data-flash") == "dispute_sent"
    [status] = page.get_by_test_id("review-status").all()
    assert status.get_attribute("data-field") == "city"
    assert status.get_attribute("data-status") == "open"
    decision_id = decision_ref(page)
    [queued] = [q for q in admin_queue(served) if q["decision_id"] == decision_id]
    assert queued["reason"] == "dispute: city — 我已经搬到市区了"
    shoot(page, "dispute")


# consent -------------------------------------------------------------------------------------


def test_consent_withdrawal_confirms_what_it_erases(served, page, shoot) -> None:
    invited = sorted(u for u, r in served.users.batch.items() if r["outcome"] == "invited")
    user = invited[1]
    assert entry_visible(served, user)
    sign_in(page, served, user)
    assert state(page) == "visible"
    assert page.get_by_test_id("consent-status").get_attribute("data-consent") == "given"
    page.get_by_test_id("consent-withdraw-link").click()
    page.wait_for_load_state()
    assert urlsplit(page.url).path == "/self-check/consent"
    assert page.get_by_test_id("consent-erases").is_visible()
    assert page.get_by_test_id("consent-entry").is_visible()
    shoot(page, "consent-confirm")
    assert entry_visible(served, user)  # nothing happened yet
    page.get_by_test_id("consent-confirm-button").click()
    page.wait_for_load_state()
    assert page.url == served.url("/")
    assert page.get_by_test_id("flash").get_attribute("data-flash") == "consent_withdrawn"
    assert state(page) == "withdrawn" and page.get_by_test_id("withdrawn-text").is_visible()
    assert page.get_by_test_id("consent-status").get_attribute("data-consent") == "withdrawn"
    for gone in ("consent-withdraw-link", "inputs", "whatif-form", "review-button"):
        assert page.get_by_test_id(gone).count() == 0
    assert not entry_visible(served, user)
    shoot(page, "withdrawn")


# isolation and the link ----------------------------------------------------------------------


def test_a_second_users_link_never_sees_the_first(served, page, other_page) -> None:
    first = only(served, "not_invited", "REGION_QUOTA", index=1)
    sign_in(page, served, first)
    page.get_by_test_id("review-button").click()  # stores the decision: it has a number now
    page.wait_for_load_state()
    first_ref = decision_ref(page)
    [first_session] = [c for c in page.context.cookies() if c["name"] == "cg_session"]
    assert first_session["httpOnly"] and first_session["sameSite"] == "Lax"
    assert "cg_session" not in page.evaluate("document.cookie")  # no script can read it

    second = sorted(u for u, r in served.users.batch.items() if r["outcome"] == "invited")[2]
    assert other_page.goto(served.url("/")).status == 401  # nothing carried over
    assert other_page.get_by_test_id("notice").get_attribute("data-kind") == "signin"
    sign_in(other_page, served, second)
    assert state(other_page) == "visible"
    html = other_page.content()
    assert first not in html
    assert first_ref not in html and other_page.get_by_test_id("review-status").count() == 0
    assert codes(other_page) == []
    values = {c["value"] for c in other_page.context.cookies()}
    assert first_session["value"] not in values

    # the first user's page is untouched, then signing out ends only that session
    page.reload()
    assert state(page) == "hidden" and codes(page)[0] == "REGION_QUOTA"
    page.get_by_test_id("sign-out").click()
    page.wait_for_load_state()
    assert page.get_by_test_id("notice").get_attribute("data-kind") == "signin"
    other_page.reload()
    assert state(other_page) == "visible"


def test_the_token_leaves_the_address_bar_and_the_history(served, page, other_page) -> None:
    page.goto(served.url("/healthz"))
    link = sign_in_link(served, served.users.invited)
    token = urlsplit(link).query
    page.goto(link)
    assert page.url == served.url("/") and "t=" not in page.url
    cdp = page.context.new_cdp_session(page)
    history = [e["url"] for e in cdp.send("Page.getNavigationHistory")["entries"]]
    assert history[-1] == served.url("/")
    assert not [u for u in history if "t=" in u], history  # the 303 replaced the link's entry
    page.go_back()
    assert page.url == served.url("/healthz")
    page.go_forward()
    assert page.url == served.url("/") and state(page) == "visible"
    # were the link still somewhere (a screenshot, a shared chat), it is already used
    response = other_page.goto(served.url(f"/?{token}"))
    assert response is not None and response.status == 403
    assert other_page.get_by_test_id("notice").get_attribute("data-kind") == "link"
    assert "cg_session" not in {c["name"] for c in other_page.context.cookies()}


def test_an_expired_or_used_link_shows_the_notice(served, page, save_screenshot) -> None:
    expired = sign_in_link(served, served.users.invited, ttl_s=60, now=time.time() - 120)
    response = page.goto(expired)
    assert response is not None and response.status == 403
    notice = page.get_by_test_id("notice")
    assert notice.get_attribute("data-kind") == "link"
    assert "cg_session" not in {c["name"] for c in page.context.cookies()}
    # the notice speaks both languages: the person has no page to switch from yet
    assert page.locator("[lang=en]").filter(has_text="This link no longer works").count() == 1
    fits_the_phone(page)
    save_screenshot(page, "selfcheck-link-expired-zh-CN")
    used = sign_in_link(served, served.users.invited)
    page.goto(used)
    page.context.clear_cookies()
    response = page.goto(f"{used}&lang=en")
    assert response is not None and response.status == 403
    assert lang(page) == "en" and notice.get_attribute("data-kind") == "link"
    save_screenshot(page, "selfcheck-link-expired-en")
