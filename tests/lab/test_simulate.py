"""``creditgate simulate`` agrees with ``batch`` on the same synthetic population: counts,
funnel, exposure, realised bad rate; several policies in one call report as each alone."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from creditgate.batch.backends import duckdb_backend
from creditgate.batch.run import BatchReport, run_batch
from creditgate.decider import Decider
from creditgate.engines.merge import merge
from creditgate.lab.evaluate import DECIDED_COLUMNS, LabInputError, evaluate
from creditgate.policy.lower import lower
from creditgate.population.synth import write_parquet

AS_OF = date(2025, 6, 30)
USERS = 3_000


def reports(source: Path, policies: list[Any], outcome: str | None = "defaulted") -> list[Any]:
    d = Decider()
    with evaluate(duckdb_backend("1GB", 2), source, policies, d.regions, AS_OF, outcome) as ev:
        return [ev.report(run) for run in ev.runs]


@pytest.fixture(scope="module")
def population(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("lab") / "users.parquet"
    write_parquet(source, USERS, seed=11, as_of=AS_OF, dirty_fraction=0.03, chunk_size=5_000)
    return source


@pytest.fixture(scope="module")
def batch(population: Path) -> tuple[BatchReport, Path]:
    d = Decider()
    out = population.parent / "decisions.parquet"
    report = run_batch(duckdb_backend("1GB", 2), population, out, d.policy, d.regions, AS_OF)
    return report, out


@pytest.fixture(scope="module")
def simulated(population: Path) -> dict[str, Any]:
    return reports(population, [Decider().policy])[0]


def test_counts_agree_with_batch(
    batch: tuple[BatchReport, Path], simulated: dict[str, Any]
) -> None:
    report, out = batch
    decisions = pq.read_table(out)
    assert simulated["input_rows"] == report.input_rows == USERS
    assert simulated["decided"] == report.decided == simulated["population"]
    assert (simulated["quarantined"], simulated["duplicate_rows"]) == (
        report.quarantined,
        report.duplicate_rows,
    )
    assert simulated["outcomes"] == report.outcomes
    assert simulated["invited"] == report.outcomes["invited"]
    invited = decisions.filter(pc.equal(decisions["outcome"], "invited"))
    assert simulated["exposure_cny"] == pc.sum(invited["limit_cny"]).as_py()
    per_class = Counter(invited["region_class"].to_pylist())
    got: Counter[str] = Counter()
    for r in simulated["by_region"]:
        got[r["region_class"]] += r["invited"]
    assert +got == per_class
    assert simulated["cutoffs"]["by_class"] == dict(sorted(report.cutoffs.by_class.items()))


def test_batch_writes_the_same_report(
    batch: tuple[BatchReport, Path], simulated: dict[str, Any]
) -> None:
    report, _ = batch
    assert report.report_path is not None
    [written] = json.loads(report.report_path.read_text(encoding="utf-8"))["reports"]
    differ = {"realised_bad_rate", "observed", "outcome_column"}
    assert {k: v for k, v in written.items() if k not in differ | {"as_of"}} == {
        k: v for k, v in simulated.items() if k not in differ
    }


def test_funnel_matches_reason_codes(
    batch: tuple[BatchReport, Path], simulated: dict[str, Any]
) -> None:
    _, out = batch
    decisions = pq.read_table(out)
    holding: Counter[str] = Counter()
    for codes in decisions["reason_codes"].to_pylist():
        holding.update(set(codes))
    funnel = simulated["funnel"]
    by_code: dict[str, list[dict[str, Any]]] = {}
    for s in funnel:
        by_code.setdefault(s["code"], []).append(s)
    factors = {f.factor for f in Decider().policy.scorecard.features}
    for code, steps in by_code.items():
        if code in factors:  # a gate sharing a score factor's code (the hidden weights)
            assert sum(s["any"] for s in steps) <= holding[code], code
        elif len(steps) == 1 or code == "REGION_QUOTA":  # the two quota steps are disjoint
            assert sum(s["any"] for s in steps) == holding[code], code
        else:  # shared codes (two consent gates, the fraud rules): at least the largest step
            assert max(s["any"] for s in steps) <= holding[code] <= sum(s["any"] for s in steps)
    not_invited = simulated["decided"] - simulated["invited"]
    assert sum(s["first"] for s in funnel) == not_invited
    assert all(s["first"] <= s["any"] for s in funnel)
    for dim, parts in simulated["funnel_by"].items():
        assert sum(p["population"] for p in parts) == simulated["population"], dim
        for i, s in enumerate(funnel):
            assert sum(p["steps"][i]["any"] for p in parts) == s["any"], (dim, s["gate"])


def test_decided_rows_are_batch_rows(population: Path, batch: tuple[BatchReport, Path]) -> None:
    _, out = batch
    d = Decider()
    want = pq.read_table(out).sort_by("user_id")
    with evaluate(duckdb_backend("1GB", 2), population, [d.policy], d.regions, AS_OF) as ev:
        table = ev.runs[0].decided
        assert tuple(table.columns) == DECIDED_COLUMNS
        got = ev.backend.fetch(table.order_by("user_id"))  # type: ignore[union-attr]
    for column in ("user_id", "outcome", "score", "pd", "limit_cny", "apr", "region_class"):
        assert got[column].to_pylist() == want[column].to_pylist(), column
    assert got["reason_codes"].to_pylist() == want["reason_codes"].to_pylist()
    assert set(got["province"].to_pylist()) - {None} <= {
        c.province for c in d.regions.cities.values()
    }


def test_realised_bad_rate_is_the_hand_computed_one(
    population: Path, batch: tuple[BatchReport, Path], simulated: dict[str, Any]
) -> None:
    _, out = batch
    users = pq.read_table(population, columns=["user_id", "defaulted"]).to_pylist()
    counts = Counter(u["user_id"] for u in users)
    flag = {"true": 1, "false": 0, "1": 1, "0": 0, True: 1, False: 0}
    defaulted = {u["user_id"]: flag.get(u["defaulted"]) for u in users if counts[u["user_id"]] == 1}
    decisions = pq.read_table(out, columns=["user_id", "outcome"]).to_pylist()
    invited = [defaulted[r["user_id"]] for r in decisions if r["outcome"] == "invited"]
    known = [v for v in invited if v is not None]
    want = f"{sum(known) / len(known):.6f}"
    assert simulated["realised_bad_rate"] == want
    assert simulated["observed"]["invited"] == {"known": len(known), "bad": sum(known)}


def test_two_policies_in_one_call_report_as_each_alone(population: Path) -> None:
    d = Decider()
    tight = replace(d.policy, name="tight", capacity_share=0.08)
    together = reports(population, [d.policy, tight])
    alone = [reports(population, [p])[0] for p in (d.policy, tight)]
    assert together == alone
    assert together[0]["invited"] > together[1]["invited"]


def test_shared_bindings_are_merged_once() -> None:
    d = Decider()
    program = lower(d.policy, d.regions)
    merged = merge([program, lower(replace(d.policy, capacity_share=0.05), d.regions)])
    assert merged.program.bindings == program.bindings  # capacity is not in the program
    assert merged.names[1] == {name: name for name in program.names}


def test_unknown_outcome_column_is_bad_input(population: Path, tmp_path: Path) -> None:
    d = Decider()
    with pytest.raises(LabInputError, match="no outcome column 'nope'"):
        evaluate(duckdb_backend("1GB", 1), population, [d.policy], d.regions, AS_OF, "nope")
    clean = tmp_path / "clean.parquet"
    write_parquet(clean, 50, seed=3, as_of=AS_OF)
    with pytest.raises(LabInputError, match="not boolean, integer or text"):
        evaluate(duckdb_backend("1GB", 1), clean, [d.policy], d.regions, AS_OF, "birth_date")


@settings(
    max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 10_000), users=st.integers(0, 400), dirty=st.sampled_from([0.0, 0.1]))
def test_funnel_conserves_users(tmp_path: Path, seed: int, users: int, dirty: float) -> None:
    source = tmp_path / f"u{seed}_{users}.parquet"
    write_parquet(source, users, seed=seed, as_of=AS_OF, dirty_fraction=dirty, chunk_size=5_000)
    [r] = reports(source, [Decider().policy])
    assert r["input_rows"] == r["decided"] + r["quarantined"] == users
    assert sum(s["first"] for s in r["funnel"]) == r["decided"] - r["invited"]
    assert sum(r["outcomes"].values()) == r["decided"]
    assert sum(b["users"] for b in r["distributions"]["limit_cny"]["bins"]) == r["invited"]
