"""The audit trail against an attacker with write access to the database (SQLite and
PostgreSQL): the four forgeries of issue 13 pass the chains alone and fail against a signed
anchor, naming what is wrong; the catalog and the event chain are checked; operator actions
and erasures are events; anchor keys rotate."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, select, update
from test_api import PROFILES, STRONG, decide, services, snapshot_file
from typer.testing import CliRunner

from conftest import SECRET, approved, auth, make_settings
from creditgate.cli.main import app as cli
from creditgate.service.app import create_app
from creditgate.service.security import issue_user_token, pseudonym
from creditgate.store.audit import verify_all
from creditgate.store.canonical import record_hash, sha256, tombstone
from creditgate.store.models import (
    GENESIS,
    active,
    audit_events,
    chain_head,
    decisions,
    event_head,
    policies,
    reviews,
    snapshots,
)
from creditgate.store.repo import CHAINED

runner = CliRunner()
K1 = "k1:" + "11" * 32
K2 = "k2:" + "22" * 32


@pytest.fixture
def trail(client: TestClient, tmp_path: Path) -> Iterator[tuple[TestClient, str, Path]]:
    """A service with five decisions and one signed anchor of both chains."""
    for profile in list(PROFILES.values())[:5]:
        decide(client, profile)
    url, anchors = services(client).settings.db_url, tmp_path / "anchors.jsonl"
    result = runner.invoke(
        cli,
        ["audit", "anchor", "--db", url, "--out", str(anchors)],
        env={"CREDITGATE_ANCHOR_KEYS": K1},
    )
    assert result.exit_code == 0, result.output
    yield client, url, anchors


def audit(url: str, anchors: Path | None = None, keys: str = K1) -> tuple[int, str]:
    args = ["audit", "verify", "--db", url] + (["--anchor", str(anchors)] if anchors else [])
    result = runner.invoke(cli, args, env={"CREDITGATE_ANCHOR_KEYS": keys})
    return result.exit_code, result.output


def engine_of(client: TestClient) -> Engine:
    engine: Engine = services(client).engine
    return engine


def rechain(engine: Engine) -> None:
    """What the attacker does after an edit: recompute every hash from the stored content."""
    with engine.begin() as conn:
        prev = GENESIS
        for row in conn.execute(select(decisions).order_by(decisions.c.seq)).all():
            fields: dict[str, Any] = {n: getattr(row, n) for n in CHAINED}
            fields["decision_hash"] = sha256(row.decision.encode())
            fields["inputs_hash"] = sha256(row.inputs.encode())
            digest = record_hash(prev, fields)
            conn.execute(
                update(decisions)
                .where(decisions.c.seq == row.seq)
                .values(
                    decision_hash=fields["decision_hash"],
                    inputs_hash=fields["inputs_hash"],
                    prev_hash=prev,
                    record_hash=digest,
                )
            )
            prev = digest
        last = conn.execute(select(decisions.c.seq).order_by(decisions.c.seq.desc())).scalar()
        conn.execute(
            update(chain_head).where(chain_head.c.id == 1).values(seq=last or 0, hash=prev)
        )


def test_a_rewrite_with_all_hashes_recomputed_is_named(trail: tuple[TestClient, str, Path]) -> None:
    client, url, anchors = trail
    engine = engine_of(client)
    with engine.begin() as conn:
        doc = orjson.loads(
            conn.execute(select(decisions.c.decision).where(decisions.c.seq == 2)).scalar_one()
        )
        doc["outcome"] = "invited" if doc["outcome"] != "invited" else "not_invited"
        conn.execute(
            update(decisions)
            .where(decisions.c.seq == 2)
            .values(decision=orjson.dumps(doc).decode())
        )
    assert audit(url)[0] == 1  # the edit alone is seen by the chain
    rechain(engine)
    assert audit(url)[0] == 0  # recomputed: the chain alone no longer sees it
    code, output = audit(url, anchors)
    assert code == 1 and "decisions chain REWRITTEN: record seq=5" in output, output


def test_b_a_dropped_tail_with_the_head_fixed_is_named(trail: tuple[TestClient, str, Path]) -> None:
    client, url, anchors = trail
    with engine_of(client).begin() as conn:
        kept = conn.execute(
            select(decisions.c.record_hash).where(decisions.c.seq == 3)
        ).scalar_one()
        conn.execute(delete(decisions).where(decisions.c.seq > 3))
        conn.execute(update(chain_head).where(chain_head.c.id == 1).values(seq=3, hash=kept))
    assert audit(url)[0] == 0
    code, output = audit(url, anchors)
    assert code == 1 and "decisions chain TRUNCATED: it ends at seq 3 but seq 5" in output, output


def test_c_everything_wiped_is_named(trail: tuple[TestClient, str, Path]) -> None:
    client, url, anchors = trail
    with engine_of(client).begin() as conn:
        for table in (decisions, audit_events, policies, snapshots, active, reviews):
            conn.execute(delete(table))
        for head in (chain_head, event_head):
            conn.execute(update(head).values(seq=0, hash=GENESIS))
    assert audit(url)[0] == 0
    code, output = audit(url, anchors)
    assert code == 1, output
    assert "decisions chain WIPED" in output and "events chain WIPED" in output, output


def test_d_inputs_replaced_by_a_fake_erasure_are_named(trail: tuple[TestClient, str, Path]) -> None:
    client, url, anchors = trail
    engine = engine_of(client)
    with engine.begin() as conn:
        conn.execute(
            update(decisions).where(decisions.c.seq == 2).values(inputs=tombstone("2026-11-28"))
        )
    code, output = audit(url, anchors)
    assert code == 1 and "seq=2" in output and "without an erasure event" in output, output
    rechain(engine)  # the attacker also recomputes the hashes: the anchor names it
    code, output = audit(url, anchors)
    assert code == 1 and "decisions chain REWRITTEN" in output, output


def test_a_genuine_erasure_verifies_and_removes_personal_data(
    trail: tuple[TestClient, str, Path],
) -> None:
    client, url, anchors = trail
    svc = services(client)
    d = decide(client, STRONG)
    user = {"Authorization": "Bearer " + issue_user_token(SECRET.encode(), STRONG["user_id"], 60)}
    r = client.post(
        "/v1/reviews",
        json={"decision_id": d["decision_id"], "reason": "my salary is 9k"},
        headers=user,
    )
    review_id = r.json()["review_id"]
    client.post(
        f"/v1/admin/reviews/{review_id}/resolve",
        json={"resolution": "upheld", "note": "salary checked"},
        headers=auth("operator"),
    )
    assert (
        client.post(f"/v1/users/{STRONG['user_id']}/consent-withdrawal", headers=user).json()[
            "erased_decisions"
        ]
        == 2
    )
    later = decide(client, STRONG)  # decided as withdrawn: stored redacted from the start
    for decision_id in (d["decision_id"], later["decision_id"]):
        served = client.get(f"/v1/decisions/{decision_id}", headers=auth("viewer")).json()
        assert served["score"] is None and served["pd"] is None and served["limit_cny"] is None
        assert served["recourse"] == [] and served["erased"] is True
        assert all(set(reason) == {"code", "layer"} for reason in served["reasons"])
        assert served["outcome"] and served["policy"]["version"] and served["as_of"]
    assert "CONSENT_MISSING" in [x["code"] for x in later["reasons"]]
    with svc.engine.connect() as conn:
        texts = conn.execute(select(reviews.c.reason, reviews.c.note)).all()
        events = conn.execute(select(audit_events)).all()
    assert [tuple(t) for t in texts] == [("[erased]", None)]
    erasure = [e for e in events if e.kind == "erasure"][-1]
    subject = pseudonym(SECRET.encode(), STRONG["user_id"])
    assert erasure.subject == subject and erasure.actor == "user:" + subject
    assert d["decision_id"] in orjson.loads(erasure.body)["decisions"]
    assert not any(STRONG["user_id"] in (e.actor + (e.subject or "") + e.body) for e in events)
    assert audit(url, anchors)[0] == 0
    assert verify_all(svc.engine).problems == []


def test_tampered_policy_snapshot_active_or_event_fails_verify(
    client: TestClient, tmp_path: Path
) -> None:
    decide(client, STRONG)
    url, engine = services(client).settings.db_url, engine_of(client)
    path = snapshot_file(tmp_path, ["alice", "bob"])
    sid = client.post(
        "/v1/admin/snapshots", json={"path": str(path)}, headers=auth("operator")
    ).json()["snapshot_id"]
    approved(client, client.post(f"/v1/admin/snapshots/{sid}/activate", headers=auth("operator")))
    assert audit(url)[0] == 0
    version = client.get("/v1/admin/policies", headers=auth("viewer")).json()[0]["version"]

    def tamper(statement: Any, expected: str) -> None:
        with engine.begin() as conn:
            saved = {
                t.name: [dict(r._mapping) for r in conn.execute(select(t))]
                for t in (policies, snapshots, active, audit_events)
            }
            conn.execute(statement)
        code, output = audit(url)
        assert code == 1 and expected in output, output
        with engine.begin() as conn:  # restore for the next case
            for table in (policies, snapshots, active, audit_events):
                conn.execute(delete(table))
                conn.execute(table.insert(), saved[table.name])
        assert audit(url)[0] == 0

    text = policies.c.text
    tamper(
        update(policies).values(text=text + "\n# relaxed"),
        f"policy {version}: its text no longer hashes",
    )
    tamper(
        update(policies).values(text="x", sha256=sha256(b"x")),
        f"policy {version}: no policy_registered event for this text",
    )
    tamper(
        update(snapshots).values(invited=1003),
        f"snapshot {sid}: catalog row differs from its snapshot_registered event in invited",
    )
    tamper(
        update(active).where(active.c.key == "snapshot").values(value="other"),
        "active snapshot = other: not what the last activation event set",
    )
    tamper(
        update(audit_events)
        .where(audit_events.c.kind == "activated")
        .values(body='{"key":"snapshot","value":"x"}'),
        "the event body was altered",
    )


def test_operator_actions_are_events_naming_the_actor(client: TestClient) -> None:
    svc = services(client)
    first = svc.events.events()
    assert [(e.kind, e.actor) for e in first] == [
        ("policy_registered", "host"),
        ("host_activation", "host"),
    ]
    listed = client.get("/v1/admin/policies", headers=auth("viewer")).json()[0]
    text = client.get(f"/v1/admin/policies/{listed['version']}", headers=auth("viewer")).json()[
        "text"
    ]
    new = client.post(
        "/v1/admin/policies",
        json={"text": text.replace(listed["version"], listed["version"] + "-b", 1)},
        headers=auth("operator"),
    ).json()["version"]
    change = approved(
        client, client.post(f"/v1/admin/policies/{new}/activate", headers=auth("admin")), "admin2"
    )
    later = svc.events.events()[len(first) :]
    assert [
        (e.kind, e.actor, e.body.get("version") or e.body.get("target") or e.body.get("value"))
        for e in later
    ] == [
        ("policy_registered", "operator", new),
        ("proposed", "admin", new),
        ("approved", "admin2", new),
        ("activated", "admin2", new),
    ]
    assert {e.body.get("change_id") for e in later[1:]} == {change["change_id"]}
    assert later[2].body["proposed_by"] == "admin"


def test_anchor_keys_rotate(trail: tuple[TestClient, str, Path]) -> None:
    _, url, anchors = trail
    result = runner.invoke(
        cli,
        ["audit", "anchor", "--db", url, "--out", str(anchors)],
        env={"CREDITGATE_ANCHOR_KEYS": f"{K2},{K1}"},
    )
    assert result.exit_code == 0, result.output
    lines = [orjson.loads(line) for line in anchors.read_text().splitlines()]
    assert [line["kid"] for line in lines] == ["k1", "k2"]
    code, output = audit(url, anchors, keys=f"{K2},{K1}")  # the old anchor still verifies
    assert code == 0 and "2 anchor(s)" in output, output
    code, output = audit(url, anchors, keys=K2)
    assert code == 1 and "anchor line 1: unknown key id" in output, output
    code, output = audit(url, anchors, keys=f"{K2},k1:" + "33" * 32)  # a wrong key for k1
    assert code == 1 and "anchor line 1: signature does not verify" in output, output
    forged = lines[1] | {"decisions": {"seq": 1, "hash": lines[1]["decisions"]["hash"]}}
    anchors.write_text(orjson.dumps(forged).decode() + "\n")
    code, output = audit(url, anchors, keys=f"{K2},{K1}")
    assert code == 1 and "signature does not verify" in output, output
    assert audit(url, anchors, keys="")[0] == 2  # no key: a usage error


def test_the_server_anchors_periodically(db_url: str, tmp_path: Path) -> None:
    anchors = tmp_path / "server.anchors"
    settings = make_settings(
        db_url, anchor_path=str(anchors), anchor_interval_s=0.05, anchor_keys=K1
    )
    with TestClient(create_app(settings)) as client:
        decide(client, STRONG)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if anchors.exists() and any(
                orjson.loads(x)["decisions"]["seq"] == 1 for x in anchors.read_text().splitlines()
            ):
                break
            time.sleep(0.05)
    assert audit(db_url, anchors)[0] == 0
    assert orjson.loads(anchors.read_text().splitlines()[-1])["decisions"]["seq"] == 1
