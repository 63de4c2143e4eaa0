"""``POST /v1/decisions`` documents its 200 response (``schemas.DecisionOut``), and every
decision the API returns matches that schema exactly: no field missing, none undocumented."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from test_api import PROFILES, STRONG, decide
from test_snapshot_decisions import activate, snapshot

from conftest import auth, make_settings, policy_client
from creditgate.service.app import create_app
from creditgate.service.schemas import DecisionOut
from product_family import family_text


@pytest.fixture
def sqlite_client(tmp_path: Path) -> Iterator[TestClient]:
    settings = make_settings(
        f"sqlite:///{tmp_path / 'd.db'}", snapshot_dir=str(tmp_path / "snapshots")
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        yield c


def response_schema(client: TestClient) -> dict[str, Any]:
    doc = client.app.openapi()  # type: ignore[attr-defined]
    ok = doc["paths"]["/v1/decisions"]["post"]["responses"]["200"]
    ref: str = ok["content"]["application/json"]["schema"]["$ref"]
    schema: dict[str, Any] = doc["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    return schema


def test_the_openapi_document_gives_the_decision_fields(sqlite_client: TestClient) -> None:
    schema = response_schema(sqlite_client)
    decision = decide(sqlite_client, STRONG)
    assert "offers" in decision  # the packaged default declares a product family
    assert set(schema["properties"]) == set(decision) | {"experiment"}
    assert set(schema["required"]) == set(decision) - {"offers"}  # absent without a family
    assert schema["properties"]["outcome"]["enum"] == [
        "invited",
        "not_invited",
        "manual_review",
        "referred",
    ]


def test_every_decision_returned_matches_the_schema(
    sqlite_client: TestClient, tmp_path: Path
) -> None:
    """The examples with no snapshot, then with one whose city cutoff names a city."""

    def check(profile: dict[str, Any]) -> None:
        body = {"profile": profile, "as_of": "2026-11-28"}
        r = sqlite_client.post("/v1/decisions", json=body, headers=auth("service"))
        assert r.status_code == 200, r.text
        DecisionOut.model_validate_json(r.content, strict=True)

    for profile in PROFILES.values():
        check(profile)
    loose = {"tier1": 700, "new_tier1": 700, "capital": 700, "prefecture": 700}
    activate(sqlite_client, snapshot(tmp_path, "c", loose, city_cutoffs={"capital": {"兰州": 790}}))
    for profile in [STRONG | {"city": "兰州", "user_id": "u-lz"}, *PROFILES.values()]:
        check(profile)


def test_a_family_policys_offers_match_the_schema(tmp_path: Path) -> None:
    """Served under a policy with a product family, every decision carries its offers, and
    they match ``OfferOut`` exactly."""
    with policy_client(tmp_path, family_text()) as client:
        statuses = set()
        for profile in PROFILES.values():
            body = {"profile": profile, "as_of": "2026-11-28"}
            r = client.post("/v1/decisions", json=body, headers=auth("service"))
            assert r.status_code == 200, r.text
            out = DecisionOut.model_validate_json(r.content, strict=True)
            assert out.offers is not None and len(out.offers) == 3
            statuses |= {o.status for o in out.offers}
        assert statuses == {"offered", "not_eligible", "referred"}
