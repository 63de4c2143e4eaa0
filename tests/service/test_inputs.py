"""Issue 13, findings 4, 7 and 9 (input half): hostile inputs get a fast 422 naming the rule,
never a 500, never an echo of the submitted value; on the fast lane and on FastAPI alike."""

from __future__ import annotations

import time
from urllib.parse import quote

import orjson
import pytest
from fastapi.testclient import TestClient
from test_api import AS_OF, STRONG
from test_fastlane import framework_only

from conftest import auth
from unsafe_policy import unsafe_cn_policy

BAD_IDS = ["zqx ", "zqx\u200b", "zq\x07x", "z" * 65, "cafe\u0301"]
BILLION_LAUGHS = "\n".join(
    [
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
        *(
            f"{n}: &{n} [{','.join([f'*{p}'] * 9)}]"
            for p, n in zip("abcdefgh", "bcdefghi", strict=True)
        ),
    ]
)


def post_decision(client: TestClient, profile: object, as_of: str | None = AS_OF):
    body: dict[str, object] = {"profile": profile} | ({"as_of": as_of} if as_of else {})
    return client.post("/v1/decisions", json=body, headers=auth("service"))


def both_lanes(client: TestClient, call):  # type: ignore[no-untyped-def]
    """The response through the guards and the fast lane, then through FastAPI alone."""
    fast = call()
    with framework_only(client):
        slow = call()
    return fast, slow


@pytest.mark.parametrize("user_id", BAD_IDS)
def test_bad_user_id_is_422_at_every_route(client: TestClient, user_id: str) -> None:
    path = quote(user_id, safe="")
    calls = [
        lambda: client.get(f"/v1/users/{path}/entry", headers=auth("service")),
        lambda: client.post(f"/v1/users/{path}/consent-withdrawal", headers=auth("admin")),
        lambda: post_decision(client, STRONG | {"user_id": user_id}),
    ]
    for call in calls:
        for r in both_lanes(client, call):
            assert r.status_code == 422, r.text
            assert "user id must" in r.text or "at most 64 characters" in r.text
            assert "zq" not in r.text and "caf" not in r.text
            assert r.json()["detail"][0]["loc"][-1] == "user_id"


def test_long_user_id_in_the_path_is_422_not_500(client: TestClient) -> None:
    r = client.post(f"/v1/users/{'u' * 60_000}/consent-withdrawal", headers=auth("admin"))
    assert r.status_code == 422


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"pay_score": 2**70}, "pay_score"),
        ({"applications_7d": -(2**64)}, "applications_7d"),
        ({"extra": {"deep": [1, 2**65]}}, "extra.deep.1"),
    ],
)
def test_integer_beyond_64_bits_is_422_naming_the_field(
    client: TestClient, change: dict[str, object], field: str
) -> None:
    for r in both_lanes(client, lambda: post_decision(client, STRONG | change)):
        assert r.status_code == 422, r.text
        assert r.json()["detail"][0]["loc"] == ["body", "profile", *field.split(".")]
        assert "64 bits" in r.json()["detail"][0]["msg"]


@pytest.mark.parametrize(
    ("change", "as_of", "secret"),
    [
        ({"birth_date": "2026-11-29"}, AS_OF, "2026-11-29"),
        ({"birth_date": "0001-01-01"}, AS_OF, "0001-01-01"),
        ({"birth_date": "1906-11-27"}, AS_OF, "1906-11-27"),
        ({}, "2099-01-01", "2099"),
        ({}, "1999-12-31", "1999"),
    ],
)
def test_implausible_dates_are_422_without_echo(
    client: TestClient, change: dict[str, object], as_of: str, secret: str
) -> None:
    for r in both_lanes(client, lambda: post_decision(client, STRONG | change, as_of)):
        assert r.status_code == 422, r.text
        assert secret not in r.text


def test_birth_date_exactly_120_years_back_is_accepted(client: TestClient) -> None:
    assert post_decision(client, STRONG | {"birth_date": "1906-11-28"}).status_code == 200


def test_a_written_backslash_u0000_is_text_but_a_real_nul_is_refused(client: TestClient) -> None:
    text_id = "u\\u0000x"  # backslash, u, 0000: six ordinary characters
    r = post_decision(client, STRONG | {"user_id": text_id})
    assert r.status_code == 200, r.text
    assert r.json()["user_id"] == text_id
    r = post_decision(client, STRONG | {"user_id": "u\u0000x"})
    assert r.status_code == 422 and "NUL" in r.text


@pytest.mark.parametrize(
    "text", [BILLION_LAUGHS, "a: " + "[" * 20_000 + "]" * 20_000, "a: " + "{a: " * 14_000]
)
@pytest.mark.parametrize("route", ["/v1/admin/policies/lint", "/v1/admin/policies"])
def test_hostile_yaml_is_422_fast_without_traceback(
    client: TestClient, text: str, route: str
) -> None:
    start = time.perf_counter()
    r = client.post(route, json={"text": text}, headers=auth("admin"))
    # A guard against a parser that expands the text (minutes and gigabytes), not a speed
    # target: 1 s flaked on the shared 2-core machine under load (1.6 s seen).
    assert time.perf_counter() - start < 10.0
    assert r.status_code == 422
    assert "Traceback" not in r.text and len(r.text) < 2_000


def test_policy_without_cn_mandatory_rules_is_refused(client: TestClient) -> None:
    text = unsafe_cn_policy()
    r = client.post("/v1/admin/policies/lint", json={"text": text}, headers=auth("viewer"))
    assert r.status_code == 200 and r.json()["errors"] >= 5
    checks = {f["check"] for f in r.json()["findings"]}
    assert {"CN_MANDATORY", "CN_CUTOFF"} <= checks
    r = client.post("/v1/admin/policies", json={"text": text}, headers=auth("admin"))
    assert r.status_code == 422 and "CN_MANDATORY" in r.text
    listed = client.get("/v1/admin/policies", headers=auth("viewer")).json()
    assert "unsafe.1" not in {p["version"] for p in listed}
    assert orjson.loads(r.content)["detail"]
