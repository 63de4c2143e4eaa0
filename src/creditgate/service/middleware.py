"""Pure ASGI guards run before routing: body size (413), rate limit (429), access log.

The access log (``creditgate.access``, JSON lines: see ``logs``) never prints a raw user id: the
user id after ``/users/`` is replaced by a keyed pseudonym. Uvicorn's own access log is switched
off by ``serve`` for that reason.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from creditgate.service.logs import PRINCIPAL_KEY, actor_name, client_kind
from creditgate.service.security import Principal, pseudonym

log = logging.getLogger("creditgate.access")
USER_ROUTE_WORDS = frozenset({"entry", "consent-withdrawal"})  # /v1/users/{id}/<word>


async def _reply(send: Send, status: int, detail: str, headers: list[Any] | None = None) -> None:
    body = orjson.dumps({"detail": detail})
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class TokenBucket:
    """Per-client token buckets; a client is its bearer token, else its address."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, float(burst)
        self.buckets: dict[bytes, tuple[float, float]] = {}

    def allow(self, client: bytes) -> bool:
        now = time.monotonic()
        tokens, last = self.buckets.get(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if len(self.buckets) > 100_000:  # bound memory under address spraying
            self.buckets.clear()
        if tokens < 1.0:
            self.buckets[client] = (tokens, now)
            return False
        self.buckets[client] = (tokens - 1.0, now)
        return True


class GuardMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        max_body: int,
        bucket: TokenBucket | None,
        secret: bytes,
        access_log: bool,
    ) -> None:
        self.app, self.max_body, self.bucket = app, max_body, bucket
        self.secret, self.access_log = secret, access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        if self.bucket is not None:
            client = headers.get(b"authorization") or str(scope.get("client")).encode()
            if not self.bucket.allow(client):
                await _reply(send, 429, "rate limit exceeded", [(b"retry-after", b"1")])
                return
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            await _reply(send, 413, f"request body larger than {self.max_body} bytes")
            return
        status = [0]
        if "\x00" in scope["path"]:
            await _reply(send, 422, "NUL characters are not accepted")
            return
        if scope["method"] in ("POST", "PUT", "PATCH"):
            body = await self.read_body(receive)  # bounded even without a content-length
            if body is None:
                await _reply(send, 413, f"request body larger than {self.max_body} bytes")
                return
            if b"\\u0000" in body or b"\x00" in body:  # PostgreSQL text cannot hold NUL
                await _reply(send, 422, "NUL characters are not accepted")
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


def replay(body: bytes) -> Receive:
    """A ``receive`` that yields ``body`` (already read) once more."""
    sent = [False]

    async def receive() -> Message:
        if sent[0]:
            return {"type": "http.disconnect"}
        sent[0] = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive
