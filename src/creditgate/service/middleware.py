"""Pure ASGI guards run before routing: body size (413), rate limit (429), access log, and
``Cache-Control: no-store`` on every response (they carry personal data and decisions).

The rate limit is per caller: the authenticated principal's name (a user token counts as its
user), else the client's address (host, not port). A second ``Authorization`` header is a 401,
whatever the first said.

The access log (``creditgate.access``, JSON lines: see ``logs``) never prints a raw user id: the
user id after ``/users/`` is replaced by a keyed pseudonym. Uvicorn's own access log is switched
off by ``serve`` for that reason.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from creditgate.service.logs import PRINCIPAL_KEY, actor_name, client_kind
from creditgate.service.security import AuthError, Principal, pseudonym

log = logging.getLogger("creditgate.access")
USER_ROUTE_WORDS = frozenset(  # /v1/users/{id}/<word>
    {
        "entry",
        "consent-withdrawal",
        "lenders",
        "referral-consents",
        "referral-consent-withdrawal",
        "referrals",
    }
)
NO_STORE = (b"cache-control", b"no-store")
MAX_BUCKETS = 100_000


async def _reply(send: Send, status: int, detail: str, headers: list[Any] | None = None) -> None:
    body = orjson.dumps({"detail": detail})
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                NO_STORE,
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class TokenBucket:
    """Per-client token buckets, at most ``capacity`` of them: the least recently used is
    evicted first (the dict is kept in use order), so spraying addresses costs bounded memory
    and never resets everyone's allowance at once."""

    def __init__(self, rate: float, burst: int, capacity: int = MAX_BUCKETS) -> None:
        self.rate, self.burst, self.capacity = rate, float(burst), capacity
        self.buckets: dict[str, tuple[float, float]] = {}

    def allow(self, client: str) -> bool:
        now = time.monotonic()
        tokens, last = self.buckets.pop(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        while len(self.buckets) >= self.capacity:
            del self.buckets[next(iter(self.buckets))]  # least recently used
        allowed = tokens >= 1.0
        self.buckets[client] = (tokens - 1.0 if allowed else tokens, now)
        return allowed


def client_key(
    scope: Scope, authorization: list[bytes], auth: Callable[[str], Principal] | None
) -> str:
    """Whom a request counts against: the principal for valid credentials, else the host."""
    if len(authorization) == 1 and auth is not None:
        try:
            return "p:" + auth(authorization[0].decode("latin-1")).name
        except AuthError:
            pass
    client = scope.get("client")
    return "a:" + (str(client[0]) if client else "")


class GuardMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        max_body: int,
        bucket: TokenBucket | None,
        secret: bytes,
        access_log: bool,
        auth: Callable[[str], Principal] | None = None,
    ) -> None:
        self.app, self.max_body, self.bucket = app, max_body, bucket
        self.secret, self.access_log = secret, access_log
        self.auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answers of its own carry ``Cache-Control: no-store`` like every other answer (the
        fast lane writes it, ``no_store`` adds it to the framework's): no wrapper here, on the
        path of every request."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        authorization = [v for k, v in scope["headers"] if k == b"authorization"]
        limited = self.bucket is not None and not self.bucket.allow(
            client_key(scope, authorization, self.auth)
        )
        if limited:
            await self.refuse(scope, send, 429, "rate limit exceeded", [(b"retry-after", b"1")])
            return
        if len(authorization) > 1:
            await self.refuse(
                scope,
                send,
                401,
                "more than one Authorization header",
                [(b"www-authenticate", b"Bearer")],
            )
            return
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            await self.refuse(scope, send, 413, f"request body larger than {self.max_body} bytes")
            return
        status = [0]
        if "\x00" in scope["path"]:
            await self.refuse(scope, send, 422, "NUL characters are not accepted")
            return
        if scope["method"] in ("POST", "PUT", "PATCH"):
            body = await self.read_body(receive)  # bounded even without a content-length
            if body is None:
                await self.refuse(
                    scope, send, 413, f"request body larger than {self.max_body} bytes"
                )
                return
            if has_nul(body):  # PostgreSQL text cannot hold NUL
                await self.refuse(scope, send, 422, "NUL characters are not accepted")
                return
            receive = replay(body)

        if not self.access_log:
            await self.app(scope, receive, send)
            return

        async def logging_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        start = time.perf_counter()
        try:
            await self.app(scope, receive, logging_send)
        finally:  # an exception still gets its line: the app answers it with a 500
            self.log_access(scope, status[0] or 500, time.perf_counter() - start)

    async def refuse(
        self, scope: Scope, send: Send, status: int, detail: str, headers: list[Any] | None = None
    ) -> None:
        """Answer for the guards, with an access line like any other answer."""
        await _reply(send, status, detail, headers)
        if self.access_log:
            self.log_access(scope, status, 0.0)

    def log_access(self, scope: Scope, status: int, seconds: float) -> None:
        """One structured line: no query string, no header, no raw user id."""
        fields: dict[str, object] = {
            "method": scope["method"],
            "path": self.safe_path(scope["path"]),
            "status": status,
            "ms": round(seconds * 1000, 1),
        }
        state = scope.get("state")
        principal = state.get(PRINCIPAL_KEY) if isinstance(state, dict) else None
        if isinstance(principal, Principal):
            fields["principal"] = actor_name(principal, self.secret)
        else:
            fields["client"] = client_kind(scope)
        log.info("access", extra={"fields": fields})

    def safe_path(self, path: str) -> str:
        """``path`` with everything after a ``users`` segment (a user id may hold ``/``) up to
        the route's last word replaced by its pseudonym; at most 200 characters."""
        head, sep, rest = path.partition("/users/")
        if sep and rest:
            user_id, slash, word = rest.rpartition("/")
            if not slash or word not in USER_ROUTE_WORDS:
                user_id, word = rest, ""
            path = f"{head}/users/{pseudonym(self.secret, user_id)}{'/' if word else ''}{word}"
        return path[:200]

    async def read_body(self, receive: Receive) -> bytes | None:
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return None
            chunks.append(chunk)
            more = message.get("more_body", False)
        return b"".join(chunks)


def has_nul(body: bytes) -> bool:
    """A NUL byte, or a JSON ``\\u0000`` escape that decodes to NUL. The text ``\\\\u0000``
    (an escaped backslash, then ``u0000``) is six ordinary characters and is accepted: an
    escape starts at a backslash preceded by an even number of backslashes."""
    if b"\x00" in body:
        return True
    at = body.find(b"\\u0000")
    while at != -1:
        before = at
        while before > 0 and body[before - 1] == 0x5C:  # backslash
            before -= 1
        if (at - before) % 2 == 0:
            return True
        at = body.find(b"\\u0000", at + 1)
    return False


def no_store(send: Send) -> Send:
    """``send`` adding ``Cache-Control: no-store`` to the response's headers."""

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", ()), NO_STORE]
        await send(message)

    return sending


def replay(body: bytes) -> Receive:
    """A ``receive`` that yields ``body`` (already read) once more."""
    sent = [False]

    async def receive() -> Message:
        if sent[0]:
            return {"type": "http.disconnect"}
        sent[0] = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive
