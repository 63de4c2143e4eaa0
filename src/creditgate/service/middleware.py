"""Pure ASGI guards run before routing: body size (413), rate limit (429), access log.

The access log never prints a raw user id: path segments after ``/users/`` are replaced by a
keyed pseudonym. Uvicorn's own access log is switched off by ``serve`` for that reason.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from creditgate.service.security import pseudonym

log = logging.getLogger("creditgate.access")


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
            if has_nul(body):  # PostgreSQL text cannot hold NUL
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
        await self.app(scope, receive, logging_send)
        log.info(
            "%s %s %d %.1fms",
            scope["method"],
            self.safe_path(scope["path"]),
            status[0],
            (time.perf_counter() - start) * 1000,
        )

    def safe_path(self, path: str) -> str:
        parts = path.split("/")
        for i, part in enumerate(parts[:-1]):
            if part == "users":
                parts[i + 1] = pseudonym(self.secret, parts[i + 1])
        return "/".join(parts)

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


def replay(body: bytes) -> Receive:
    """A ``receive`` that yields ``body`` (already read) once more."""
    sent = [False]

    async def receive() -> Message:
        if sent[0]:
            return {"type": "http.disconnect"}
        sent[0] = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive
