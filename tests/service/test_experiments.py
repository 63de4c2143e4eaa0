"""Champion/challenger in the service (SQLite and PostgreSQL): started and stopped with four
eyes, users decided and answered by their arm, the arm recorded and replayed, the report."""

from __future__ import annotations

import math
import statistics
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from test_api import STRONG, decide, services
from typer.testing import CliRunner

from conftest import approved, auth, write_snapshot_file
from creditgate.cli.main import app as cli
from creditgate.experiment import assign
from creditgate.experiment_report import wilson
from creditgate.service.answers import answer
from creditgate.service.state import ServiceState
from creditgate.store.experiments import get
from creditgate.store.replay import replay

runner = CliRunner()
LOOSE = {"tier1": 700, "new_tier1": 700, "capital": 700, "prefecture": 700}
TIGHT = {k: 796 for k in LOOSE}  # STRONG scores 795
CANDIDATES = [f"u-{i:03d}" for i in range(200)]


def snapshot(
    tmp_path: Path,
    name: str,
    cutoffs: dict[str, int],
    version: str,
    invited: list[str],
    fingerprint: str = "fp",
    as_of: date = date(2026, 11, 28),
) -> Path:
    path = tmp_path / "snapshots" / f"{name}.parquet"
    return write_snapshot_file(
        path, invited, version, cutoffs, {}, score=790, as_of=as_of,
        fingerprint=fingerprint, written_at=datetime.now(UTC),
    )  # fmt: skip


def register(client: TestClient, path: Path) -> str:
    r = client.post("/v1/admin/snapshots", json={"path": str(path)}, headers=auth("operator"))
    assert r.status_code == 201, r.text
    sid: str = r.json()["snapshot_id"]
    return sid


def champion_version(client: TestClient) -> str:
    version: str = client.get("/v1/admin/policies", headers=auth("viewer")).json()[0]["version"]
    return version


def add_challenger_policy(client: TestClient) -> str:
    version = champion_version(client)
    text = client.get(f"/v1/admin/policies/{version}", headers=auth("viewer")).json()["text"]
    r = client.post(
        "/v1/admin/policies",
        json={"text": text.replace(version, version + "-b", 1)},
        headers=auth("operator"),
    )
    assert r.status_code == 201, r.text
    return version + "-b"


def setup(client: TestClient, tmp_path: Path) -> tuple[str, str, str]:
    """Champion: the default policy with a loose snapshot inviting every candidate; the
    challenger: the same text as another version, a tight snapshot inviting nobody.
    Returns (challenger version, champion snapshot, challenger snapshot)."""
    version = champion_version(client)
    champ = register(client, snapshot(tmp_path, "champ", LOOSE, version, CANDIDATES))
    url = f"/v1/admin/snapshots/{champ}/activate"
    approved(client, client.post(url, headers=auth("operator")))
    challenger = add_challenger_policy(client)
    chall = register(client, snapshot(tmp_path, "chall", TIGHT, challenger, []))
    return challenger, champ, chall


def propose(client: TestClient, policy: str, snap: str, share: float = 0.5) -> Any:
    body = {"challenger_policy": policy, "challenger_snapshot": snap, "share": share}
    return client.post("/v1/admin/experiments", json=body, headers=auth("operator"))


def start(client: TestClient, tmp_path: Path) -> tuple[str, str, str, str, str]:
    """A running 50% experiment; returns (id, a challenger user, a champion user, champion
    snapshot, challenger snapshot)."""
    challenger, champ, chall = setup(client, tmp_path)
    change = approved(client, propose(client, challenger, chall))
    found = get(services(client).engine, change["target"])
    assert found is not None and found.status == "running"
    arms = {u: assign(found.salt, found.share, u) for u in CANDIDATES}
    chall_user = next(u for u, a in arms.items() if a == "challenger")
    champ_user = next(u for u, a in arms.items() if a == "champion")
    return found.experiment_id, chall_user, champ_user, champ, chall


def codes(decision: dict[str, Any]) -> list[str]:
    return [r["code"] for r in decision["reasons"]]


def test_starting_without_approval_is_not_live(client: TestClient, tmp_path: Path) -> None:
    challenger, _, chall = setup(client, tmp_path)
    r = propose(client, challenger, chall)
    assert r.status_code == 202 and r.json()["status"] == "proposed", r.text
    change = r.json()
    assert change["kind"] == "experiment_start" and change["effect"]["challenger"]["cutoffs"]
    listed = client.get("/v1/admin/experiments", headers=auth("viewer")).json()
    assert [(e["status"], e["change_id"]) for e in listed] == [("proposed", change["change_id"])]
    assert services(client).state.experiment is None
    for user in CANDIDATES[:20]:  # nobody is decided by the challenger
        d = decide(client, STRONG | {"user_id": user})
        assert "experiment" not in d and d["outcome"] == "invited"
    url = f"/v1/admin/changes/{change['change_id']}/approve"
    r = client.post(url, json={}, headers=auth("operator"))  # the proposer's role may not
    assert r.status_code == 403


def test_challenger_users_are_decided_by_the_challenger_and_replay(
    client: TestClient, db_url: str, tmp_path: Path
) -> None:
    eid, chall_user, champ_user, champ, chall = start(client, tmp_path)
    version = champion_version(client)
    d = decide(client, STRONG | {"user_id": chall_user})
    assert d["experiment"] == {"id": eid, "arm": "challenger"}
    assert d["outcome"] == "not_invited" and "CAPACITY" in codes(d), d
    assert d["policy"]["version"] == version + "-b"
    assert d["cutoffs"]["snapshot_id"] == chall and d["cutoffs"]["by_class"] == TIGHT
    stored = services(client).log.get(d["decision_id"])
    assert stored.inputs["experiment"] == {"id": eid, "arm": "challenger"}
    assert stored.inputs["snapshot"] == {"snapshot_id": chall, "cutoffs": TIGHT}
    c = decide(client, STRONG | {"user_id": champ_user})
    assert c["experiment"] == {"id": eid, "arm": "champion"} and c["outcome"] == "invited"
    assert c["policy"]["version"] == version and c["cutoffs"]["snapshot_id"] == champ
    for decision_id in (d["decision_id"], c["decision_id"]):
        result = runner.invoke(cli, ["replay", decision_id, "--db", db_url])
        assert result.exit_code == 0 and "identical" in result.output, result.output
    result = runner.invoke(cli, ["audit", "verify", "--db", db_url])
    assert result.exit_code == 0, result.output


def test_replay_refuses_a_record_in_the_wrong_arm(client: TestClient, tmp_path: Path) -> None:
    eid, chall_user, _, _, _ = start(client, tmp_path)
    d = decide(client, STRONG | {"user_id": chall_user})
    log = services(client).log
    stored = log.get(d["decision_id"])
    wrong = {"id": eid, "arm": "champion"}
    forged = stored.decision | {"decision_id": "d_" + "2" * 24, "experiment": wrong}
    forged["review"] = stored.decision["review"] | {"decision_id": forged["decision_id"]}
    log.append(forged, stored.inputs | {"experiment": wrong}, None, False)
    result = replay(log, services(client).catalog, forged["decision_id"])
    assert result.status == "different"
    assert result.differences[0].startswith("experiment: stored arm 'champion'")


def test_the_entry_and_answer_use_the_arms_snapshot_until_stopped(
    client: TestClient, tmp_path: Path
) -> None:
    eid, chall_user, champ_user, champ, chall = start(client, tmp_path)

    def entry(user: str) -> dict[str, Any]:
        r = client.get(f"/v1/users/{user}/entry", headers=auth("service"))
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    assert entry(chall_user)["entry_visible"] is False  # the challenger invites nobody
    assert entry(chall_user)["snapshot_id"] == chall
    assert entry(champ_user)["entry_visible"] is True and entry(champ_user)["snapshot_id"] == champ
    found = answer(services(client), chall_user)
    assert (found.snapshot_id, found.entry_visible) == (chall, False)
    # a real-time decision under the challenger answers the challenger user from now on
    loose_user = STRONG | {"user_id": chall_user}
    assert decide(client, loose_user)["outcome"] == "not_invited"
    assert answer(services(client), chall_user).source == "decision"
    # another worker built from the database agrees on every arm and answer
    state = services(client).state
    other = ServiceState(state.catalog, state.snapshot_dir, state.db_url, state.decision_log)
    other.refresh()
    for user in CANDIDATES:
        assert other.view(user).experiment == state.view(user).experiment
    # a policy or snapshot activation waits for the experiment to stop
    refresh = snapshot(tmp_path, "refresh", LOOSE, champion_version(client), CANDIDATES, "fp2")
    url = f"/v1/admin/snapshots/{register(client, refresh)}/activate"
    r = client.post(url, headers=auth("operator"))
    assert r.status_code == 409 and f"experiment {eid} is running" in r.json()["detail"], r.text
    r = client.post(f"/v1/admin/experiments/{eid}/stop", headers=auth("operator"))
    assert r.status_code == 202 and r.json()["kind"] == "experiment_stop"
    assert entry(chall_user)["snapshot_id"] == chall  # not before the approval
    approved(client, r)
    assert services(client).state.experiment is None
    assert entry(chall_user)["entry_visible"] is True and entry(chall_user)["snapshot_id"] == champ
    d = decide(client, loose_user)
    assert (
        "experiment" not in d and d["outcome"] == "invited" and d["cutoffs"]["snapshot_id"] == champ
    )
    other.refresh()
    assert other.experiment is None
    listed = client.get("/v1/admin/experiments", headers=auth("viewer")).json()
    assert [(e["experiment_id"], e["status"]) for e in listed] == [(eid, "stopped")]
    r = client.post(f"/v1/admin/experiments/{eid}/stop", headers=auth("operator"))
    assert r.status_code == 409 and "not running" in r.json()["detail"]


def test_refusals_say_why(client: TestClient, tmp_path: Path) -> None:
    challenger, champ, chall = setup(client, tmp_path)
    for share in (0, 0.6, -0.1):
        r = propose(client, challenger, chall, share)
        assert r.status_code == 422
        assert "share must be above 0 and at most 0.5" in r.json()["detail"][0]["msg"], r.text
    r = propose(client, "no-such-version", chall)
    assert r.status_code == 422 and r.json()["detail"] == (
        "challenger policy version no-such-version is not stored"
    )
    r = propose(client, challenger, "0" * 32)
    assert r.status_code == 422 and "is not registered" in r.json()["detail"]
    other = register(client, snapshot(tmp_path, "other", TIGHT, challenger, [], "fp-other"))
    r = propose(client, challenger, other)
    assert r.status_code == 409, r.text
    assert "not made by the same batch run over the same population" in r.json()["detail"]
    assert "input_fingerprint differ" in r.json()["detail"]
    later = snapshot(tmp_path, "later", TIGHT, challenger, [], as_of=date(2026, 11, 29))
    r = propose(client, challenger, register(client, later))
    assert r.status_code == 409 and "as_of differ" in r.json()["detail"], r.text
    r = propose(client, challenger, champ)  # the champion's snapshot is of another policy
    assert r.status_code == 409 and "not made for the challenger policy" in r.json()["detail"]
    r = propose(client, champion_version(client), champ)
    assert r.status_code == 422 and "the challenger is the champion" in r.json()["detail"]
    assert client.get("/v1/admin/experiments", headers=auth("viewer")).json() == []


def test_the_report_counts_equal_a_hand_count(
    client: TestClient, db_url: str, tmp_path: Path
) -> None:
    eid, _, _, _, _ = start(client, tmp_path)
    decided = [decide(client, STRONG | {"user_id": u}) for u in CANDIDATES[:30]]
    decided.append(decide(client, STRONG | {"user_id": CANDIDATES[0]}))  # decided twice
    weak = STRONG | {"user_id": CANDIDATES[1], "is_student": True}
    decided.append(decide(client, weak))  # and a decline: the latest decision counts
    hand: dict[str, dict[str, Any]] = {}
    for d in decided:
        arm = hand.setdefault(d["experiment"]["arm"], {"decisions": 0, "latest": {}})
        arm["decisions"] += 1
        arm["latest"][d["user_id"]] = d
    performance = tmp_path / "snapshots" / "performance.csv"
    invited = {
        u for a in hand.values() for u, d in a["latest"].items() if d["outcome"] == "invited"
    }
    bad = set(sorted(invited)[::3])
    rows = "".join(f"{u},{int(u in bad)}\n" for u in sorted(invited))
    performance.write_text("user_id,defaulted\n" + rows)
    url = f"/v1/admin/experiments/{eid}/report?performance=performance.csv"
    r = client.get(url, headers=auth("viewer"))
    assert r.status_code == 200, r.text
    report = r.json()
    for name, arm in report["arms"].items():
        counted = hand.get(name, {"decisions": 0, "latest": {}})
        latest = counted["latest"]
        arm_invited = [d for d in latest.values() if d["outcome"] == "invited"]
        outcomes: dict[str, int] = {}
        for d in decided:
            if d["experiment"]["arm"] == name:
                outcomes[d["outcome"]] = outcomes.get(d["outcome"], 0) + 1
        assert arm["decisions"] == counted["decisions"]
        assert arm["outcomes"] == outcomes
        assert arm["users"] == len(latest) and arm["invited_users"] == len(arm_invited)
        assert arm["invited_share"] == (len(arm_invited) / len(latest) if latest else None)
        limits = sorted(d["limit_cny"] for d in arm_invited)
        assert arm["limit_mean"] == (sum(limits) / len(limits) if limits else None)
        defaulted = sum(d["user_id"] in bad for d in arm_invited)
        assert arm["bad_rate"]["defaulted"] == defaulted
        assert arm["bad_rate"]["with_outcome"] == len(arm_invited)
        if arm_invited:
            interval = (arm["bad_rate"]["low"], arm["bad_rate"]["high"])
            assert interval == pytest.approx(wilson(defaulted, len(arm_invited)))
        assert arm["limit_median"] == (statistics.median(limits) if limits else None)
    assert report["arms"]["challenger"]["invited_users"] == 0  # the tight challenger
    assert report["arms"]["champion"]["invited_users"] > 0
    result = runner.invoke(cli, ["experiment", "report", "--db", db_url, "--json"])
    assert result.exit_code == 0, result.output
    by_cli = orjson.loads(result.stdout)
    for arm in ("champion", "challenger"):
        expected = report["arms"][arm] | {"bad_rate": None}
        assert by_cli["arms"][arm] == expected
    result = runner.invoke(
        cli, ["experiment", "report", "--db", db_url, "--performance", str(performance)]
    )
    assert result.exit_code == 0 and "bad rate" in result.output, result.output
    r = client.get(
        f"/v1/admin/experiments/{eid}/report?performance=../x.csv", headers=auth("viewer")
    )
    assert r.status_code == 422


def test_wilson_interval_matches_the_textbook() -> None:
    low, high = wilson(10, 100)  # p = 0.1, n = 100: 0.0552 to 0.1744
    assert math.isclose(low, 0.05523, abs_tol=1e-4) and math.isclose(high, 0.17437, abs_tol=1e-4)
