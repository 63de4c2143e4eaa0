"""Referral to a licensed lender only after consent, on SQLite and PostgreSQL: no consent, no
referral; withdrawal stops it; a consent for fewer fields is refused naming them; everything
is on the audit chain and the admin trail without values or raw ids."""

from __future__ import annotations

import json
import logging
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from conftest import SECRET, auth
from creditgate.examples import example_profiles
from creditgate.lenders.directory import packaged_directory
from creditgate.service.security import issue_user_token, pseudonym
from creditgate.store.events import verify_events
from creditgate.store.referrals import ReferralStore

AS_OF = "2026-11-28"
PROFILES = {name: orjson.loads(doc) for name, doc in example_profiles()}
REFUSED = PROFILES["02_pay_score_599"]  # PAY_SCORE_LOW: matches huaxin_cfc and jinqiao_cfc
USER = REFUSED["user_id"]
LENDER = "huaxin_cfc"
ASKED = list(packaged_directory().get(LENDER).fields)  # type: ignore[union-attr]


def shared_values(body: Any) -> list[Any]:
    """The values in a record that equal a shared field's value (as itself or as text): a
    whole-value match, since a random id or a hash may spell "599" by chance."""
    asked = {v for f in ASKED for v in (REFUSED[f], str(REFUSED[f]))}
    if isinstance(body, dict):
        return [v for value in body.values() for v in shared_values(value)]
    if isinstance(body, list):
        return [v for value in body for v in shared_values(value)]
    return [body] if body in asked and not isinstance(body, bool) else []


def services(client: TestClient) -> Any:
    return client.app.state.services  # type: ignore[attr-defined]


def as_user(user_id: str = USER) -> dict[str, str]:
    return {"Authorization": "Bearer " + issue_user_token(SECRET.encode(), user_id, 600)}


def decided(client: TestClient, profile: dict[str, Any] = REFUSED) -> dict[str, Any]:
    body = {"profile": profile, "as_of": AS_OF}
    r = client.post("/v1/decisions", json=body, headers=auth("service"))
    assert r.status_code == 200, r.text
    return dict(r.json())


def grant(client: TestClient, fields: list[str], lender: str = LENDER) -> Any:
    body = {"lender_id": lender, "fields": fields}
    return client.post(f"/v1/users/{USER}/referral-consents", json=body, headers=as_user())


def refer(client: TestClient, lender: str = LENDER) -> Any:
    body = {"lender_id": lender}
    return client.post(f"/v1/users/{USER}/referrals", json=body, headers=as_user())


def made(client: TestClient) -> int:
    s = services(client)
    return len(ReferralStore(s.engine, s.events).referrals(USER))


def test_the_refusal_names_lenders_with_licence_and_apr(client: TestClient) -> None:
    d = decided(client)
    named = [a for a in d["alternatives"] if a["kind"] == "licensed_lender"]
    assert [a["lender"]["id"] for a in named] == ["jinqiao_cfc", "huaxin_cfc"]  # cheapest first
    huaxin = named[1]
    assert huaxin["lender"]["licence_number"] == "N0019H244030001"
    assert huaxin["lender"]["apr_max"] == "0.2380"
    assert "23.80%" in huaxin["message"]["en"] and "消费金融公司" in huaxin["message"]["zh-CN"]
    assert "licensed_cfc" not in {a["kind"] for a in d["alternatives"]}  # made concrete
    r = client.get(f"/v1/users/{USER}/lenders", headers=as_user())
    assert r.status_code == 200 and [x["id"] for x in r.json()["lenders"]] == [
        "jinqiao_cfc",
        "huaxin_cfc",
    ]


def test_no_referral_without_a_recorded_consent(client: TestClient) -> None:
    decided(client)
    r = refer(client)
    assert r.status_code == 403
    body = r.json()
    assert body["lender_id"] == LENDER and body["missing_fields"] == ASKED
    assert made(client) == 0
    assert services(client).events.events("referral_made") == []


def test_consent_then_referral_shares_exactly_the_consented_fields(client: TestClient) -> None:
    decided(client)
    g = grant(client, ASKED)
    assert g.status_code == 201, g.text
    consent = g.json()
    assert consent["active"] and consent["granted_at"].endswith("+08:00")
    r = refer(client)
    assert r.status_code == 201, r.text
    out = r.json()
    assert sorted(out["shared"]) == sorted(ASKED) and out["fields"] == ASKED
    assert out["shared"]["pay_score"] == REFUSED["pay_score"]
    assert out["consent_ids"] == [consent["consent_id"]]
    assert out["mini_program"]["app_id"].startswith("wx")
    events = services(client).events.events("referral_made")
    assert len(events) == 1 and events[0].body["fields"] == ASKED
    assert events[0].subject == pseudonym(SECRET.encode(), USER)
    assert not shared_values(events[0].body)  # names and an HMAC, never the values
    assert verify_events(services(client).events)[1] is None


def test_withdrawal_stops_referrals(client: TestClient) -> None:
    decided(client)
    consent = grant(client, ASKED).json()
    assert refer(client).status_code == 201
    w = client.post(
        f"/v1/users/{USER}/referral-consent-withdrawal",
        json={"consent_id": consent["consent_id"]},
        headers=as_user(),
    )
    assert w.status_code == 200 and w.json()["active"] is False
    assert w.json()["withdrawn_at"].endswith("+08:00")
    r = refer(client)
    assert r.status_code == 403 and r.json()["missing_fields"] == ASKED
    assert made(client) == 1
    listed = client.get(f"/v1/users/{USER}/referral-consents", headers=as_user()).json()
    assert [c["active"] for c in listed["consents"]] == [False]
    kinds = [e.kind for e in services(client).events.events() if e.kind.startswith("referral")]
    assert kinds == [
        "referral_consent_granted",
        "referral_made",
        "referral_consent_withdrawn",
    ]


def test_consent_for_fewer_fields_is_refused_naming_the_rest(client: TestClient) -> None:
    decided(client)
    assert grant(client, ASKED[:2]).status_code == 201
    r = refer(client)
    assert r.status_code == 403 and r.json()["missing_fields"] == ASKED[2:]
    assert made(client) == 0
    assert grant(client, ASKED[2:]).status_code == 201  # two consents together cover them
    assert refer(client).status_code == 201


def test_consent_is_for_the_named_lender_only(client: TestClient) -> None:
    decided(client)
    other = list(packaged_directory().get("jinqiao_cfc").fields)  # type: ignore[union-attr]
    assert grant(client, other, "jinqiao_cfc").status_code == 201
    assert refer(client).status_code == 403  # huaxin_cfc: no consent of its own


def test_fields_a_lender_does_not_ask_for_cannot_be_consented(client: TestClient) -> None:
    r = grant(client, ["pay_score", "monthly_flow_cv_6m"])
    assert r.status_code == 422 and "monthly_flow_cv_6m" in r.text
    assert grant(client, ["pay_score"], "no_such_lender").status_code == 404


def test_a_lender_the_decision_does_not_name_is_refused(client: TestClient) -> None:
    decided(client)
    fields = list(packaged_directory().get("lanhai_bank").fields)  # type: ignore[union-attr]
    assert grant(client, fields, "lanhai_bank").status_code == 201
    r = refer(client, "lanhai_bank")  # pay score 599 < its 650
    assert r.status_code == 409 and "lanhai_bank" in r.text
    assert made(client) == 0


def test_general_consent_withdrawal_ends_referral_consents(client: TestClient) -> None:
    decided(client)
    grant(client, ASKED)
    r = client.post(f"/v1/users/{USER}/consent-withdrawal", headers=as_user())
    assert r.status_code == 200
    listed = client.get(f"/v1/users/{USER}/referral-consents", headers=as_user()).json()
    assert [c["active"] for c in listed["consents"]] == [False]
    assert refer(client).status_code == 409  # withdrawn: nothing can be shared
    assert grant(client, ASKED).status_code == 409  # nor agreed to be


def test_a_user_acts_only_for_themself(client: TestClient) -> None:
    r = client.get(f"/v1/users/{USER}/referral-consents", headers=as_user("someone-else"))
    assert r.status_code == 403
    r = client.get(f"/v1/users/{USER}/referral-consents", headers=auth("viewer"))
    assert r.status_code == 403
    withdraw = {"consent_id": "rc_unknown"}
    r = client.post(
        f"/v1/users/{USER}/referral-consent-withdrawal", json=withdraw, headers=as_user()
    )
    assert r.status_code == 404


def test_admin_trail_has_names_and_hash_never_values(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    decided(client)
    with caplog.at_level(logging.INFO, logger="creditgate.admin"):
        grant(client, ASKED)
        assert refer(client).status_code == 201
    lines = [getattr(rec, "fields", {}) for rec in caplog.records]
    actions = [f.get("action") for f in lines]
    assert actions == ["referral.consent", "referral.make"]
    text = json.dumps(lines, ensure_ascii=False)
    assert USER not in text and REFUSED["birth_date"] not in text
    assert lines[1]["fields"] == ",".join(ASKED) and len(lines[1]["shared_hmac"]) == 64
