"""One truth per user, checked user by user against the batch (issue 12, "Done when").

A synthetic population of 20k users (fixed seed, with bad and duplicate rows) goes through the
DuckDB batch with a snapshot written into the service's snapshot directory; the service
registers and activates that snapshot. Then, for every user: the entry lookup before any
real-time decision is the batch's ``entry_visible``; ``answer`` (what the page shows) gives
the batch's outcome, score, limit, APR and reason codes; for a sample (every outcome, every
refusal reason), a real-time decision with the same profile and ``as_of`` agrees with the batch
and with the answer shown before it, and the lookup and the answer then come from it. Users the
batch did not decide (quarantined, duplicated ids) are unknown: hidden, source ``none``.
``benchmarks/agreement.py`` runs the same check over 200k users and prints its costs.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from test_answers import entry as lookup  # the entry lookup over HTTP, as a service calls it

from agreement_facts import batch_facts, client_json, comparable, facts, sample
from conftest import approved, auth, make_settings, write_snapshot_file
from creditgate.batch.backends import duckdb_backend
from creditgate.batch.run import BatchReport, run_batch
from creditgate.decider import Decider
from creditgate.identifiers import user_id_problem
from creditgate.population.schema import PROFILE_SCHEMA
from creditgate.population.synth import write_parquet
from creditgate.service.answers import Answer, answer, entry_visible
from creditgate.service.app import create_app
from creditgate.service.deps import Services
from creditgate.service.routes.entry import entry_view

pytestmark = pytest.mark.population

AS_OF = date(2025, 6, 30)
USERS = 20_000
SEED = 20261130
DIRTY = 0.002  # 40 rows with one defect each, quarantined by the batch
SAMPLE = 500  # users decided again in real time
PER_REASON = 12  # of them, at least this many (where there are) per refusal reason


@dataclass
class Population:
    """A batch run over a synthetic population, written where the service reads snapshots."""

    source: Path
    snapshot_dir: Path
    report: BatchReport
    batch: dict[str, dict[str, Any]]  # user id -> decisions.parquet row
    profiles: dict[str, dict[str, Any]]  # user id -> the input row as JSON a client sends
    input_ids: list[str]  # every user id of the input (once), valid or not


def with_duplicates(source: Path) -> list[str]:
    """Append two rows repeating clean users' ids (one identical, one with another pay
    score): the batch quarantines every row of such an id. Returns the repeated ids."""
    table = pq.read_table(source)
    picked = table.slice(100, 1).to_pylist() + table.slice(200, 1).to_pylist()
    assert all(row["_dirty_kind"] is None for row in picked)
    picked[1]["pay_score"] = "700" if picked[1]["pay_score"] != "700" else "701"
    pq.write_table(pa.concat_tables([table, pa.Table.from_pylist(picked, table.schema)]), source)
    return [str(row["user_id"]) for row in picked]


@pytest.fixture(scope="session")
def population(tmp_path_factory: pytest.TempPathFactory) -> Population:
    """20k synthetic users with bad and duplicate rows, through the DuckDB batch with a
    snapshot (and its decided profiles) written into a service snapshot directory."""
    base = tmp_path_factory.mktemp("agreement")
    source = base / "users.parquet"
    write_parquet(source, USERS, seed=SEED, as_of=AS_OF, dirty_fraction=DIRTY, chunk_size=5_000)
    duplicated = with_duplicates(source)
    decider = Decider()
    snapshot_dir = base / "snapshots"
    report = run_batch(
        duckdb_backend("1GB", 2),
        source,
        base / "decisions.parquet",
        decider.policy,
        decider.regions,
        AS_OF,
        snapshot=snapshot_dir / "snapshot.parquet",
    )
    assert report.reconciles and report.duplicate_rows >= 2 * len(duplicated)
    batch = {r["user_id"]: r for r in pq.read_table(base / "decisions.parquet").to_pylist()}
    rows = pq.read_table(source, columns=PROFILE_SCHEMA.names).to_pylist()
    input_ids = list(dict.fromkeys(r["user_id"] for r in rows if r["user_id"] is not None))
    profiles = {r["user_id"]: client_json(r) for r in rows if r["user_id"] in batch}
    assert not set(duplicated) & set(batch)
    return Population(source, snapshot_dir, report, batch, profiles, input_ids)


@pytest.fixture(scope="session")
def agreement_client(
    population: Population, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    """The service on a fresh SQLite database, with the batch's snapshot registered by an
    operator and activated (approved by a second person)."""
    db = tmp_path_factory.mktemp("agreement-db") / "creditgate.db"
    settings = make_settings(f"sqlite:///{db}", snapshot_dir=str(population.snapshot_dir))
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        r = client.post(
            "/v1/admin/snapshots", json={"path": "snapshot.parquet"}, headers=auth("operator")
        )
        assert r.status_code == 201, r.text
        sid = r.json()["snapshot_id"]
        url = f"/v1/admin/snapshots/{sid}/activate"
        approved(client, client.post(url, headers=auth("operator")))
        services_of(client).state.refresh()
        assert services_of(client).state.snapshot.snapshot_id == sid  # type: ignore[union-attr]
        client.app.state.snapshot_reviews.join(300)  # type: ignore[attr-defined]
        yield client


def services_of(client: TestClient) -> Services:
    services: Services = client.app.state.services  # type: ignore[attr-defined]
    return services


def test_every_user_gets_the_batch_answer_before_and_after_a_real_time_decision(
    population: Population, agreement_client: TestClient
) -> None:
    client, services = agreement_client, services_of(agreement_client)
    state, batch = services.state, population.batch
    reasons = {code for row in batch.values() for code in row["reason_codes"]}
    assert "REGION_QUOTA" in reasons  # the snapshot's cutoffs really cut someone
    unknown = [uid for uid in population.input_ids if uid not in batch]
    assert len(unknown) >= 40  # the bad rows' users and both duplicated ids
    # nothing decided in real time yet, but the manual reviews stored and queued at activation
    reviewed = {uid for uid, row in batch.items() if row["outcome"] == "manual_review"}
    assert reviewed and set(state.realtime.by_user) == reviewed

    # (a) the entry lookup, before any real-time decision, for every user of the input
    wrong = [
        uid
        for uid in population.input_ids
        if entry_view(services, uid)["entry_visible"]
        != (batch[uid]["entry_visible"] if uid in batch else False)
    ]
    assert not wrong, f"{len(wrong)} entry lookups disagree with the batch, e.g. {wrong[:3]}"

    # (b) the answer (what the page shows) for every user the batch decided
    before: dict[str, Answer] = {}
    disagree = []
    for uid, row in batch.items():
        found = answer(services, uid)
        before[uid] = found
        assert found.decision is not None, uid
        if (
            found.source != ("decision" if uid in reviewed else "snapshot")
            or found.entry_visible != row["entry_visible"]
            or facts(found.decision) != batch_facts(row)
            or found.profile != population.profiles[uid]
            or found.as_of != AS_OF
        ):
            disagree.append(uid)
    assert not disagree, f"{len(disagree)} answers disagree with the batch, e.g. {disagree[:3]}"
    for uid in unknown:  # quarantined or duplicated: nothing known
        found = answer(services, uid)
        assert (found.source, found.entry_visible, found.decision) == ("none", False, None), uid
        if user_id_problem(uid) is None:
            assert lookup(client, uid) is False, uid

    # (c) a real-time decision with the same profile and as_of, for a sample
    chosen = sample(batch, SAMPLE, random.Random(SEED), PER_REASON)
    assert len(chosen) == SAMPLE
    for uid in chosen[:100]:  # the lookup over HTTP (the fast lane) says the same
        assert lookup(client, uid) is batch[uid]["entry_visible"], uid
    snapshot_id = state.snapshot.snapshot_id  # type: ignore[union-attr]
    posted: dict[str, dict[str, Any]] = {}
    for uid in chosen:
        body = {"profile": population.profiles[uid], "as_of": AS_OF.isoformat()}
        r = client.post("/v1/decisions", json=body, headers=auth("service"))
        assert r.status_code == 200, r.text
        decision = r.json()
        posted[uid] = decision
        assert facts(decision) == batch_facts(batch[uid]), uid
        assert decision["entry_visible"] is batch[uid]["entry_visible"], uid
        shown = before[uid].decision
        assert shown is not None and comparable(decision) == comparable(shown), uid
        stored = services.log.get(decision["decision_id"])
        assert stored is not None and stored.inputs["snapshot"]["snapshot_id"] == snapshot_id

    def answers_come_from_the_decisions() -> None:
        for uid, decision in posted.items():
            found = answer(services, uid)
            assert (found.source, found.decision_id) == ("decision", decision["decision_id"]), uid
            assert found.decision == decision and found.entry_visible is decision["entry_visible"]
            assert entry_visible(state, uid) is decision["entry_visible"], uid
        for uid in chosen[:100]:
            assert lookup(client, uid) is posted[uid]["entry_visible"], uid

    answers_come_from_the_decisions()  # this worker knows at once
    state.refresh()  # and reading them back from the log gives the same
    assert set(posted) <= set(state.realtime.by_user)
    answers_come_from_the_decisions()
    assert answer(services, unknown[0]).source == "none"  # still unknown


def test_a_decision_by_another_worker_is_seen_after_one_refresh(
    db_url: str, tmp_path: Path
) -> None:
    """Two workers (two apps) on one database: worker B's lookup and answer show worker A's
    real-time decision after B's next state refresh, and not before (B never refreshes on its
    own here: its period is an hour)."""
    from test_api import AS_OF as API_AS_OF
    from test_api import STRONG

    snapshot_dir = tmp_path / "snapshots"
    write_snapshot_file(snapshot_dir / "small.parquet", ["someone-else"])
    a = TestClient(create_app(make_settings(db_url, snapshot_dir=str(snapshot_dir))))
    b = TestClient(
        create_app(make_settings(db_url, snapshot_dir=str(snapshot_dir), state_refresh_s=3600))
    )
    with a, b:
        r = a.post("/v1/admin/snapshots", json={"path": "small.parquet"}, headers=auth("operator"))
        assert r.status_code == 201, r.text
        sid = r.json()["snapshot_id"]
        approved(a, a.post(f"/v1/admin/snapshots/{sid}/activate", headers=auth("operator")))
        worker_b = services_of(b)
        worker_b.state.refresh()
        assert worker_b.state.snapshot is not None and worker_b.state.snapshot.snapshot_id == sid
        user = STRONG["user_id"]
        assert lookup(b, user) is False and answer(worker_b, user).source == "none"

        body = {"profile": STRONG, "as_of": API_AS_OF}
        r = a.post("/v1/decisions", json=body, headers=auth("service"))
        assert r.status_code == 200, r.text
        decision = r.json()
        assert decision["entry_visible"] is True  # invited: the small snapshot cuts at 600
        assert lookup(a, user) is True  # the worker that decided knows at once
        assert lookup(b, user) is False  # the other one on its next refresh

        worker_b.state.refresh()
        assert lookup(b, user) is True
        found = answer(worker_b, user)
        assert (found.source, found.decision_id) == ("decision", decision["decision_id"])
        assert found.decision == decision
