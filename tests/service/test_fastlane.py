"""The fast lane answers exactly as the FastAPI routes would, and hands every other request
(errors included) to FastAPI."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import orjson
from fastapi.testclient import TestClient
from test_api import AS_OF, STRONG

from conftest import auth


@contextmanager
def framework_only(client: TestClient) -> Iterator[None]:
    """Serve through FastAPI alone (no guards, no fast lane) for a comparison."""
    app = client.app
    front, app.front = app.front, None  # type: ignore[attr-defined]
    try:
        yield
    finally:
        app.front = front  # type: ignore[attr-defined]


def same(fast: httpx.Response, slow: httpx.Response) -> None:
    assert (fast.status_code, fast.json()) == (slow.status_code, slow.json())
    for header in ("content-type", "idempotent-replayed"):
        assert fast.headers.get(header) == slow.headers.get(header), header


def test_entry_and_decision_match_the_framework(client: TestClient) -> None:
    url = f"/v1/users/{STRONG['user_id']}/entry"
    fast = client.get(url, headers=auth("service"))
    with framework_only(client):
        slow = client.get(url, headers=auth("service"))
    same(fast, slow)
    body = {"profile": STRONG, "as_of": AS_OF}
    headers = auth("service") | {"Idempotency-Key": "same-key"}
    first = client.post("/v1/decisions", json=body, headers=headers)
    assert first.headers["idempotent-replayed"] == "false"
    again = client.post("/v1/decisions", json=body, headers=headers)
    with framework_only(client):
        slow = client.post("/v1/decisions", json=body, headers=headers)
    same(again, slow)
    assert slow.json() == first.json()


def test_other_requests_get_the_framework_answers(client: TestClient) -> None:
    post = "/v1/decisions"
    good = orjson.dumps({"profile": STRONG, "as_of": AS_OF})
    cases = [
        ("GET", "/v1/users/alice/entry", {}, None),  # no token
        ("POST", post, {"Authorization": "Bearer nope-nope-nope"}, good),
        ("POST", post, auth("viewer"), good),  # wrong role
        ("POST", post, auth("service") | {"Content-Type": "text/plain"}, good),
        ("POST", post, auth("service") | {"Idempotency-Key": "k" * 129}, good),
        ("POST", post, auth("service"), b"{not json"),
        ("POST", post, auth("service"), orjson.dumps({"profile": STRONG, "extra": 1})),
        ("POST", post, auth("service"), orjson.dumps({"profile": STRONG, "as_of": "20261128"})),
        ("POST", post, auth("service"), orjson.dumps({"profile": STRONG, "as_of": "1999-12-31"})),
        ("POST", post, auth("service"), orjson.dumps({"profile": STRONG | {"pay_score": "x"}})),
    ]
    for method, url, headers, content in cases:
        fast = client.request(method, url, headers=headers, content=content)
        assert fast.status_code in (401, 403, 422), (url, headers, content, fast.text)
        with framework_only(client):
            slow = client.request(method, url, headers=headers, content=content)
        same(fast, slow)
        assert fast.headers.get("www-authenticate") == slow.headers.get("www-authenticate")


def test_the_answer_page_matches_the_framework(client: TestClient) -> None:
    from selfcheck_helpers import sign_in
    from test_api import decide

    decide(client, STRONG | {"user_id": "page-user", "pay_score": 580})  # refused: reasons
    sign_in(client, "page-user")
    fast = client.get("/")
    with framework_only(client):
        slow = client.get("/")
    assert fast.status_code == slow.status_code == 200
    csrf = 'name="csrf" value="'
    assert fast.text.count(csrf) == slow.text.count(csrf) >= 1
    assert fast.text == slow.text and 'data-testid="reason"' in fast.text
    for header in ("content-type", "content-security-policy", "referrer-policy"):
        assert fast.headers.get(header) == slow.headers.get(header), header
    assert fast.headers["cache-control"] == "no-store"  # (the guards add it to the framework's)
    client.cookies.clear()  # no session: the framework's sign-in page, not the lane
    assert client.get("/").status_code == 401
