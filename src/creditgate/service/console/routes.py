"""The console's routes under ``/console``: sign-in and sign-out, the overview, a decision by
id with its replay, and the audit chain's status.

Every page needs a staff session (``console.session``); every POST carries the session's CSRF
token and answers 303 (post/redirect/get). Viewers, operators and admins may read; what each
role may *do* is checked again on the server for every action, whatever the page showed.
"""

from __future__ import annotations

import hmac
from pathlib import Path
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.responses import RedirectResponse

from creditgate.service.console import changes, overview, pages, session, work
from creditgate.service.deps import Services, ServicesDep
from creditgate.service.logs import audit_log
from creditgate.service.security import AuthError, staff_principal
from creditgate.service.web.forms import FormError, read_form
from creditgate.store.replay import replay
from creditgate.store.repo import verify

router = APIRouter(prefix="/console", include_in_schema=False)
STYLESHEET = (Path(__file__).parent.parent / "web" / "static" / "console.css").read_bytes()
PRE_TTL_S = 10 * 60


def install(app: FastAPI) -> None:
    app.state.console_reports = overview.ReportCache()
    app.include_router(router)
    app.include_router(changes.router)
    app.include_router(work.router)


def _reports(request: Request) -> overview.ReportCache:
    found: overview.ReportCache = request.app.state.console_reports
    return found


Reports = Annotated[overview.ReportCache, Depends(_reports)]


@router.get("/sign-in")
def sign_in_page(request: Request, services: ServicesDep) -> Response:
    """The sign-in form (a role token, typed, never in a URL)."""
    if pages.signed_in(request, services) is not None:
        return RedirectResponse("/console", status_code=303)
    return _sign_in_form(request, services, 200, None)


def _sign_in_form(request: Request, services: Services, status: int, error: str | None) -> Response:
    value = session.new_pre_value()
    response = pages.render(
        request, "sign_in.html", status, pre=pages.pre_token(services, value), error=error
    )
    pages.set_cookie(request, response, session.PRE_COOKIE, value, PRE_TTL_S)
    return response


@router.post("/sign-in")
async def sign_in(request: Request, services: ServicesDep) -> Response:
    """Exchange a staff token for a session cookie: a 303 to the overview, or the form again
    with a generic error (which of token or role was wrong is not said to a stranger)."""
    try:
        form = await read_form(request)
    except FormError:
        return _sign_in_form(request, services, 400, "bad_form")
    pre = request.cookies.get(session.PRE_COOKIE)
    expected = pages.pre_token(services, pre) if pre else None
    sent = form.get("csrf") or ""
    if expected is None or not hmac.compare_digest(expected.encode(), sent.encode()):
        return _sign_in_form(request, services, 403, "csrf")
    try:
        principal = staff_principal(form.get("token", ""), services.settings.principals)
    except AuthError:
        audit_log("console.sign_in_refused", "anonymous", None)
        return _sign_in_form(request, services, 401, "refused")
    if principal.role not in session.CONSOLE_ROLES:
        audit_log("console.sign_in_refused", principal.name, None, role=principal.role)
        return _sign_in_form(request, services, 401, "refused")
    response = RedirectResponse("/console", status_code=303)
    value = session.open_session(services.secret, principal)
    pages.set_cookie(request, response, session.COOKIE, value, services.settings.console_ttl_s)
    pages.forget(response, session.PRE_COOKIE)
    audit_log("console.sign_in", principal.name, None, role=principal.role)
    return response


@router.post("/sign-out")
async def sign_out(request: Request, services: ServicesDep) -> Response:
    posted = await pages.posted(request, services)
    if isinstance(posted, Response):
        return posted
    (_, principal), _ = posted
    response = pages.to_sign_in()
    pages.forget(response, session.COOKIE)
    audit_log("console.sign_out", principal.name, None)
    return response


@router.get("")
def overview_page(request: Request, services: ServicesDep, reports: Reports) -> Response:
    """The active policy and snapshot in the figures of the batch run that made it."""
    staff = pages.signed_in(request, services)
    if staff is None:
        return pages.to_sign_in()
    state = services.state
    snap = state.snapshot
    context: dict[str, Any] = {
        "policy_version": state.policy_version,
        "snapshot": snap.meta if snap is not None else None,
        "snapshot_id": snap.snapshot_id if snap is not None else None,
        "report_html": None,
        "problem": None,
    }
    if snap is not None:
        lang, _ = pages.lang_of(request)
        try:
            context["report_html"] = reports.rendered(services, snap.snapshot_id, snap.meta, lang)
        except LookupError as exc:
            context["problem"] = str(exc)
    return pages.render(request, "overview.html", 200, staff, services, **context)


def _no_decision(request: Request, staff: pages.Staff, services: Services) -> Response:
    return pages.render(request, "decision.html", 404, staff, services, stored=None, wanted=None)


@router.get("/decisions")
def find_decision(request: Request, services: ServicesDep) -> Response:
    """The look-up form's target: ``?id=`` goes to that decision's page."""
    staff = pages.signed_in(request, services)
    if staff is None:
        return pages.to_sign_in()
    wanted = (request.query_params.get("id") or "").strip()
    if not wanted or len(wanted) > 40 or not wanted.replace("_", "").isalnum():
        return pages.render(
            request, "decision.html", 404, staff, services, stored=None, wanted=None
        )
    return RedirectResponse(f"/console/decisions/{wanted}", status_code=303)


@router.get("/decisions/{decision_id}")
async def decision_page(request: Request, decision_id: str, services: ServicesDep) -> Response:
    """A stored decision with its inputs, reasons (the fraud rule that fired: operators only)
    and what replaying it gives (identical, or each difference)."""
    staff = pages.signed_in(request, services)
    if staff is None:
        return pages.to_sign_in()
    stored = services.log.get(decision_id) if len(decision_id) <= 40 else None
    if stored is None:
        return pages.render(
            request, "decision.html", 404, staff, services, stored=None, wanted=None
        )
    result = await anyio.to_thread.run_sync(replay, services.log, services.catalog, decision_id)
    audit_log("console.decision_view", staff[1].name, decision_id)
    return pages.render(
        request, "decision.html", 200, staff, services, stored=stored, replayed=result,
        wanted=decision_id,
    )  # fmt: skip


@router.get("/audit")
async def audit_page(request: Request, services: ServicesDep) -> Response:
    """The decision chain walked from its first record: how many, and the first problem."""
    staff = pages.signed_in(request, services)
    if staff is None:
        return pages.to_sign_in()
    checked, problem = await anyio.to_thread.run_sync(verify, services.log)
    return pages.render(
        request, "audit.html", 200, staff, services, checked=checked, problem=problem
    )


@router.get("/static/console.css")
def stylesheet() -> Response:
    return Response(
        STYLESHEET, media_type="text/css", headers={"X-Content-Type-Options": "nosniff"}
    )
