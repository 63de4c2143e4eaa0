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

from creditgate.service.console import overview, session
from creditgate.service.deps import Services, ServicesDep
from creditgate.service.logs import audit_log, remember_principal
from creditgate.service.security import AuthError, Principal, staff_principal
from creditgate.service.web import i18n
from creditgate.service.web.forms import FormError, read_form
from creditgate.service.web.render import page
from creditgate.service.web.signed import keyed_digest
from creditgate.store.replay import replay
from creditgate.store.repo import verify

router = APIRouter(prefix="/console", include_in_schema=False)
STYLESHEET = (Path(__file__).parent.parent / "web" / "static" / "console.css").read_bytes()
PRE_TTL_S = 10 * 60


def install(app: FastAPI) -> None:
    app.state.console_reports = overview.ReportCache()
    app.include_router(router)


def _reports(request: Request) -> overview.ReportCache:
    found: overview.ReportCache = request.app.state.console_reports
    return found


Reports = Annotated[overview.ReportCache, Depends(_reports)]


def _lang(request: Request) -> tuple[str, bool]:
    return i18n.pick(request.query_params.get("lang"), request.cookies.get(i18n.COOKIE))


def _cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=session.PATH,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def _forget(response: Response, *names: str) -> None:
    for name in names:
        response.delete_cookie(name, path=session.PATH)


def _render(
    request: Request,
    template: str,
    status: int = 200,
    staff: tuple[session.StaffSession, Principal] | None = None,
    services: Services | None = None,
    **context: Any,
) -> Response:
    """A console page; with a session, its CSRF token and who is signed in, and the cookie
    renewed (the idle clock restarts on every page)."""
    lang, chosen = _lang(request)
    csrf = None
    if staff is not None and services is not None:
        csrf = session.csrf_token(services.secret, staff[0].session_id)
    response = page(
        f"console/{template}", lang, status, here=request.url.path, csrf=csrf,
        staff=staff[1] if staff is not None else None, **context,
    )  # fmt: skip
    if chosen:
        response.set_cookie(i18n.COOKIE, lang, max_age=365 * 86400, samesite="lax", httponly=True)
    if staff is not None and services is not None:
        value = session.renewed(services.secret, staff[0])
        _cookie(request, response, session.COOKIE, value, services.settings.console_ttl_s)
    return response


def signed_in(
    request: Request, services: Services
) -> tuple[session.StaffSession, Principal] | None:
    settings = services.settings
    found = session.read_session(
        settings.secret_keys,
        request.cookies.get(session.COOKIE),
        settings.principals,
        settings.console_idle_s,
        settings.console_ttl_s,
    )
    if found is not None:
        remember_principal(request.scope, found[1])  # for the access line
    return found


def _to_sign_in() -> Response:
    return RedirectResponse("/console/sign-in", status_code=303)


def _pre_token(services: Services, value: str) -> str:
    return keyed_digest(services.secret, "console-pre", value)


@router.get("/sign-in")
def sign_in_page(request: Request, services: ServicesDep) -> Response:
    """The sign-in form (a role token, typed, never in a URL)."""
    if signed_in(request, services) is not None:
        return RedirectResponse("/console", status_code=303)
    return _sign_in_form(request, services, 200, None)


def _sign_in_form(request: Request, services: Services, status: int, error: str | None) -> Response:
    value = session.new_pre_value()
    response = _render(
        request, "sign_in.html", status, pre=_pre_token(services, value), error=error
    )
    _cookie(request, response, session.PRE_COOKIE, value, PRE_TTL_S)
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
    expected = _pre_token(services, pre) if pre else None
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
    _cookie(request, response, session.COOKIE, value, services.settings.console_ttl_s)
    _forget(response, session.PRE_COOKIE)
    audit_log("console.sign_in", principal.name, None, role=principal.role)
    return response


async def _posted(
    request: Request, services: Services
) -> tuple[tuple[session.StaffSession, Principal], dict[str, str]] | Response:
    """The session and form of a POST, or the refusal: no session 303 to sign-in, a bad or
    missing CSRF token 403."""
    staff = signed_in(request, services)
    if staff is None:
        return _to_sign_in()
    try:
        form = await read_form(request)
    except FormError:
        return _render(request, "refused.html", 400, staff, services, kind="csrf")
    if not session.csrf_ok(services.settings.secret_keys, staff[0].session_id, form.get("csrf")):
        return _render(request, "refused.html", 403, staff, services, kind="csrf")
    return staff, form


@router.post("/sign-out")
async def sign_out(request: Request, services: ServicesDep) -> Response:
    posted = await _posted(request, services)
    if isinstance(posted, Response):
        return posted
    (_, principal), _ = posted
    response = _to_sign_in()
    _forget(response, session.COOKIE)
    audit_log("console.sign_out", principal.name, None)
    return response


@router.get("")
def overview_page(request: Request, services: ServicesDep, reports: Reports) -> Response:
    """The active policy and snapshot in the figures of the batch run that made it."""
    staff = signed_in(request, services)
    if staff is None:
        return _to_sign_in()
    state = services.state
    snap = state.snapshot
    context: dict[str, Any] = {
        "policy_version": state.policy_version,
        "snapshot": snap.meta if snap is not None else None,
        "snapshot_id": snap.snapshot_id if snap is not None else None,
        "report": None,
        "problem": None,
    }
    if snap is not None:
        try:
            report = reports.get(services, snap.snapshot_id, snap.meta)
        except LookupError as exc:
            context["problem"] = str(exc)
        else:
            context |= {
                "report": report,
                "regions": overview.regions(report),
                "charts": overview.charts(report),
            }
    return _render(request, "overview.html", 200, staff, services, **context)


@router.get("/decisions")
def find_decision(request: Request, services: ServicesDep) -> Response:
    """The look-up form's target: ``?id=`` goes to that decision's page."""
    staff = signed_in(request, services)
    if staff is None:
        return _to_sign_in()
    wanted = (request.query_params.get("id") or "").strip()
    if not wanted or len(wanted) > 40 or not wanted.replace("_", "").isalnum():
        return _render(request, "decision.html", 404, staff, services, stored=None, wanted=None)
    return RedirectResponse(f"/console/decisions/{wanted}", status_code=303)


@router.get("/decisions/{decision_id}")
async def decision_page(request: Request, decision_id: str, services: ServicesDep) -> Response:
    """A stored decision with its inputs, reasons (the fraud rule that fired: operators only)
    and what replaying it gives (identical, or each difference)."""
    staff = signed_in(request, services)
    if staff is None:
        return _to_sign_in()
    stored = services.log.get(decision_id) if len(decision_id) <= 40 else None
    if stored is None:
        return _render(request, "decision.html", 404, staff, services, stored=None, wanted=None)
    result = await anyio.to_thread.run_sync(replay, services.log, services.catalog, decision_id)
    audit_log("console.decision_view", staff[1].name, decision_id)
    return _render(
        request, "decision.html", 200, staff, services, stored=stored, replayed=result,
        wanted=decision_id,
    )  # fmt: skip


@router.get("/audit")
async def audit_page(request: Request, services: ServicesDep) -> Response:
    """The decision chain walked from its first record: how many, and the first problem."""
    staff = signed_in(request, services)
    if staff is None:
        return _to_sign_in()
    checked, problem = await anyio.to_thread.run_sync(verify, services.log)
    return _render(request, "audit.html", 200, staff, services, checked=checked, problem=problem)


@router.get("/static/console.css")
def stylesheet() -> Response:
    return Response(
        STYLESHEET, media_type="text/css", headers={"X-Content-Type-Options": "nosniff"}
    )
