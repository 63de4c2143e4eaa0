"""Finding 3: an ``Idempotency-Key`` belongs to its caller and to its request, on both lanes
(the fast lane and the FastAPI route) and on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest
from fastapi.testclient import TestClient

from conftest import auth, make_settings
from creditgate.examples import example_profiles
from creditgate.service.app import create_app
from creditgate.store.db import make_engine, migrate
from creditgate.store.repo import KEY_CONFLICT, DecisionLog, Pending, verify

AS_OF = "2026-11-28"
PROFILES = [orjson.loads(doc) for _, doc in example_profiles()]
FIRST, OTHER = PROFILES[0], PROFILES[1]


@pytest.fixture(params=["fast", "framework"])
def lane_client(request: pytest.FixtureRequest, db_url: str) -> Iterator[TestClient]:
    app = create_app(make_settings(db_url))
    if request.param == "framework":  # FastAPI's route, without the fast lane in front
        app.front = None
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def post(client: TestClient, role: str, profile: dict[str, object], key: str):
    headers = auth(role) | {"Idempotency-Key": key}
    body = {"profile": profile, "as_of": AS_OF}
    return client.post("/v1/decisions", json=body, headers=headers)


def stored(client: TestClient) -> int:
    checked, problem = verify(client.app.state.services.log)  # type: ignore[attr-defined]
    assert problem is None
    return checked


def test_same_caller_same_body_replays(lane_client: TestClient) -> None:
    first = post(lane_client, "service", FIRST, "k-1")
    again = post(lane_client, "service", FIRST, "k-1")
    assert first.status_code == again.status_code == 200
    assert first.headers["idempotent-replayed"] == "false"
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert stored(lane_client) == 1


def test_same_key_other_body_is_409_and_stores_nothing(lane_client: TestClient) -> None:
    first = post(lane_client, "service", FIRST, "k-1")
    clash = post(lane_client, "service", OTHER, "k-1")
    assert clash.status_code == 409
    assert "decision_id" not in clash.text and first.json()["user_id"] not in clash.text
    assert "idempotent-replayed" not in clash.headers
    as_of_moved = lane_client.post(
        "/v1/decisions",
        json={"profile": FIRST, "as_of": "2026-11-29"},
        headers=auth("service") | {"Idempotency-Key": "k-1"},
    )
    assert as_of_moved.status_code == 409
    assert stored(lane_client) == 1


def test_same_key_other_caller_is_independent(lane_client: TestClient) -> None:
    mine = post(lane_client, "service", FIRST, "shared")
    theirs = post(lane_client, "admin", OTHER, "shared")
    assert theirs.status_code == 200, theirs.text
    assert theirs.headers["idempotent-replayed"] == "false"
    assert theirs.json()["decision_id"] != mine.json()["decision_id"]
    assert theirs.json()["user_id"] == OTHER["user_id"]
    assert stored(lane_client) == 2


def test_key_order_and_spacing_do_not_make_another_request(lane_client: TestClient) -> None:
    post(lane_client, "service", FIRST, "k-2")
    reordered = dict(reversed(list(FIRST.items())))
    body = orjson.dumps({"as_of": AS_OF, "profile": reordered}).replace(b",", b", ")
    headers = auth("service") | {"Idempotency-Key": "k-2", "Content-Type": "application/json"}
    again = lane_client.post("/v1/decisions", content=body, headers=headers)
    assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
    assert stored(lane_client) == 1


def test_a_key_repeated_in_one_batch_with_another_body_conflicts(db_url: str) -> None:
    engine = make_engine(db_url)
    migrate(engine)
    log = DecisionLog(engine)

    def pending(i: int, body: str) -> Pending:
        decision = {"decision_id": f"d_{i}", "user_id": "u", "policy": {"version": "v1"}}
        decision["as_of"] = AS_OF
        return Pending.of(decision, {"profile": {"i": i}}, "k", False, body)

    try:
        out = log.append_many([pending(1, "h1"), pending(2, "h1"), pending(3, "h2")])
        assert out[0] is not None and out[0] != KEY_CONFLICT and out[0][1]
        assert out[1] is not None and out[1] != KEY_CONFLICT and not out[1][1]
        assert out[2] == KEY_CONFLICT
        assert log.append_many([pending(4, "h2")]) == [KEY_CONFLICT]
        assert verify(log) == (1, None)
    finally:
        engine.dispose()
