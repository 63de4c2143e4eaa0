"""Helpers of the self-check page tests: sign in by link, read the page, post its forms."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from httpx import Response

from conftest import SECRET
from creditgate.service.web.links import issue_link

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def link(user_id: str, ttl_s: int = 600, now: float | None = None) -> str:
    return issue_link(SECRET.encode(), user_id, ttl_s, now=now)


def sign_in(client: TestClient, user_id: str) -> Response:
    r = client.get(f"/?t={link(user_id)}", follow_redirects=False)
    assert r.status_code == 303, r.text
    return r


def page(client: TestClient, query: str = "") -> str:
    r = client.get(f"/{query}")
    assert r.status_code == 200, r.text
    return r.text


def csrf(client: TestClient) -> str:
    found = _CSRF.search(page(client))
    assert found is not None
    return found.group(1)


def post(client: TestClient, path: str, **form: str) -> Response:
    """Post a form of the page with this session's CSRF token (unless one is given)."""
    form.setdefault("csrf", csrf(client))
    return client.post(path, data=form, follow_redirects=False)


def by_testid(html: str, name: str) -> list[str]:
    """The elements with ``data-testid=name``, each from its tag to the end of its line."""
    return re.findall(rf'<[^<>]*data-testid="{re.escape(name)}"[^<>]*>[^\n]*', html)


def state(html: str) -> str:
    found = re.search(r'data-testid="entry-status" data-state="(\w+)"', html)
    assert found is not None, html
    return found.group(1)
