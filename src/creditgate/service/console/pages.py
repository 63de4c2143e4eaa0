"""What every console page shares: the signed-in staff member, rendering with the session's
CSRF token (and the idle clock restarted), the session's cookies, and the checks of a POST
(session, CSRF token, role)."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response
from fastapi.responses import RedirectResponse

from creditgate.service.console import session
from creditgate.service.deps import Services
from creditgate.service.logs import ADMIN_VIA, remember_principal
from creditgate.service.security import Principal
from creditgate.service.web import i18n
from creditgate.service.web.forms import FormError, read_form
from creditgate.service.web.render import page
from creditgate.service.web.signed import keyed_digest

Staff = tuple[session.StaffSession, Principal]
WRITERS = frozenset({"operator", "admin"})  # may propose, reject, claim and resolve
APPROVERS = frozenset({"admin"})  # may approve another person's proposal


def lang_of(request: Request) -> tuple[str, bool]:
    return i18n.pick(request.query_params.get("lang"), request.cookies.get(i18n.COOKIE))


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    """A console cookie: HttpOnly, SameSite=Strict, scoped to ``/console``, Secure on HTTPS."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=session.PATH,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def forget(response: Response, *names: str) -> None:
    for name in names:
        response.delete_cookie(name, path=session.PATH)


def render(
    request: Request,
    template: str,
    status: int = 200,
    staff: Staff | None = None,
    services: Services | None = None,
    **context: Any,
) -> Response:
    """A console page; with a session, its CSRF token and who is signed in, and the cookie
    renewed (the idle clock restarts on every page)."""
    lang, chosen = lang_of(request)
    csrf = None
    if staff is not None and services is not None:
        csrf = session.csrf_token(services.secret, staff[0].session_id)
    flash = request.query_params.get("flash")
    response = page(
        f"console/{template}", lang, status, here=request.url.path, csrf=csrf,
        staff=staff[1] if staff is not None else None,
        flash=flash if flash in FLASHES else None, writers=WRITERS, approvers=APPROVERS,
        **context,
    )  # fmt: skip
    if chosen:
        response.set_cookie(i18n.COOKIE, lang, max_age=365 * 86400, samesite="lax", httponly=True)
    if staff is not None and services is not None:
        value = session.renewed(services.secret, staff[0])
        set_cookie(request, response, session.COOKIE, value, services.settings.console_ttl_s)
    return response


FLASHES = frozenset(
    {"proposed", "approved", "rejected", "live", "not_found", "conflict", "own", "lint", "bad"}
    | {"claimed", "released", "resolved", "busy"}
)
"""The outcomes an action reports back through ``?flash=`` (fixed words, never data)."""


def signed_in(request: Request, services: Services) -> Staff | None:
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


def to_sign_in() -> Response:
    return RedirectResponse("/console/sign-in", status_code=303)


def back(path: str, flash: str) -> Response:
    """303 to ``path`` reporting ``flash`` (one of ``FLASHES``)."""
    assert flash in FLASHES
    return RedirectResponse(f"{path}?flash={flash}", status_code=303)


def pre_token(services: Services, value: str) -> str:
    return keyed_digest(services.secret, "console-pre", value)


async def posted(
    request: Request, services: Services, roles: frozenset[str] | None = None
) -> tuple[Staff, dict[str, str]] | Response:
    """The session and form of a POST, or the refusal: no session 303 to sign-in, a bad or
    missing CSRF token 403, a role not in ``roles`` 403 (whatever the page showed)."""
    staff = signed_in(request, services)
    if staff is None:
        return to_sign_in()
    try:
        form = await read_form(request)
    except FormError:
        return render(request, "refused.html", 400, staff, services, kind="csrf")
    if not session.csrf_ok(services.settings.secret_keys, staff[0].session_id, form.get("csrf")):
        return render(request, "refused.html", 403, staff, services, kind="csrf")
    if roles is not None and staff[1].role not in roles:
        return render(request, "refused.html", 403, staff, services, kind="role")
    ADMIN_VIA.set("console")  # this request's task only: the act's trail line says where from
    return staff, form
