"""Hypothesis against the Authorization header, straight through the ASGI app (no HTTP client
cleaning anything up): non-ASCII and non-latin-1 bytes, odd spellings, duplicates, oversized
values. Never a 5xx; authenticated only for exactly one header holding a valid token."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import SECRET, TOKENS, make_settings
from creditgate.service.app import CreditgateAPI, create_app
from creditgate.service.security import issue_user_token

PATHS = [
    ("GET", "/v1/admin/policies"),  # FastAPI; viewer+
    ("GET", "/v1/users/alice/entry"),  # the fast lane; service, admin or user alice
    ("POST", "/v1/decisions"),  # the fast lane, then FastAPI (the body is not a request)
]
ADMIN = TOKENS["admin"]
# issued at import: valid for a day, so a slow run (collection to this test) cannot expire it
USER = issue_user_token(SECRET.encode(), "alice", 24 * 3600)
VALID = [ADMIN, USER]


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> CreditgateAPI:
    db = Path(tmp_path_factory.mktemp("fuzz")) / "f.db"
    return create_app(make_settings(f"sqlite:///{db}"))


def call(app: CreditgateAPI, method: str, path: str, values: list[bytes]) -> int:
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"authorization", v) for v in values] + [(b"content-length", b"2")],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
    }
    status: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    asyncio.run(app(scope, receive, send))
    return status[0]


def mangle(token: str) -> st.SearchStrategy[str]:
    """A valid token with one character replaced, dropped or added anywhere."""
    return st.tuples(
        st.integers(0, len(token) - 1), st.characters(), st.sampled_from(["set", "drop", "add"])
    ).map(
        lambda t: (
            token[: t[0]] + t[1] + token[t[0] + 1 :]
            if t[2] == "set"
            else token[: t[0]] + token[t[0] + 1 :]
            if t[2] == "drop"
            else token[: t[0]] + t[1] + token[t[0] :]
        )
    )


SPACES = st.text(alphabet=" \t\xa0\x85\x0b", min_size=1, max_size=4)
SCHEME = st.sampled_from(["Bearer", "bearer", "BEARER", "bEaReR"])
VALID_HEADER = st.builds(
    lambda s, sp, t: f"{s}{sp}{t}".encode(), SCHEME, SPACES, st.sampled_from(VALID)
)
INVALID_HEADER = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=300).map(lambda s: s.encode("utf-8", "surrogatepass")),
    st.builds(lambda s, t: f"{s} {t}".encode("utf-8", "surrogatepass"), SCHEME, mangle(USER)),
    st.builds(lambda s, t: f"{s} {t}".encode("utf-8", "surrogatepass"), SCHEME, mangle(ADMIN)),
    st.builds(lambda t: f"Bearer {t}".encode(), st.text(max_size=100).map(lambda s: "cgu." + s)),
    st.builds(lambda n: b"Bearer " + b"A" * n, st.integers(2000, 70_000)),
    st.sampled_from([f"Token {ADMIN}".encode(), ADMIN.encode(), f"Bearer {ADMIN} x".encode()]),
)


@given(
    where=st.sampled_from(PATHS),
    headers=st.lists(st.one_of(VALID_HEADER, INVALID_HEADER), max_size=3),
)
@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_authorization_headers_never_crash_or_let_in_the_invalid(
    app: CreditgateAPI, where: tuple[str, str], headers: list[bytes]
) -> None:
    method, path = where
    status = call(app, method, path, headers)
    assert status < 500
    parts = re.split(rb"[ \t]+", headers[0].strip(b" \t")) if len(headers) == 1 else []
    valid = (
        len(parts) == 2 and parts[0].lower() == b"bearer" and parts[1].decode("latin-1") in VALID
    )
    if not valid:
        assert status == 401, (headers, status)
    elif path == "/v1/admin/policies":
        assert status == (200 if parts[1] == ADMIN.encode() else 403)
    elif path.endswith("/entry"):
        assert status == 200
    else:
        assert status in (403, 422)  # user 403; admin: the empty body is invalid
