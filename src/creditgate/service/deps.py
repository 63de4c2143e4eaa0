"""Dependencies, declared once as ``Annotated`` aliases and reused by every route.

They are ``async`` because they do no I/O: FastAPI would run sync ones in a thread pool, which
costs more than the lookups they perform.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request
from sqlalchemy import Engine

from creditgate.identifiers import user_id_problem
from creditgate.service.logs import remember_principal
from creditgate.service.security import Authenticator, AuthError, Principal
from creditgate.service.settings import Settings
from creditgate.service.state import ServiceState
from creditgate.store.catalog import Catalog
from creditgate.store.changes import ChangeLog
from creditgate.store.events import EventLog
from creditgate.store.repo import DecisionLog
from creditgate.store.revocation import RevocationList
from creditgate.store.writer import GroupWriter


@dataclass
class Services:
    settings: Settings
    engine: Engine
    log: DecisionLog
    catalog: Catalog
    state: ServiceState
    secret: bytes
    writer: GroupWriter
    events: EventLog  # operator actions, erasures (store/events.py)
    changes: ChangeLog
    revoked: RevocationList  # user-token ids refused, refreshed with the state
    auth: Authenticator  # header -> principal, with a cache of verified tokens


async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_principal(
    request: Request,
    services: ServicesDep,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Principal:
    try:
        principal = services.auth(authorization)
    except AuthError as exc:
        raise HTTPException(401, str(exc), headers={"WWW-Authenticate": "Bearer"}) from None
    remember_principal(request.scope, principal)  # for the access line
    return principal


DECIDERS = frozenset({"service", "admin"})  # also used by the fast lane (fastlane.py)
USER_FACING = frozenset({"service", "admin", "user"})


def require(*roles: str) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency admitting only ``roles`` (403 for any other authenticated caller)."""

    async def check(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
        if principal.role not in roles:
            raise HTTPException(403, "this token's role may not do that")
        return principal

    return check


Decider = Annotated[Principal, Depends(require(*DECIDERS))]
UserFacing = Annotated[Principal, Depends(require(*USER_FACING))]
Reader = Annotated[Principal, Depends(require("service", "viewer", "operator", "admin", "user"))]
AdminReader = Annotated[Principal, Depends(require("viewer", "operator", "admin"))]
AdminWriter = Annotated[Principal, Depends(require("operator", "admin"))]
Approver = Annotated[Principal, Depends(require("admin"))]


def own_user(principal: Principal, user_id: str) -> None:
    """Users may act only on themselves; staff roles were already checked. A path user id
    outside the character set (``identifiers``) is 422, before any lookup or write."""
    problem = user_id_problem(user_id)
    if problem is not None:
        raise HTTPException(
            422, [{"loc": ["path", "user_id"], "msg": problem, "type": "value_error"}]
        )
    if principal.role == "user" and principal.user_id != user_id:
        raise HTTPException(403, "a user token may only access its own user")
