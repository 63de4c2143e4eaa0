"""The self-check page's routes: ``GET /`` (and its sign-in link ``/?t=``), the forms under
``/self-check/``, and the stylesheet under ``/static/``.

Every answer comes from ``service.answers`` for the session's user only; every POST needs the
session's CSRF token and answers 303 back to ``/`` (post/redirect/get) with a flash.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.responses import RedirectResponse

from creditgate.profile import ProfileError
from creditgate.service.answers import Answer, answer, materialise, what_if
from creditgate.service.consent import withdraw_consent
from creditgate.service.deps import Services, ServicesDep
from creditgate.service.logs import remember_principal
from creditgate.service.routes.reviews import open_review
from creditgate.service.security import Principal, user_name
from creditgate.service.web import cookies, i18n, sessions, view
from creditgate.service.web.forms import FormError, read_form
from creditgate.service.web.limits import PerUserLimit
from creditgate.service.web.links import LinkError, check_link
from creditgate.service.web.page import answer_page
from creditgate.service.web.render import page
from creditgate.store.used_links import UsedLinks

router = APIRouter(include_in_schema=False)
STYLESHEET = (Path(__file__).parent / "static" / "self-check.css").read_bytes()
REVIEW_REASON = "self-check: human review requested"


@dataclass
class SelfCheck:
    used: UsedLinks
    whatif_limit: PerUserLimit


def install(app: FastAPI, services: Services) -> None:
    """Serve the page from ``app``."""
    app.state.self_check = SelfCheck(
        UsedLinks(services.engine), PerUserLimit(services.settings.whatif_per_minute)
    )
    app.include_router(router)
    from creditgate.service.web import lender_forms  # imports this module's helpers

    app.include_router(lender_forms.router)


async def _self_check(request: Request) -> SelfCheck:
    found: SelfCheck = request.app.state.self_check
    return found


SelfCheckDep = Annotated[SelfCheck, Depends(_self_check)]


def _lang(request: Request) -> tuple[str, bool]:
    return i18n.pick(request.query_params.get("lang"), request.cookies.get(i18n.COOKIE))


def _notice(request: Request, kind: str, status: int, both: bool = False) -> Response:
    lang, chosen = _lang(request)
    response = page(
        "notice.html", lang, status, here=request.url.path, kind=kind,
        heading=f"{kind}_heading", text=f"{kind}_text", both=both, back=kind in ("csrf", "limited"),
    )  # fmt: skip
    if chosen:
        cookies.set_lang(request, response, lang)
    return response


def signed_in(request: Request, services: Services) -> sessions.Session | None:
    """The signed-in user's session (and the access line's principal), or None."""
    keys = services.settings.secret_keys
    found = sessions.read_session(keys, request.cookies.get(sessions.COOKIE), services.revoked())
    if found is not None:
        remember_principal(request.scope, _principal(services, found))
    return found


def _principal(services: Services, session: sessions.Session) -> Principal:
    return Principal("user", user_name(services.secret, session.user_id), session.user_id)


def _back(request: Request, flash: str | None = None, field: str | None = None) -> Response:
    response = RedirectResponse("/", status_code=303)
    if flash is not None:
        cookies.set_flash(request, response, flash, field)
    return response


@router.get("/")
def self_check_page(request: Request, services: ServicesDep, app: SelfCheckDep) -> Response:
    """The user's answer; with ``?t=`` a sign-in link is exchanged for a session first."""
    token = request.query_params.get("t")
    if token is not None:
        return _exchange(request, services, app, token)
    session = signed_in(request, services)
    if session is None:
        return _notice(request, "signin", 401, both=True)
    return answer_response(request, services, session)


def answer_response(request: Request, services: Services, session: sessions.Session) -> Response:
    """The signed-in user's answer page; also what ``fastlane`` serves for an ordinary
    ``GET /`` (so there is one copy)."""
    lang, chosen = _lang(request)
    found = answer(services, session.user_id)
    tried = cookies.read_whatif(request, services.settings.secret_keys, session.session_id)
    response = answer_page(
        services, found, lang, sessions.csrf_token(services.secret, session),
        cookies.read_flash(request), tried,
    )  # fmt: skip
    if chosen:
        cookies.set_lang(request, response, lang)
    if cookies.FLASH in request.cookies:
        cookies.forget(response, cookies.FLASH)
    return response


def _exchange(request: Request, services: Services, app: SelfCheck, token: str) -> Response:
    """A valid, unused, unrevoked link becomes a session cookie and a 303 to ``/``: the token
    leaves the address bar and the history. Anything else: a 403 saying to get a new link."""
    settings = services.settings
    try:
        link = check_link(settings.secret_keys, token, settings.max_token_ttl_s)
    except LinkError:
        return _notice(request, "link", 403, both=True)
    if link.link_id in services.revoked() or not app.used.use(link.link_id, link.expires):
        return _notice(request, "link", 403, both=True)
    value = sessions.open_session(
        services.secret, link.user_id, link.link_id, settings.session_ttl_s
    )
    response = _back(request)
    cookies.set_session(request, response, value, settings.session_ttl_s)
    cookies.forget(response, cookies.WHATIF)
    lang, chosen = _lang(request)
    if chosen:
        cookies.set_lang(request, response, lang)
    return response


async def _posted(
    request: Request, services: Services
) -> tuple[sessions.Session, dict[str, str]] | Response:
    """The session and form of a POST, or the refusal: no session 401, bad CSRF 403."""
    session = signed_in(request, services)
    if session is None:
        return _notice(request, "signin", 401, both=True)
    try:
        form = await read_form(request)
    except FormError:
        return _notice(request, "csrf", 400)
    if not sessions.csrf_ok(services.settings.secret_keys, session, form.get("csrf")):
        return _notice(request, "csrf", 403)
    return session, form


async def _answer(services: Services, session: sessions.Session) -> Answer:
    return await anyio.to_thread.run_sync(answer, services, session.user_id)


@router.post("/self-check/what-if")
async def try_changes(request: Request, services: ServicesDep, app: SelfCheckDep) -> Response:
    """Check the tried values (a bad one names its field) and show their outcome on the page:
    not stored, not a new decision; at most ``whatif_per_minute`` tries per user."""
    posted = await _posted(request, services)
    if isinstance(posted, Response):
        return posted
    session, form = posted
    if not app.whatif_limit.allow(session.user_id):
        response = _notice(request, "limited", 429)
        response.headers["Retry-After"] = "60"
        return response
    found = await _answer(services, session)
    fields = view.triable(found)
    if not fields:
        return _back(request, "whatif_unavailable")
    try:
        changes = view.parse_changes(fields, form)
        await anyio.to_thread.run_sync(what_if, services, found, changes)
    except view.FieldValueError as exc:
        return _back(request, "whatif_bad_field", exc.field)
    except ProfileError as exc:
        named = next((p.field for p in exc.problems if p.field in fields), None)
        return _back(request, "whatif_bad_field", named)
    except LookupError:
        return _back(request, "whatif_unavailable")
    response = _back(request)
    cookies.set_whatif(request, response, services.secret, session.session_id, changes)
    return response


async def _stored_decision(services: Services, found: Answer) -> str | None:
    """The stored decision behind ``found`` (a snapshot answer is stored first), or None
    when nothing was decided (not assessed, withdrawn)."""
    if found.source == "withdrawn" or found.decision is None:
        return None
    try:
        return await materialise(services, found)
    except LookupError:
        return None


async def _reviewed(
    request: Request, services: Services, unavailable: str
) -> tuple[sessions.Session, dict[str, str], Answer, str] | Response:
    """A posted review form's session, fields, answer and the stored decision a person will
    review (a snapshot answer is stored first); else the response to give."""
    posted = await _posted(request, services)
    if isinstance(posted, Response):
        return posted
    session, form = posted
    found = await _answer(services, session)
    decision_id = await _stored_decision(services, found)
    if decision_id is None:
        return _back(request, unavailable)
    return session, form, found, decision_id


@router.post("/self-check/review")
async def ask_review(request: Request, services: ServicesDep) -> Response:
    """Queue the user's decision for a person (PIPL Art. 24), once while one is open."""
    subject = await _reviewed(request, services, "whatif_unavailable")
    if isinstance(subject, Response):
        return subject
    session, _, _, decision_id = subject
    mine = await anyio.to_thread.run_sync(services.catalog.user_reviews, session.user_id)
    pending = any(
        r["decision_id"] == decision_id and r["status"] == "open" and r["reason"] == REVIEW_REASON
        for r in mine
    )
    if not pending:
        await anyio.to_thread.run_sync(
            open_review, services, _principal(services, session), decision_id,
            session.user_id, REVIEW_REASON,
        )  # fmt: skip
    return _back(request, "review_requested")


@router.post("/self-check/dispute")
async def dispute(request: Request, services: ServicesDep) -> Response:
    """Open a review naming the input the user says is wrong (PIPL Art. 46), with a note."""
    subject = await _reviewed(request, services, "dispute_bad")
    if isinstance(subject, Response):
        return subject
    session, form, found, decision_id = subject
    field = form.get("field", "")
    if field not in {name for name, _ in view.inputs(found)}:
        return _back(request, "dispute_bad")
    reason = view.dispute_reason(field, view.clean_note(form.get("note", "")))
    principal = _principal(services, session)
    await anyio.to_thread.run_sync(
        open_review, services, principal, decision_id, session.user_id, reason
    )
    return _back(request, "dispute_sent")


@router.get("/self-check/consent")
def confirm_withdrawal(request: Request, services: ServicesDep) -> Response:
    """What withdrawal erases, and the button that does it."""
    session = signed_in(request, services)
    if session is None:
        return _notice(request, "signin", 401, both=True)
    lang, chosen = _lang(request)
    csrf = sessions.csrf_token(services.secret, session)
    response = page("confirm.html", lang, here=request.url.path, csrf=csrf)
    if chosen:
        cookies.set_lang(request, response, lang)
    return response


@router.post("/self-check/consent")
async def withdraw(request: Request, services: ServicesDep) -> Response:
    """Withdraw consent exactly as ``POST /v1/users/{id}/consent-withdrawal`` does."""
    posted = await _posted(request, services)
    if isinstance(posted, Response):
        return posted
    session, _ = posted
    principal = _principal(services, session)
    await anyio.to_thread.run_sync(withdraw_consent, services, principal, session.user_id)
    response = _back(request, "consent_withdrawn")
    cookies.forget(response, cookies.WHATIF)
    return response


@router.post("/self-check/sign-out")
async def sign_out(request: Request, services: ServicesDep) -> Response:
    posted = await _posted(request, services)
    if isinstance(posted, Response):
        return posted
    response = _back(request)
    cookies.forget(response, sessions.COOKIE, cookies.WHATIF)
    return response


@router.get("/static/self-check.css")
async def stylesheet() -> Response:
    return Response(
        STYLESHEET, media_type="text/css", headers={"X-Content-Type-Options": "nosniff"}
    )
