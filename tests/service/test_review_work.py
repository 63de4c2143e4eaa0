"""Review as work (SQLite and PostgreSQL): manual reviews queue themselves with their reasons,
operators claim items, a resolution records a person's decision that is the user's answer at
once, replays as a human decision and outranks a later snapshot for its period."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import orjson
from alembic import command
from alembic.config import Config
from fastapi.testclient import TestClient
from selfcheck_helpers import by_testid, page, sign_in, state
from sqlalchemy import inspect, update
from sqlalchemy import text as text_sql
from test_answers import entry
from test_api import PROFILES, STRONG, decide, services
from test_snapshot_decisions import activate, snapshot

from conftest import SECRET, auth, make_settings
from creditgate.explain.catalogue import text
from creditgate.service.answers import answer
from creditgate.service.app import create_app
from creditgate.service.realtime import Latest, RealTimeAnswers
from creditgate.service.security import issue_user_token, pseudonym
from creditgate.store.catalog import Catalog
from creditgate.store.db import make_engine, migrate
from creditgate.store.models import decisions, reviews
from creditgate.store.replay import replay
from creditgate.store.repo import verify

DEVICE = PROFILES["10_shared_device"]  # manual_review: a fraud rule (shared device) fired
PAY599 = PROFILES["02_pay_score_599"]
USER = DEVICE["user_id"]


def queue(client: TestClient, **params: str) -> list[dict[str, Any]]:
    r = client.get("/v1/admin/reviews", params=params, headers=auth("viewer"))
    assert r.status_code == 200, r.text
    found: list[dict[str, Any]] = r.json()
    return found


def resolve(client: TestClient, review_id: str, resolution: str, who: str = "operator") -> Any:
    return client.post(
        f"/v1/admin/reviews/{review_id}/resolve",
        json={"resolution": resolution, "note": f"checked by phone {USER}"},
        headers=auth(who),
    )


def manual(client: TestClient) -> tuple[dict[str, Any], dict[str, Any]]:
    """A manual-review decision of DEVICE and its queue item."""
    decided = decide(client, DEVICE)
    assert decided["outcome"] == "manual_review" and not entry(client, USER)
    [item] = queue(client, kind="manual_review")
    return decided, item


def test_a_manual_review_decision_queues_itself_with_its_reasons(client: TestClient) -> None:
    decided, item = manual(client)
    assert item["kind"] == "manual_review" and item["decision_id"] == decided["decision_id"]
    assert item["reason_codes"] == ["FRAUD_SUSPECTED"]
    assert item["fraud_rules"] == ["shared_device"]  # operators see which rule fired
    assert (
        item["user"] == pseudonym(SECRET.encode(), USER) and USER not in orjson.dumps(item).decode()
    )
    assert item["status"] == "open" and item["age_s"] >= 0 and item["claimed_by"] is None
    # the user never sees the rule: not in the decision, not on their page
    user = {"Authorization": f"Bearer {issue_user_token(SECRET.encode(), USER, 60)}"}
    mine = client.get(f"/v1/decisions/{decided['decision_id']}", headers=user)
    assert mine.status_code == 200 and "shared_device" not in mine.text
    sign_in(client, USER)
    assert "shared_device" not in page(client)
    # the same request again (idempotent) queues nothing more; an appeal is its own kind
    decide(client, DEVICE, key="k")
    decide(client, DEVICE, key="k")
    assert len(queue(client, kind="manual_review")) == 2  # two decisions, one item each
    r = client.post("/v1/reviews", json={"decision_id": decided["decision_id"]}, headers=user)
    assert r.status_code == 201 and r.json()["kind"] == "appeal"
    [appeal] = queue(client, kind="appeal")
    assert appeal["decision_id"] == decided["decision_id"]
    assert appeal["reason_codes"] == ["FRAUD_SUSPECTED"]
    summary = client.get("/v1/admin/reviews/summary", headers=auth("viewer")).json()
    assert summary["counts"]["manual_review"] == {"open": 2, "resolved": 0}
    assert summary["counts"]["appeal"] == {"open": 1, "resolved": 0}
    assert summary["open"] == 3 and summary["oldest_open_age_s"] >= 0


def test_two_operators_cannot_work_the_same_item(client: TestClient) -> None:
    _, item = manual(client)
    url = f"/v1/admin/reviews/{item['review_id']}"
    assert client.post(f"{url}/claim", headers=auth("viewer")).status_code == 403
    mine = client.post(f"{url}/claim", headers=auth("operator"))
    assert mine.status_code == 200 and mine.json()["claimed_by"] == "operator"
    assert client.post(f"{url}/claim", headers=auth("admin")).status_code == 409
    assert resolve(client, item["review_id"], "approve", who="admin").status_code == 409
    assert client.post(f"{url}/release", headers=auth("admin")).status_code == 409
    assert client.post(f"{url}/release", headers=auth("operator")).status_code == 200
    assert client.post(f"{url}/claim", headers=auth("admin")).status_code == 200
    assert resolve(client, item["review_id"], "approve").status_code == 409  # admin holds it
    # a claim that expired is free again
    with services(client).engine.begin() as conn:
        conn.execute(update(reviews).values(claim_expires_at="2000-01-01T00:00:00+00:00"))
    assert queue(client)[0]["claimed_by"] is None
    assert resolve(client, item["review_id"], "approve").status_code == 200
    resolved = client.get(url, headers=auth("viewer")).json()
    assert resolved["resolved_by"] == "operator" and resolved["status"] == "resolved"
    kinds = [e.kind for e in services(client).events.events()]
    assert kinds.count("review_claimed") == 3 and "review_released" in kinds
    assert kinds[-1] == "review_resolved"


def test_approving_shows_the_entry_as_a_persons_decision(client: TestClient) -> None:
    decided, item = manual(client)
    assert resolve(client, item["review_id"], "decline_typo").status_code == 422
    assert resolve(client, item["review_id"], "overturned").status_code == 422  # not an appeal
    r = resolve(client, item["review_id"], "approve")
    assert r.status_code == 200, r.text
    human_id = r.json()["decision_id"]
    assert entry(client, USER)
    human = client.get(f"/v1/decisions/{human_id}", headers=auth("viewer")).json()
    assert human["kind"] == "human" and human["outcome"] == "invited" and human["entry_visible"]
    assert human["human"]["resolution"] == "approve" and human["human"]["operator"] == "operator"
    assert human["human"]["reviewed_decision_id"] == decided["decision_id"]
    assert "note" not in orjson.dumps(human).decode() and "phone" not in str(human)
    assert [n["code"] for n in human["notices"]] == ["HUMAN_APPROVED"] and human["reasons"] == []
    # the contested decision had no line: the policy's own offer for the profile, invited
    clean = decide(client, DEVICE | {"user_id": "same-but-clean", "accounts_on_device": 1})
    assert clean["outcome"] == "invited"
    assert (human["limit_cny"], human["apr"], human["terms"]) == (
        clean["limit_cny"],
        clean["apr"],
        clean["terms"],
    )
    found = answer(services(client), USER)
    assert found.source == "decision" and found.decision_id == human_id
    sign_in(client, USER)
    html = page(client, "?lang=en")
    assert state(html) == "visible"
    assert 'data-code="HUMAN_APPROVED"' in html
    [status] = by_testid(html, "review-status")
    assert "approved by a person" in status
    assert "人工复核通过" in page(client, "?lang=zh-CN")
    svc = services(client)
    assert replay(svc.log, svc.catalog, human_id).status == "identical"
    assert verify(svc.log) == (3, None)


def test_declining_keeps_the_entry_hidden_with_the_reasons(client: TestClient) -> None:
    _, item = manual(client)
    r = resolve(client, item["review_id"], "decline")
    assert r.status_code == 200, r.text
    assert not entry(client, USER)
    human = client.get(f"/v1/decisions/{r.json()['decision_id']}", headers=auth("viewer")).json()
    assert human["outcome"] == "not_invited" and human["kind"] == "human"
    [reason] = human["reasons"]
    assert reason["code"] == "FRAUD_SUSPECTED"
    assert reason["message"] == text("reasons", "FRAUD_SUSPECTED")  # a refusal, not "in review"
    assert [n["code"] for n in human["notices"]] == ["HUMAN_DECLINED"]
    sign_in(client, USER)
    html = page(client, "?lang=en")
    assert state(html) == "hidden" and 'data-code="SECURITY_CHECK"' in html  # fraud: generic
    assert 'data-code="HUMAN_DECLINED"' in html and "shared_device" not in html
    [status] = by_testid(html, "review-status")
    assert "declined by a person" in status
    assert "人工复核未通过" in page(client, "?lang=zh-CN")


def test_an_overturned_refusal_grants_the_entry_and_an_invitation_is_only_upheld(
    client: TestClient,
) -> None:
    refused = decide(client, PAY599)
    invited = decide(client, STRONG)
    for d in (refused, invited):
        r = client.post(
            "/v1/reviews", json={"decision_id": d["decision_id"]}, headers=auth("admin")
        )
        assert r.status_code == 201
    by_decision = {q["decision_id"]: q["review_id"] for q in queue(client, kind="appeal")}
    assert resolve(client, by_decision[refused["decision_id"]], "approve").status_code == 422
    r = resolve(client, by_decision[refused["decision_id"]], "overturned")
    assert r.status_code == 200 and entry(client, PAY599["user_id"])
    human = client.get(f"/v1/decisions/{r.json()['decision_id']}", headers=auth("viewer")).json()
    assert human["outcome"] == "invited" and human["limit_cny"] is not None
    assert resolve(client, by_decision[invited["decision_id"]], "overturned").status_code == 422
    r = resolve(client, by_decision[invited["decision_id"]], "upheld")
    assert r.status_code == 200 and r.json()["decision_id"] is None  # nothing to change
    assert entry(client, STRONG["user_id"])


def test_replay_names_a_tampered_human_decision(client: TestClient) -> None:
    _, item = manual(client)
    human_id = resolve(client, item["review_id"], "approve").json()["decision_id"]
    svc = services(client)
    assert replay(svc.log, svc.catalog, human_id).status == "identical"
    stored = svc.log.get(human_id)
    assert stored is not None
    forged = stored.decision | {"limit_cny": stored.decision["limit_cny"] * 10}
    with svc.engine.begin() as conn:
        conn.execute(
            update(decisions)
            .where(decisions.c.decision_id == human_id)
            .values(decision=orjson.dumps(forged).decode())
        )
    result = replay(svc.log, svc.catalog, human_id)
    assert result.status == "different" and result.differences[0].startswith("limit_cny")
    # the review row is evidence too: another resolution there is named
    with svc.engine.begin() as conn:
        conn.execute(update(decisions).where(decisions.c.decision_id == human_id).values(
            decision=orjson.dumps(stored.decision).decode()))  # fmt: skip
        conn.execute(update(reviews).values(resolution="decline"))
    assert replay(svc.log, svc.catalog, human_id).status == "different"


def test_a_persons_decision_outlives_a_new_snapshot_until_the_data_change(
    db_url: str, tmp_path: Path
) -> None:
    settings = make_settings(db_url, snapshot_dir=str(tmp_path / "snapshots"))
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        activate(client, snapshot(tmp_path, "first", {"tier1": 600}))
        _, item = manual(client)
        assert resolve(client, item["review_id"], "approve").status_code == 200
        assert entry(client, USER)
        activate(client, snapshot(tmp_path, "second", {"tier1": 610}))  # not inviting USER
        services(client).state.refresh()
        assert entry(client, USER)  # within its period: the person's decision stands
        # a worker started now (or restarted) agrees
        with TestClient(create_app(settings), raise_server_exceptions=False) as other:
            assert entry(other, USER)
        # the same data decided again: the fraud rule the person cleared fires again
        again = decide(client, DEVICE)
        assert again["outcome"] == "manual_review"
        services(client).state.refresh()
        assert entry(client, USER)
        # changed data supersede it, even when the outcome is the same kind as before
        changed = decide(client, DEVICE | {"pay_score": 736})
        assert changed["outcome"] == "manual_review"
        assert not entry(client, USER)
        assert answer(services(client), USER).decision_id == changed["decision_id"]
    # with no period, the next snapshot's answer is the user's at once
    brief = make_settings(db_url, snapshot_dir=str(tmp_path / "snapshots"), human_decision_days=0)
    with TestClient(create_app(brief), raise_server_exceptions=False) as client:
        _, item = manual_second(client)
        assert resolve(client, item["review_id"], "approve").status_code == 200
        activate(client, snapshot(tmp_path, "third", {"tier1": 620}))
        services(client).state.refresh()
        assert not entry(client, USER)


def manual_second(client: TestClient) -> tuple[dict[str, Any], dict[str, Any]]:
    decided = decide(client, DEVICE)
    [item] = [
        q for q in queue(client, kind="manual_review") if q["decision_id"] == decided["decision_id"]
    ]
    return decided, item


def test_what_supersedes_a_persons_decision_and_when_it_ends() -> None:
    """The rule on its own: same data and no new hard failure -> kept aside until the period
    ends; a gate the reviewed decision did not fail -> replaced at once."""
    key = ("2026.12.2", None)
    human = {
        "policy": {"version": "2026.12.2"},
        "entry_visible": True,
        "cutoffs": {"source": "policy"},
        "human": {
            "decided_at": datetime.now(UTC).isoformat(),
            "reviewed_reasons": ["FRAUD_SUSPECTED"],
        },
    }
    profile = {"profile": DEVICE}
    fraud = {"entry_visible": False, "reasons": [{"code": "FRAUD_SUSPECTED", "layer": "fraud"}]}
    gate = {"entry_visible": False, "reasons": [{"code": "STUDENT", "layer": "compliance"}]}
    answers = RealTimeAnswers(key, days=90)
    answers._human(5, USER, "d_human", human, profile)
    answers._automated(6, USER, "d_same", fraud, {"profile": DEVICE | {"invited_since": None}})
    assert answers.by_user[USER] == Latest(True, "d_human")
    answers.expire(now=time.time() + 91 * 86_400)  # the 90 days are over
    assert answers.by_user[USER] == Latest(False, "d_same")
    answers._human(7, USER, "d_human2", human, profile)
    answers._automated(8, USER, "d_gate", gate, profile)
    assert answers.by_user[USER] == Latest(False, "d_gate") and USER not in answers.humans


def test_migration_0009_adds_the_work_columns_to_existing_reviews(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        migrate(engine)
        cfg = Config()
        cfg.set_main_option(
            "script_location", str(resources.files("creditgate.store") / "migrations")
        )
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0008_used_links")
        assert "claimed_by" not in {c["name"] for c in inspect(engine).get_columns("reviews")}
        with engine.begin() as conn:  # a review queued before 0009
            conn.execute(
                text_sql(
                    "INSERT INTO reviews (review_id, decision_id, user_id, reason, status,"
                    " created_at) VALUES ('r_old', 'd_old', 'u', 'why', 'open',"
                    " '2026-11-01T00:00:00.000000+00:00')"
                )
            )
        migrate(engine)
        [old] = Catalog(engine).reviews("open", 10)
        assert old["kind"] == "appeal" and old["claimed_by"] is None
        assert Catalog(engine).claim_review("r_old", "operator", "2026-11-02", "2026-11-03")
    finally:
        engine.dispose()
