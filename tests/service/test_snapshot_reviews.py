"""The batch's ``manual_review`` users (SQLite and PostgreSQL): the snapshot holds them as
``review`` rows that never show the entry, and activating it queues each of them once, as a
stored decision with its reasons; approving one shows the entry."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from test_answers import entry
from test_api import services
from test_review_work import queue, resolve
from test_snapshot_decisions import activate

from conftest import SECRET, make_settings
from creditgate.batch.backends import duckdb_backend
from creditgate.batch.run import run_batch
from creditgate.decider import Decider
from creditgate.population.synth import write_parquet
from creditgate.service import snapshot_reviews
from creditgate.service.app import create_app
from creditgate.service.realtime import RealTimeAnswers
from creditgate.service.security import pseudonym
from creditgate.service.snapshot_reviews import EVENT, queue_snapshot_reviews
from creditgate.snapshot import REVIEW, read_entries, read_invited, read_review
from creditgate.store.repo import verify

AS_OF = date(2026, 11, 28)


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict[str, Any]]]:
    """A batch run whose population has manual reviews: its snapshot and decisions by user."""
    work = tmp_path_factory.mktemp("batch")
    source = work / "users.parquet"
    write_parquet(source, 2000, seed=5, as_of=AS_OF, chunk_size=2000)
    decider = Decider()
    snapshot = work / "snap" / "snapshot.parquet"
    snapshot.parent.mkdir()
    out = work / "decisions.parquet"
    run_batch(
        duckdb_backend("1GB", 1), source, out, decider.policy, decider.regions, AS_OF, snapshot
    )
    # the same population decided again: a routine refresh of the first snapshot
    run_batch(
        duckdb_backend("1GB", 1),
        source,
        work / "again.parquet",
        decider.policy,
        decider.regions,
        AS_OF,
        snapshot.parent / "refresh.parquet",
    )
    return snapshot, {r["user_id"]: r for r in pq.read_table(out).to_pylist()}


@pytest.fixture
def client(db_url: str, batch) -> Iterator[TestClient]:
    settings = make_settings(db_url, snapshot_dir=str(batch[0].parent))  # files beside it
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        yield c


def reviewed(batch: tuple[Path, dict[str, dict[str, Any]]]) -> list[str]:
    return sorted(u for u, r in batch[1].items() if r["outcome"] == "manual_review")


def settled(client: TestClient) -> None:
    """Wait for this worker's background queuing."""
    client.app.state.snapshot_reviews.join(120)  # type: ignore[attr-defined]


def test_the_snapshot_holds_the_manual_reviews_as_hidden_rows(batch) -> None:
    snapshot, rows = batch
    users = reviewed(batch)
    assert users, "seed a population with manual reviews"
    review = read_review(snapshot).to_pylist()
    assert sorted(r["user_id"] for r in review) == users
    for r in review:
        decided = rows[r["user_id"]]
        assert r["entry"] == REVIEW and r["score"] == decided["score"]
        assert r["limit_cny"] is None and r["apr"] is None and r["invited_since"] is None
    # the invited and the other rows are what they were: review rows are only added
    invited = {u for u, r in rows.items() if r["outcome"] == "invited"}
    assert set(read_invited(snapshot).column("user_id").to_pylist()) == invited
    shown = {u for u, r in rows.items() if r["entry"] != "hidden"}
    assert read_entries(snapshot).num_rows == len(shown) + len(users)


def test_activation_queues_each_manual_review_once_with_its_reasons(
    client: TestClient, batch, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    snapshot, rows = batch
    users = reviewed(batch)
    caplog.set_level(logging.INFO, logger="creditgate.admin")
    before = verify(services(client).log)[0]
    sid = activate(client, snapshot)
    settled(client)
    items = queue(client, kind="manual_review", limit="500")
    by_user = {pseudonym(SECRET.encode(), u): u for u in users}
    assert sorted(i["user"] for i in items) == sorted(by_user)  # each once, nobody else
    log = services(client).log
    for item in items:
        user = by_user[item["user"]]
        assert item["reason_codes"] == rows[user]["reason_codes"]  # the batch's reasons
        stored = log.get(item["decision_id"])
        assert stored.user_id == user and stored.decision["outcome"] == "manual_review"
        assert stored.inputs["snapshot"]["snapshot_id"] == sid
        assert not entry(client, user)  # still hidden while under review
    assert verify(log)[0] == before + len(users)
    [done] = services(client).events.events(EVENT)
    assert done.subject == sid and done.body["queued"] == len(users) == done.body["review_rows"]
    assert not any(u in str(done.body) for u in users)  # counts only

    # run again: those users' answers are now the stored decisions; nothing is stored
    again = asyncio.run(queue_snapshot_reviews(services(client), sid))
    assert again["answered_otherwise"] == len(users) and "queued" not in again
    # a worker that has not read those decisions yet: it finds their open items
    state = services(client).state
    known = state.realtime
    state.realtime = RealTimeAnswers(known.key, verify(log)[0])
    try:
        late = asyncio.run(queue_snapshot_reviews(services(client), sid))
        assert late["already_open"] == len(users)
        # nor the items (two workers at once, or a run interrupted after storing): the
        # same decisions come back and are queued once
        monkeypatch.setattr(snapshot_reviews, "open_manual_review", lambda *_: False)
        racing = asyncio.run(queue_snapshot_reviews(services(client), sid))
    finally:
        state.realtime = known
        monkeypatch.undo()
    assert racing["queued"] == len(users)
    assert len(queue(client, kind="manual_review", limit="500")) == len(users)
    assert verify(log)[0] == before + len(users)
    # the admin trail says "queued" once per item, however many runs found it queued
    trail = [getattr(r, "fields", {}) for r in caplog.records]
    queued = sorted(f["subject"] for f in trail if f.get("action") == "review.queue")
    assert queued == sorted(by_user)

    # a routine refresh holding the same manual reviews queues none of them again
    refreshed = activate(client, snapshot.parent / "refresh.parquet")
    settled(client)
    assert refreshed != sid and state.snapshot.snapshot_id == refreshed
    assert len(queue(client, kind="manual_review", limit="500")) == len(users)
    assert verify(log)[0] == before + len(users)
    second = services(client).events.events(EVENT)[-1]
    assert second.subject == refreshed and second.body["already_open"] == len(users)

    # resolving one (approve) shows that user the entry
    item = items[0]
    assert resolve(client, item["review_id"], "approve").status_code == 200
    assert entry(client, by_user[item["user"]])
    assert not entry(client, by_user[items[1]["user"]])


def test_a_second_worker_and_a_start_up_snapshot_do_not_queue_twice(
    db_url: str, tmp_path: Path, batch
) -> None:
    snapshot = batch[0]
    users = reviewed(batch)
    settings = make_settings(
        db_url, snapshot_dir=str(tmp_path / "snapshots"), snapshot_path=str(snapshot)
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as first:
        settled(first)  # the start-up activation queued them
        assert len(queue(first, kind="manual_review", limit="500")) == len(users)
        length = verify(services(first).log)[0]
        second = create_app(make_settings(db_url, snapshot_dir=str(tmp_path / "snapshots")))
        # a second worker on the same database (``serve --workers``): it migrates nothing
        with TestClient(second, raise_server_exceptions=False) as other:
            settled(other)
            assert len(queue(other, kind="manual_review", limit="500")) == len(users)
            assert verify(services(other).log)[0] == length
            assert len(services(other).events.events(EVENT)) == 1
