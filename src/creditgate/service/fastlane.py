"""The hot routes as plain ASGI: ``POST /v1/decisions``, ``GET /v1/users/{id}/entry`` and the
self-check page's ``GET /``.

FastAPI's routing, dependency solving and response plumbing cost several times the decision
itself (profiled: ~2/3 of the event loop's time per request). This lane serves the *ordinary*
request of those two routes directly: an authorised caller, a well-formed body. Anything
else (no or wrong token, a body the request model would reject, an invalid profile, another
route) is handed to the FastAPI app untouched, so every error response, status code and the
OpenAPI document stay exactly FastAPI's. Both paths call the same functions
(``decide_and_store``, ``decision_json``, ``entry_view``, ``web.routes.answer_response``), so
there is no second copy of the logic. The page's ordinary request is a signed-in ``GET /``
without a query (a link exchange or a language switch goes to FastAPI). The guards (size,
rate limit, NUL) run before this lane (``GuardMiddleware``).
"""

from __future__ import annotations

import logging
import re
from datetime import date
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from creditgate.identifiers import user_id_problem
from creditgate.profile import ProfileError
from creditgate.service.deciding import IdempotencyConflictError, decide_and_store, decision_json
from creditgate.service.deps import DECIDERS, USER_FACING, Services
from creditgate.service.logs import remember_principal, report_error
from creditgate.service.middleware import NO_STORE, replay
from creditgate.service.routes.entry import entry_view
from creditgate.service.security import AuthError, Principal
from creditgate.service.web.routes import answer_response, signed_in
from creditgate.timeutil import as_of_problem

log = logging.getLogger("creditgate.service")
JSON_HEADERS = [(b"content-type", b"application/json"), NO_STORE]
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class FastLane:
    def __init__(self, app: ASGIApp, services: Services) -> None:
        self.app, self.services = app, services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path, method = scope["path"], scope["method"]
            if method == "GET" and path.startswith("/v1/users/") and path.endswith("/entry"):
                user_id = path[10:-6]
                valid = "/" not in user_id and user_id_problem(user_id) is None
                body = self.entry(scope, user_id) if valid else None
                if body is not None:
                    await send_json(send, body)
                    return
            if path == "/" and method == "GET" and not scope.get("query_string"):
                response = self.page(scope)
                if response is not None:
                    await response(scope, receive, send)
                    return
            if path == "/v1/decisions" and method == "POST":
                rest = await self.decide(scope, receive, send)
                if rest is not None:
                    await self.app(scope, rest, send)
                return
        await self.app(scope, receive, send)

    def principal(self, scope: Scope, roles: frozenset[str]) -> Principal | None:
        """The caller when it may use the route; None lets FastAPI answer 401/403."""
        header = _header(scope, b"authorization")
        try:
            principal = self.services.auth(header)
        except AuthError:
            return None
        remember_principal(scope, principal)
        return principal if principal.role in roles else None

    def page(self, scope: Scope) -> Response | None:
        """The answer page of a signed-in user; None lets FastAPI answer (the sign-in page)."""
        request = Request(scope)
        try:
            session = signed_in(request, self.services)
            if session is None:
                return None
            response = answer_response(request, self.services, session)
        except Exception as exc:
            return Response(orjson.dumps(internal_error(exc)), 500, media_type="application/json")
        response.headers["cache-control"] = "no-store"
        return response

    def entry(self, scope: Scope, user_id: str) -> bytes | None:
        caller = self.principal(scope, USER_FACING)
        if caller is None or (caller.role == "user" and caller.user_id != user_id):
            return None
        return orjson.dumps(entry_view(self.services, user_id))

    async def decide(self, scope: Scope, receive: Receive, send: Send) -> Receive | None:
        """None when answered here; else the ``receive`` to give FastAPI (nothing was stored:
        it answers with its own error)."""
        caller = self.principal(scope, DECIDERS)
        if caller is None:
            return receive
        key = _header(scope, b"idempotency-key")
        if key is not None and not 1 <= len(key) <= 128:
            return receive
        kind = _header(scope, b"content-type")
        if kind is not None and not _is_json(kind):
            return receive
        body = await _read(receive)
        request = _decision_request(body)
        if request is None:
            return replay(body)
        profile, as_of = request
        try:
            stored, created = await decide_and_store(
                self.services, profile, as_of, key, caller.name
            )
        except (ProfileError, LookupError):  # raised before anything is stored
            return replay(body)
        except IdempotencyConflictError as exc:
            await send_json(send, orjson.dumps({"detail": str(exc)}), status=409)
            return None
        except Exception as exc:
            await send_json(send, orjson.dumps(internal_error(exc)), status=500)
            return None
        replayed = b"false" if created else b"true"
        await send_json(send, decision_json(stored), [(b"idempotent-replayed", replayed)])
        return None


def internal_error(exc: Exception) -> dict[str, str]:
    """The body of a 500: an id to quote. The log line under that id has the exception's type
    and frames, not its message (which may hold personal data: ``logs.safe_traceback``)."""
    error_id = report_error(log, "internal error", exc)
    return {"detail": "internal error", "error_id": error_id}


def _decision_request(body: bytes) -> tuple[dict[str, Any], date | None] | None:
    """``DecisionRequest`` for the shapes it certainly accepts; None for anything else."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict) or not set(data) <= {"profile", "as_of"}:
        return None
    profile, raw = data.get("profile"), data.get("as_of")
    if not isinstance(profile, dict):
        return None
    if raw is None:
        return profile, None
    if not isinstance(raw, str) or _ISO_DATE.fullmatch(raw) is None:
        return None
    try:
        as_of = date.fromisoformat(raw)
    except ValueError:
        return None
    return (profile, as_of) if as_of_problem(as_of) is None else None


def _is_json(kind: str) -> bool:
    media = kind.partition(";")[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def _read(receive: Receive) -> bytes:
    chunks = []
    while True:
        message: Message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def send_json(
    send: Send, body: bytes, extra: list[tuple[bytes, bytes]] | None = None, status: int = 200
) -> None:
    headers = [*JSON_HEADERS, (b"content-length", str(len(body)).encode())]
    if extra:
        headers.extend(extra)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
