"""``batch --previous``: a refresh reads the invitations the snapshot in force holds, keeps
them as the policy's stability rules say, keeps servicing reachable and tells who must be
notified; the new snapshot carries each invitation's start for the next refresh."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from creditgate.batch.backends import duckdb_backend
from creditgate.batch.run import BatchInputError, run_batch
from creditgate.cli.main import app
from creditgate.decider import Decider
from creditgate.population.synth import write_parquet
from creditgate.snapshot import read_invited, read_servicing

T0 = date(2026, 8, 28)
T1 = T0 + timedelta(days=30)  # within the default policy's 90 days
USERS = 4000


def batch(tmp: Path, source: Path, name: str, as_of: date, previous: Path | None) -> pa.Table:
    decider = Decider()
    run_batch(
        duckdb_backend("1GB", 2),
        source,
        tmp / f"{name}.parquet",
        decider.policy,
        decider.regions,
        as_of,
        snapshot=tmp / f"{name}.snapshot.parquet",
        previous=previous,
    )
    return pq.read_table(tmp / f"{name}.parquet")


@pytest.fixture(scope="module")
def refresh(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """A first run at T0; then at T1 the same users, where 40 invited users' repayment score
    fell to 0, 10 invited users hit the blacklist and 30 users not invited (and 20 invited)
    owe money; decided with and without ``--previous``."""
    tmp = tmp_path_factory.mktemp("previous")
    first = tmp / "t0.parquet"
    write_parquet(first, USERS, seed=21, as_of=T0, chunk_size=5_000)
    d0 = batch(tmp, first, "d0", T0, None)
    invited = d0.filter(pc.equal(d0["outcome"], "invited"))["user_id"].to_pylist()
    refused = d0.filter(pc.equal(d0["outcome"], "not_invited"))["user_id"].to_pylist()
    fell, listed, owing = set(invited[:40]), set(invited[40:50]), set(refused[:30] + invited[50:70])
    pop = pq.read_table(first)
    ids = pop["user_id"].to_pylist()
    repay = [
        0 if u in fell else v
        for u, v in zip(ids, pop["ecosystem_repayment_score"].to_pylist(), strict=True)
    ]
    black = [u in listed or v for u, v in zip(ids, pop["blacklist_hit"].to_pylist(), strict=True)]
    loan = [True if u in owing else None for u in ids]
    pop = pop.set_column(
        pop.schema.get_field_index("ecosystem_repayment_score"),
        "ecosystem_repayment_score",
        pa.array(repay, pa.int64()),
    )
    pop = pop.set_column(
        pop.schema.get_field_index("blacklist_hit"), "blacklist_hit", pa.array(black)
    )
    pop = pop.set_column(
        pop.schema.get_field_index("has_outstanding_loan"),
        "has_outstanding_loan",
        pa.array(loan, pa.bool_()),
    )
    second = tmp / "t1.parquet"
    pq.write_table(pop, second)
    return {
        "tmp": tmp,
        "second": second,
        "invited": set(invited),
        "fell": fell,
        "listed": listed,
        "owing": owing,
        "held": batch(tmp, second, "d1", T1, tmp / "d0.snapshot.parquet"),
        "bare": batch(tmp, second, "b1", T1, None),
    }


def by_user(table: pa.Table) -> dict[str, dict[str, object]]:
    return {r["user_id"]: r for r in table.to_pylist()}


def test_a_fallen_score_keeps_the_invitation_within_the_minimum_period(refresh: dict) -> None:
    held, bare = by_user(refresh["held"]), by_user(refresh["bare"])
    fell = refresh["fell"]
    # they did fall (20 of the 40 under the retrained card, whose floors are lower)
    assert sum(bare[u]["outcome"] != "invited" for u in fell) >= 15
    for u in fell:
        assert held[u]["outcome"] == "invited" and held[u]["entry"] == "offer"
        assert held[u]["invited_since"] == T0
    assert sum(held[u]["retained"] for u in fell) == sum(
        bare[u]["outcome"] != "invited" for u in fell
    )


def test_a_blacklisted_user_loses_it_at_once_and_is_told(refresh: dict) -> None:
    held = by_user(refresh["held"])
    for u in refresh["listed"]:
        assert held[u]["outcome"] != "invited" and held[u]["withdrawn"]
        assert "FRAUD_SUSPECTED" in held[u]["reason_codes"]


def test_no_one_invited_before_loses_the_entry_without_a_gate_or_fraud_rule(refresh: dict) -> None:
    held = by_user(refresh["held"])
    lost = {u for u in refresh["invited"] if held[u]["outcome"] != "invited"}
    assert lost == refresh["listed"]


def test_servicing_stays_reachable_and_the_snapshot_says_so(refresh: dict) -> None:
    held, tmp = by_user(refresh["held"]), refresh["tmp"]
    snap = tmp / "d1.snapshot.parquet"
    servicing = set(read_servicing(snap)["user_id"].to_pylist())
    owing_refused = {u for u in refresh["owing"] if held[u]["outcome"] != "invited"}
    assert owing_refused and servicing == owing_refused
    for u in owing_refused:
        assert held[u]["entry"] == "servicing" and held[u]["entry_visible"]
    offer = read_invited(snap)
    since = dict(zip(offer["user_id"].to_pylist(), offer["invited_since"].to_pylist(), strict=True))
    assert all(since[u] == T0 for u in refresh["invited"] - refresh["listed"])
    new = set(since) - refresh["invited"]
    assert all(since[u] == T1 for u in new)


def test_limit_reductions_are_exactly_the_held_lines_cut(refresh: dict) -> None:
    held = by_user(refresh["held"])
    before = by_user(read_invited(refresh["tmp"] / "d0.snapshot.parquet"))
    cut = {
        u
        for u, r in held.items()
        if u in before and r["outcome"] == "invited" and r["limit_cny"] < before[u]["limit_cny"]
    }
    assert cut  # the fallen users' lines shrink
    assert {u for u, r in held.items() if r["limit_reduced"]} == cut


def test_a_previous_snapshot_dated_after_the_run_is_refused(refresh: dict, tmp_path: Path) -> None:
    decider = Decider()
    with pytest.raises(BatchInputError, match="--previous: snapshot as of 2026-09-27, after"):
        run_batch(
            duckdb_backend("1GB", 1),
            refresh["second"],
            tmp_path / "x.parquet",
            decider.policy,
            decider.regions,
            T0,
            previous=refresh["tmp"] / "d1.snapshot.parquet",
        )


def test_the_cli_takes_previous_and_names_a_bad_one(refresh: dict, tmp_path: Path) -> None:
    bad = tmp_path / "not-a-snapshot.parquet"
    pq.write_table(pa.table({"x": [1]}), bad)
    args = ["batch", str(refresh["second"]), "--out", str(tmp_path / "o.parquet")]
    result = CliRunner().invoke(app, [*args, "--as-of", T1.isoformat(), "--previous", str(bad)])
    assert result.exit_code == 2 and "--previous" in result.output


def test_held_invitations_fill_the_capacity_first(refresh: dict) -> None:
    """The cutoffs rank held invitations first, so the users the program invites are exactly
    those the derivation counted: the capacity and quotas hold with the hysteresis on."""
    report = json.loads((refresh["tmp"] / "d1.report.json").read_text(encoding="utf-8"))
    [body] = report["reports"]
    assert body["stability"]["retained"] > 0
    assert body["invited"] == body["cutoffs"]["expected_invited"] <= body["cutoffs"]["capacity"]
