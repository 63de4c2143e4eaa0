"""Structured logs: one JSON object per line on stderr, never a raw identifier or a value.

Every line has ``ts`` (ISO 8601, UTC with its offset), ``level``, ``logger`` and ``event``, plus
the fields passed as ``extra={"fields": {...}}``. Exception messages are never written: a
psycopg ``IntegrityError`` says ``DETAIL: Key (user_id)=(...)`` and SQLAlchemy errors embed
the statement's parameters, so a traceback is reduced to its frames (file, line, function)
and the exception type names along the chain (``safe_traceback``), logged behind an error id.
"""

from __future__ import annotations

import logging
import logging.config
import os
import sys
import traceback
from collections.abc import Mapping, MutableMapping
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import orjson

from creditgate.service.security import Principal, pseudonym

PRINCIPAL_KEY = "creditgate.principal"  # in the ASGI scope's ``state``: who made the request
ERROR_ID_KEY = "creditgate.error_id"  # in the ASGI scope: this request's failure was reported
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_RESERVED = ("ts", "level", "logger", "event")

admin_log = logging.getLogger("creditgate.admin")
ADMIN_VIA: ContextVar[str | None] = ContextVar("creditgate_admin_via", default=None)
"""The surface an admin act came through when it is not the API (``"console"``): the act's
own trail line carries it as ``via``, so one act is one line whichever surface made it."""


def safe_traceback(exc: BaseException) -> list[dict[str, Any]]:
    """The exception chain, innermost cause first as Python prints it: each exception's
    qualified type name and its frames as ``file:line in function``; no messages, no source."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain and len(chain) < 16:
        chain.append(current)
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    return [
        {
            "type": _type_name(item),
            "frames": [
                f"{f.filename}:{f.lineno} in {f.name}"
                for f in traceback.extract_tb(item.__traceback__)
            ],
        }
        for item in reversed(chain)
    ]


def _type_name(exc: BaseException) -> str:
    kind = type(exc)
    return (
        kind.__qualname__
        if kind.__module__ == "builtins"
        else f"{kind.__module__}.{kind.__qualname__}"
    )


def report_error(logger: logging.Logger, event: str, exc: BaseException, **fields: Any) -> str:
    """Log ``exc`` at error level behind a fresh error id (returned, for the response)."""
    error_id = os.urandom(6).hex()
    logger.error(
        event,
        extra={
            "fields": {
                "error_id": error_id,
                "error": _type_name(exc),
                **fields,
                "traceback": safe_traceback(exc),
            }
        },
    )
    return error_id


class JsonFormatter(logging.Formatter):
    """A record as one JSON line; ``exc_info`` (e.g. uvicorn's "Exception in ASGI
    application") goes through ``safe_traceback`` like everything else."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "event": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update((k, v) for k, v in fields.items() if k not in _RESERVED)
        if record.exc_info and record.exc_info[1] is not None:
            line.setdefault("error", _type_name(record.exc_info[1]))
            line["traceback"] = safe_traceback(record.exc_info[1])
        return orjson.dumps(line, default=str).decode()


class StderrHandler(logging.Handler):
    """Writes each line with one ``write`` to the current ``sys.stderr`` (looked up per record,
    so a replaced stderr, as under pytest, is followed; one write keeps the lines of several
    workers sharing a pipe from interleaving)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + "\n"
            sys.stderr.write(line)
            sys.stderr.flush()
        except Exception:
            self.handleError(record)


def check_level(level: str) -> str:
    """``level`` upper-cased; a ValueError naming the choices for anything else."""
    name = level.strip().upper()
    if name not in LEVELS:
        raise ValueError(f"CREDITGATE_LOG_LEVEL: {level!r} is not one of {', '.join(LEVELS)}")
    return name


def logging_config(level: str) -> dict[str, Any]:
    """A ``dictConfig`` (also handed to uvicorn, which applies it in every worker): the
    ``creditgate`` and ``uvicorn`` loggers write JSON lines; uvicorn's access log stays off
    (``creditgate.access`` is written by the guard middleware instead)."""
    name = check_level(level)
    json_out = {"handlers": ["json"], "level": name, "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": f"{__name__}.JsonFormatter"}},
        "handlers": {"json": {"class": f"{__name__}.StderrHandler", "formatter": "json"}},
        "loggers": {
            "creditgate": {**json_out, "propagate": True},
            "uvicorn": json_out,
            "uvicorn.error": {"level": name},
            "uvicorn.access": {"handlers": [], "level": "CRITICAL", "propagate": False},
        },
    }


def configure_logging(level: str) -> None:
    """Install the JSON handler on the ``creditgate`` logger once (``serve`` has already done
    so through uvicorn; ``create_app`` calls this for other hosts) and set the level."""
    name = check_level(level)
    root = logging.getLogger("creditgate")
    root.setLevel(name)
    if not any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        handler = StderrHandler()
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)


def actor_name(principal: Principal, secret: bytes) -> str:
    """Who acted, for logs: a staff principal's name (its role before names existed), a user
    token's holder as ``user:`` and the pseudonym of the id."""
    if principal.role == "user":
        return "user:" + pseudonym(secret, principal.user_id or "")
    name = getattr(principal, "name", None)
    return str(name) if name else principal.role


def remember_principal(scope: MutableMapping[str, Any], principal: Principal) -> None:
    """Record who made the request (in the scope's ``state``) for its access line."""
    scope.setdefault("state", {})[PRINCIPAL_KEY] = principal


def client_kind(scope: Mapping[str, Any]) -> str:
    """What kind of credentials a request brought, for access lines whose principal is
    unknown (not or not yet authenticated): ``anonymous``, ``user-token`` or ``bearer``."""
    for key, value in scope["headers"]:
        if key == b"authorization":
            token = value.partition(b" ")[2].strip()
            return "user-token" if token.startswith(b"cgu.") else "bearer"
    return "anonymous"


def audit_log(action: str, actor: str, subject: str | None, **fields: str | int | None) -> None:
    """One line of the admin-action trail (logger ``creditgate.admin``). ``subject`` must be a
    pseudonym (``security.pseudonym``) or a non-personal id (policy version, snapshot id)."""
    via = ADMIN_VIA.get()
    if via is not None:
        fields = {**fields, "via": via}
    admin_log.info(
        "admin action",
        extra={"fields": {**fields, "action": action, "actor": actor, "subject": subject}},
    )
