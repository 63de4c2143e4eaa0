"""Structured logs, on SQLite and PostgreSQL: access lines, the admin-action trail, 500s behind
an error id, and ``creditgate serve`` writing JSON lines; never a raw user id."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from conftest import SECRET, TOKENS, approved, auth, make_settings, write_snapshot_file
from creditgate.examples import example_profiles
from creditgate.service import fastlane
from creditgate.service.app import create_app
from creditgate.service.logs import JsonFormatter, safe_traceback
from creditgate.service.security import issue_user_token, pseudonym
from creditgate.store.catalog import Catalog
from creditgate.store.models import consent_withdrawals
from creditgate.store.repo import DecisionLog
from pgserver import free_port

UID = "carol-4711"  # a user id that must never reach a log line
STRONG = orjson.loads(dict(example_profiles())["01_strong_shenzhen"])


class Captured(logging.Handler):
    """Every record as the service's JSON line and as plain text (message, fields and, if
    any, Python's own traceback): the second shows nothing relies on the formatter alone."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.json = JsonFormatter()
        self.lines: list[dict[str, Any]] = []
        self.plain: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(orjson.loads(self.json.format(record)))
        text = f"{record.getMessage()} {getattr(record, 'fields', '')}"
        if record.exc_info:
            text += "".join(traceback.format_exception(*record.exc_info))
        self.plain.append(text)

    def named(self, logger: str) -> list[dict[str, Any]]:
        return [line for line in self.lines if line["logger"] == logger]

    def assert_never(self, value: str) -> None:
        assert value not in orjson.dumps(self.lines).decode()
        assert not [text for text in self.plain if value in text]


@pytest.fixture
def logs() -> Iterator[Captured]:
    handler, root = Captured(), logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


@pytest.fixture
def app_client(db_url: str, tmp_path: Path) -> Iterator[TestClient]:
    """Access log on; server exceptions raised into the test (none may escape the app)."""
    settings = make_settings(db_url, access_log=True, snapshot_dir=str(tmp_path / "snapshots"))
    with TestClient(create_app(settings)) as c:
        yield c


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_access_lines_are_json_without_raw_ids_query_or_headers(
    app_client: TestClient, logs: Captured
) -> None:
    user = issue_user_token(SECRET.encode(), UID, 60)
    assert app_client.get(f"/v1/users/{UID}/entry", headers=auth("service")).status_code == 200
    assert app_client.get(f"/v1/users/{UID}/entry", headers=bearer(user)).status_code == 200
    assert app_client.get(f"/v1/users/{UID}/entry").status_code == 401
    assert app_client.get(f"/v1/users/{UID}", headers=auth("service")).status_code == 404
    assert app_client.get(f"/v1/users/a/{UID}/entry", headers=auth("service")).status_code == 404
    r = app_client.get("/v1/admin/reviews?status=open&limit=7", headers=auth("viewer"))
    assert r.status_code == 200
    lines = logs.named("creditgate.access")
    assert len(lines) == 6
    for line in lines:
        assert {"ts", "level", "event", "method", "path", "status", "ms"} <= set(line)
        assert line["ts"].endswith("+00:00") and line["event"] == "access"
        assert isinstance(line["ms"], float) and line["method"] == "GET"
    alias = pseudonym(SECRET.encode(), UID)
    assert [line["path"] for line in lines[:3]] == [f"/v1/users/{alias}/entry"] * 3
    assert lines[3]["path"] == f"/v1/users/{alias}"
    assert [(line.get("principal"), line.get("client"), line["status"]) for line in lines] == [
        ("service", None, 200),
        (f"user:{alias}", None, 200),
        (None, "anonymous", 401),
        (None, "bearer", 404),  # no route: nobody authenticated the token
        (None, "bearer", 404),
        ("viewer", None, 200),
    ]
    assert lines[5]["path"] == "/v1/admin/reviews"
    logs.assert_never(UID)
    logs.assert_never("limit=7")
    for token in (*TOKENS.values(), user):
        logs.assert_never(token)


def test_guard_refusals_have_access_lines(db_url: str, tmp_path: Path, logs: Captured) -> None:
    """A request the guards answer (size, duplicate credentials, rate limit) is still logged."""
    settings = make_settings(
        db_url,
        access_log=True,
        snapshot_dir=str(tmp_path / "snapshots"),
        rate_limit_per_s=0.001,
        rate_limit_burst=2,
    )
    with TestClient(create_app(settings)) as client:
        big = b"x" * (settings.max_body_bytes + 1)
        assert client.post("/v1/decisions", content=big).status_code == 413
        twice = [("authorization", f"Bearer {TOKENS['service']}")] * 2
        assert client.get(f"/v1/users/{UID}/entry", headers=twice).status_code == 401
        assert client.get(f"/v1/users/{UID}/entry").status_code == 429
    lines = logs.named("creditgate.access")
    assert [(line["method"], line["status"]) for line in lines] == [
        ("POST", 413),
        ("GET", 401),
        ("GET", 429),
    ]
    alias = pseudonym(SECRET.encode(), UID)
    assert {line["path"] for line in lines[1:]} == {f"/v1/users/{alias}/entry"}
    logs.assert_never(UID)


def test_admin_actions_name_actor_action_and_pseudonymised_subject(
    app_client: TestClient, logs: Captured, tmp_path: Path
) -> None:
    old = app_client.get("/v1/admin/policies", headers=auth("viewer")).json()[0]["version"]
    text = app_client.get(f"/v1/admin/policies/{old}", headers=auth("viewer")).json()["text"]
    r = app_client.post(
        "/v1/admin/policies", json={"text": text.replace(old, old + "-b", 1)}, headers=auth("admin")
    )
    assert r.status_code == 201, r.text
    version = r.json()["version"]
    r = app_client.post(f"/v1/admin/policies/{version}/activate", headers=auth("operator"))
    policy_change = approved(app_client, r)["change_id"]
    snap = tmp_path / "snapshots" / "snap.parquet"  # made for the new version: paired
    path = str(write_snapshot_file(snap, ["alice", UID], version=version))
    r = app_client.post("/v1/admin/snapshots", json={"path": path}, headers=auth("operator"))
    assert r.status_code == 201, r.text
    snapshot_id = r.json()["snapshot_id"]
    r = app_client.post(f"/v1/admin/snapshots/{snapshot_id}/activate", headers=auth("admin"))
    snapshot_change = approved(app_client, r, "admin2")["change_id"]
    profile = STRONG | {"user_id": UID}
    r = app_client.post("/v1/decisions", json={"profile": profile}, headers=auth("service"))
    assert r.status_code == 200, r.text
    decision_id = r.json()["decision_id"]
    user = bearer(issue_user_token(SECRET.encode(), UID, 60))
    r = app_client.post("/v1/reviews", json={"decision_id": decision_id}, headers=user)
    assert r.status_code == 201
    review_id = r.json()["review_id"]
    r = app_client.post(
        f"/v1/admin/reviews/{review_id}/resolve",
        json={"resolution": "upheld", "note": f"called {UID}"},
        headers=auth("admin"),
    )
    assert r.status_code == 200
    r = app_client.post(f"/v1/users/{UID}/consent-withdrawal", headers=auth("service"))
    assert r.status_code == 200
    alias = pseudonym(SECRET.encode(), UID)
    trail = [
        {k: v for k, v in line.items() if k not in ("ts", "level")}
        for line in logs.named("creditgate.admin")
    ]
    base = {"logger": "creditgate.admin", "event": "admin action"}
    assert trail == [
        base | {"action": "policy.upload", "actor": "admin", "subject": version},
        base
        | {"action": "policy.propose", "actor": "operator", "subject": version}
        | {"change": policy_change},
        base
        | {"action": "policy.activate", "actor": "admin", "subject": version}
        | {"change": policy_change},
        base | {"action": "snapshot.load", "actor": "operator", "subject": snapshot_id},
        base
        | {"action": "snapshot.propose", "actor": "admin", "subject": snapshot_id}
        | {"change": snapshot_change},
        base
        | {"action": "snapshot.activate", "actor": "admin2", "subject": snapshot_id}
        | {"change": snapshot_change},
        base
        | {
            "action": "review.request",
            "actor": f"user:{alias}",
            "subject": alias,
            "review_id": review_id,
        },
        base | {"action": "review.claim", "actor": "admin", "subject": review_id},
        base
        | {
            "action": "review.resolve",
            "actor": "admin",
            "subject": review_id,
            "resolution": "upheld",
            "kind": "appeal",
        },
        base
        | {
            "action": "consent.withdraw",
            "actor": "service",
            "subject": alias,
            "erased_decisions": 1,
        },
    ]
    logs.assert_never(UID)


def _fail_with_the_user_id(*_: object) -> None:
    raise RuntimeError(f'duplicate key: DETAIL: Key (user_id)=({UID}) already exists; "{UID}"')


def _insert_twice(self: Catalog, user_id: str) -> None:
    """A real database error whose message holds the user id (psycopg: ``DETAIL: Key
    (user_id)=(...)``; SQLite: SQLAlchemy's ``[parameters: ...]``)."""
    row = {"user_id": user_id, "withdrawn_at": "2026-01-01T00:00:00+00:00"}
    with self.engine.begin() as conn:
        conn.execute(insert(consent_withdrawals).values(**row))
        conn.execute(insert(consent_withdrawals).values(**row))


def assert_reported(logs: Captured, error_id: str, frame_in: str) -> dict[str, Any]:
    """The error's one line: its id, its type, frames down to ``frame_in``; no user id."""
    [line] = [x for x in logs.lines if x.get("error_id") == error_id]
    assert line["level"] == "ERROR" and line["event"] == "internal error"
    frames = [frame for item in line["traceback"] for frame in item["frames"]]
    assert any(frame.endswith(f" in {frame_in}") for frame in frames), frames
    assert all(set(item) == {"type", "frames"} for item in line["traceback"])
    logs.assert_never(UID)
    return line


@pytest.mark.parametrize("real", [False, True], ids=["runtime-error", "integrity-error"])
def test_internal_error_logs_an_error_id_and_frames_never_the_message(
    app_client: TestClient, logs: Captured, monkeypatch: pytest.MonkeyPatch, real: bool
) -> None:
    if real:
        catalog = app_client.app.state.services.catalog  # type: ignore[attr-defined]
        with pytest.raises(IntegrityError) as raised:
            _insert_twice(catalog, UID)
        assert UID in str(raised.value)  # what would have been logged
        monkeypatch.setattr(Catalog, "withdraw_consent", _insert_twice)
    else:
        monkeypatch.setattr(Catalog, "withdraw_consent", _fail_with_the_user_id)
    # raise_server_exceptions is on: the exception must not escape to the server, which
    # would log it with its message
    r = app_client.post(f"/v1/users/{UID}/consent-withdrawal", headers=auth("service"))
    assert r.status_code == 500
    body = r.json()
    assert set(body) == {"detail", "error_id"} and UID not in r.text
    line = assert_reported(logs, body["error_id"], "withdraw_consent")
    types = [item["type"] for item in line["traceback"]]
    assert types[-1] == line["error"]
    if real:
        assert line["error"] == "sqlalchemy.exc.IntegrityError"
    [access] = logs.named("creditgate.access")
    assert access["status"] == 500


def test_fast_lane_failures_log_an_error_id(
    app_client: TestClient, logs: Captured, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fastlane, "entry_view", _fail_with_the_user_id)
    r = app_client.get(f"/v1/users/{UID}/entry", headers=auth("service"))
    assert r.status_code == 500 and set(r.json()) == {"detail", "error_id"}
    assert_reported(logs, r.json()["error_id"], "_fail_with_the_user_id")

    monkeypatch.setattr(DecisionLog, "append_many", _fail_with_the_user_id)
    profile = STRONG | {"user_id": UID}
    r = app_client.post("/v1/decisions", json={"profile": profile}, headers=auth("service"))
    assert r.status_code == 500 and set(r.json()) == {"detail", "error_id"}
    assert_reported(logs, r.json()["error_id"], "_fail_with_the_user_id")
    [batch] = logs.named("creditgate.writer")  # the writer thread reports the batch once
    assert batch["event"] == "decision batch failed" and batch["batch"] == 1
    assert batch["error"] == "RuntimeError" and batch["error_id"] != r.json()["error_id"]
    assert any(f.endswith(" in _run") for f in batch["traceback"][0]["frames"])
    assert [line["status"] for line in logs.named("creditgate.access")] == [500, 500]


def test_safe_traceback_keeps_types_and_frames_along_the_chain() -> None:
    try:
        try:
            raise KeyError(UID)
        except KeyError as inner:
            raise ValueError(f"wrapped {UID}") from inner
    except ValueError as exc:
        chain = safe_traceback(exc)
    assert [item["type"] for item in chain] == ["KeyError", "ValueError"]
    assert all(len(item["frames"]) == 1 for item in chain)
    assert chain[0]["frames"][0].startswith(__file__ + ":")
    assert UID not in orjson.dumps(chain).decode()


def test_serve_writes_json_lines(tmp_path: Path) -> None:
    port = free_port()
    env = os.environ | {
        "CREDITGATE_TOKENS": f"service:service:{TOKENS['service']}",
        "CREDITGATE_SECRET": SECRET,
        "CREDITGATE_LOG_LEVEL": "info",
    }
    stderr = tmp_path / "stderr.log"
    command = [sys.executable, "-m", "creditgate.cli.main", "serve", "--workers", "2"]
    proc = subprocess.Popen(
        [*command, "--port", str(port), "--db", f"sqlite:///{tmp_path}/c.db"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=stderr.open("wb"),
        start_new_session=True,
    )
    try:
        deadline, status = time.monotonic() + 120, 0  # workers start slowly on a busy host
        while time.monotonic() < deadline and status != 200:
            try:
                url = f"http://127.0.0.1:{port}/v1/users/{UID}/entry?ref={UID}"
                status = httpx.get(url, headers=auth("service"), timeout=2).status_code
            except httpx.HTTPError:
                time.sleep(0.2)
            assert proc.poll() is None, stderr.read_text()
        assert status == 200, stderr.read_text()
        time.sleep(0.5)  # the access line is written after the response
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    text = stderr.read_text()
    lines = [orjson.loads(line) for line in text.splitlines() if line.strip()]  # all JSON
    loggers = {line["logger"] for line in lines}
    assert {"creditgate.access", "uvicorn.error"} <= loggers, text
    alias = pseudonym(SECRET.encode(), UID)
    access = [x for x in lines if x["logger"] == "creditgate.access"]  # also timed-out tries
    assert access and all(x["status"] == 200 and x["principal"] == "service" for x in access)
    assert {x["path"] for x in access} == {f"/v1/users/{alias}/entry"}
    assert UID not in text
