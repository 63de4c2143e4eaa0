"""Tampering is detected and named; replay reproduces stored decisions; concurrent appends
keep one unbroken chain."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from fastapi.testclient import TestClient
from sqlalchemy import text
from test_api import PROFILES, decide
from typer.testing import CliRunner

from conftest import auth
from creditgate.cli.main import app as cli
from creditgate.store.repo import DecisionLog, verify

runner = CliRunner()


def db_of(client: TestClient) -> tuple[str, DecisionLog]:
    services = client.app.state.services  # type: ignore[attr-defined]
    return services.settings.db_url, services.log


def test_audit_verify_and_replay_cli(client: TestClient) -> None:
    ids = [decide(client, p)["decision_id"] for p in PROFILES.values()]
    url, log = db_of(client)
    result = runner.invoke(cli, ["audit", "verify", "--db", url])
    assert result.exit_code == 0, result.output
    for decision_id in ids:
        result = runner.invoke(cli, ["replay", decision_id, "--db", url])
        assert result.exit_code == 0, result.output
    with log.engine.begin() as conn:  # an operator quietly raises a limit
        conn.execute(
            text(
                "UPDATE decisions SET decision = replace(decision, "
                '\'"outcome":"not_invited"\', \'"outcome":"invited"\') '
                "WHERE seq = 3"
            )
        )
    result = runner.invoke(cli, ["audit", "verify", "--db", url])
    assert result.exit_code == 1
    assert "seq=3" in result.output


def test_deleting_the_last_record_is_detected(client: TestClient) -> None:
    for p in list(PROFILES.values())[:3]:
        decide(client, p)
    _, log = db_of(client)
    with log.engine.begin() as conn:
        conn.execute(text("DELETE FROM decisions WHERE seq = 3"))
    assert verify(log)[1] is not None


def test_concurrent_decisions_keep_one_chain(client: TestClient) -> None:
    profiles = list(PROFILES.values())

    def one(i: int) -> int:
        key = i % 30  # each key is sent twice, always with the same body
        body = {"profile": profiles[key % len(profiles)], "as_of": "2026-11-28"}
        headers = auth("service") | {"Idempotency-Key": f"k{key}"}
        return client.post("/v1/decisions", json=body, headers=headers).status_code

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(one, range(60))) == {200}
    _, log = db_of(client)
    assert verify(log) == (30, None)
