"""The FastAPI application factory: ``create_app(settings)``.

Errors never carry stack traces or the submitted values (a profile is personal data): a
validation error names the field path and the rule, an unexpected error gets an id to quote.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path

import anyio
import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from creditgate.profile import ProfileError
from creditgate.service.console.routes import install as install_console
from creditgate.service.deciding import IdempotencyConflictError
from creditgate.service.deps import AdminReader, Services
from creditgate.service.fastlane import FastLane, internal_error, send_json
from creditgate.service.logs import ERROR_ID_KEY, configure_logging, report_error
from creditgate.service.middleware import GuardMiddleware, TokenBucket, no_store
from creditgate.service.ops import bootstrap
from creditgate.service.routes import (
    admin,
    changes,
    decisions,
    entry,
    experiments,
    health,
    referrals,
    reviews,
    tokens,
)
from creditgate.service.security import Authenticator
from creditgate.service.settings import Settings
from creditgate.service.snapshot_files import snapshot_directory
from creditgate.service.snapshot_reviews import SnapshotReviewJobs
from creditgate.service.state import ServiceState
from creditgate.service.web.routes import install as install_self_check
from creditgate.store.anchors import anchor, parse_keys
from creditgate.store.catalog import Catalog
from creditgate.store.changes import ChangeLog
from creditgate.store.db import make_engine
from creditgate.store.repo import DecisionLog
from creditgate.store.revocation import RevocationList
from creditgate.store.writer import GroupWriter

log = logging.getLogger("creditgate.service")
SHUTDOWN_WAIT_S = 30.0  # how long shutdown waits for queuing a snapshot's manual reviews


class CreditgateAPI(FastAPI):
    """FastAPI behind the guards and the fast lane: ``front`` sees every request first
    (size, rate limit, then the hot routes' ordinary requests, see ``fastlane``) and hands
    the rest to the framework."""

    front: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.front is None:
            await super().__call__(scope, receive, send)
            return
        try:
            await self.front(scope, receive, send)
        except Exception as exc:  # the server would log it with its message, which may be personal
            if scope["type"] != "http":
                raise
            if ERROR_ID_KEY not in scope:  # not yet reported by ``_internal``
                body = internal_error(exc)
                # refused by the server (and ignored) if the response had already started: no
                # wrapper tracks that on the path of every request
                with suppress(Exception):
                    await send_json(send, orjson.dumps(body), status=500)

    async def framework(self, scope: Scope, receive: Receive, send: Send) -> None:
        await super().__call__(scope, receive, no_store(send))


def create_app(settings: Settings | None = None) -> CreditgateAPI:
    """Build the app; migrations and policy registration run here unless ``migrate`` is off
    (``creditgate serve`` does them once before starting several workers)."""
    settings = settings or Settings()
    configure_logging(settings.log_level)
    if not settings.secret:
        settings.secret = secrets.token_hex(32)  # user tokens then live only as long as this
        log.warning("CREDITGATE_SECRET unset: user tokens from other processes will not verify")
    settings.principals  # noqa: B018 - fail at startup on a malformed CREDITGATE_TOKENS
    if settings.migrate:
        bootstrap(settings)
    engine = make_engine(settings.db_url)
    catalog = Catalog(engine)
    decision_log = DecisionLog(engine)
    revoked = RevocationList(engine)
    services = Services(
        settings,
        engine,
        decision_log,
        catalog,
        ServiceState(
            catalog,
            snapshot_directory(settings),
            settings.db_url,
            decision_log,
            human_days=settings.human_decision_days,
        ),
        settings.secret_bytes,
        GroupWriter(decision_log),
        decision_log.events,
        ChangeLog(decision_log.events),
        revoked,
        Authenticator(settings.principals, settings.secret_keys, settings.max_token_ttl_s, revoked),
    )
    reviews_at_activation = SnapshotReviewJobs(services)  # the batch's manual reviews
    services.state.on_snapshot = reviews_at_activation.start
    services.state.refresh()  # usable before the lifespan runs (in-process test clients)
    revoked.refresh()
    anchor_keys = parse_keys(settings.anchor_keys) if settings.anchor_path else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services.state.refresh()
        # Startup objects (compiled policies, the snapshot's ids, the framework) live as long
        # as the process: keep them out of the cyclic GC's full passes, which otherwise walk
        # them all and stall requests for milliseconds (p99).
        gc.collect()
        gc.freeze()
        tasks = [asyncio.create_task(_refresh_forever(services))]
        if anchor_keys is not None:
            tasks.append(asyncio.create_task(_anchor_forever(services, anchor_keys)))
        yield
        for task in tasks:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
        if anchor_keys is not None:  # a last anchor on a clean shutdown
            await anyio.to_thread.run_sync(_anchor_once, services, anchor_keys)
        # an unfinished run is repeated by the next start (idempotent)
        await anyio.to_thread.run_sync(reviews_at_activation.join, SHUTDOWN_WAIT_S)
        engine.dispose()

    public_docs = settings.public_docs
    app = CreditgateAPI(
        title="creditgate",
        version="0.1.0",
        lifespan=lifespan,
        description="Invitation-only consumer credit decisions, audited.",
        docs_url="/docs" if public_docs else None,
        redoc_url="/redoc" if public_docs else None,
        openapi_url="/openapi.json" if public_docs else None,
    )
    app.state.services = services
    app.state.snapshot_reviews = reviews_at_activation
    if not public_docs:
        _guarded_docs(app)
    routers = (decisions, entry, reviews, referrals, admin, changes, experiments, tokens, health)
    for module in routers:
        app.include_router(module.router)
    install_self_check(app, services)  # the self-check page at / (service/web)
    install_console(app)  # the operator console at /console (service/console)
    bucket = (
        TokenBucket(settings.rate_limit_per_s, settings.rate_limit_burst)
        if settings.rate_limit_per_s > 0
        else None
    )
    app.front = GuardMiddleware(
        FastLane(app.framework, services),
        max_body=settings.max_body_bytes,
        bucket=bucket,
        secret=settings.secret_bytes,
        access_log=settings.access_log,
        auth=services.auth,
    )
    app.add_exception_handler(RequestValidationError, _invalid)  # type: ignore[arg-type]
    app.add_exception_handler(IdempotencyConflictError, _conflict)  # type: ignore[arg-type]
    app.add_exception_handler(ProfileError, _bad_profile)  # type: ignore[arg-type]
    app.add_exception_handler(LookupError, _unavailable)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _internal)
    return app


async def _refresh_forever(services: Services) -> None:
    while True:
        await asyncio.sleep(services.settings.state_refresh_s)
        try:
            await anyio.to_thread.run_sync(services.state.refresh)
            await anyio.to_thread.run_sync(services.revoked.refresh)
        except Exception as exc:  # keep serving the last good state
            report_error(log, "state refresh failed", exc)


def _anchor_once(services: Services, keys: dict[str, bytes]) -> None:
    assert services.settings.anchor_path is not None
    try:
        anchor(services.engine, keys, Path(services.settings.anchor_path))
    except Exception as exc:  # keep serving; the next period tries again
        log.error("anchor failed: %s", type(exc).__name__)


async def _anchor_forever(services: Services, keys: dict[str, bytes]) -> None:
    """Sign the chain heads now and then every ``anchor_interval_s`` (each worker does; the
    file is appended under a lock)."""
    while True:
        await anyio.to_thread.run_sync(_anchor_once, services, keys)
        await asyncio.sleep(services.settings.anchor_interval_s)


def _guarded_docs(app: FastAPI) -> None:
    """The API description behind a viewer (or higher) token: it maps the attack surface."""

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi(_: AdminReader) -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False)
    async def swagger(_: AdminReader) -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="creditgate")

    @app.get("/redoc", include_in_schema=False)
    async def redoc(_: AdminReader) -> HTMLResponse:
        return get_redoc_html(openapi_url="/openapi.json", title="creditgate")


async def _conflict(_: Request, exc: IdempotencyConflictError) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=409)


async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
    detail = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
    return JSONResponse({"detail": detail}, status_code=422)


async def _bad_profile(_: Request, exc: ProfileError) -> JSONResponse:
    detail = [
        {"loc": ["body", "profile", *p.field.split(".")], "msg": p.message, "type": "value_error"}
        for p in exc.problems
    ]
    return JSONResponse({"detail": detail}, status_code=422)


async def _unavailable(_: Request, exc: LookupError) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=503)


async def _internal(request: Request, exc: Exception) -> JSONResponse:
    body = internal_error(exc)
    request.scope[ERROR_ID_KEY] = body["error_id"]  # Starlette re-raises it after the answer
    return JSONResponse(body, status_code=500)


def app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory`` in each worker (settings from the environment)."""
    return create_app(Settings())
