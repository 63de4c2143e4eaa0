"""The swap set: every user in exactly one cell, figures equal to a hand count, a policy
against itself moves nobody, and tables of different users are refused."""

from __future__ import annotations

from collections import Counter
from typing import Any

import ibis
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from creditgate.batch.backends import Backend, duckdb_backend
from creditgate.lab.compare import CompareError, compare_tables

OUTCOMES = ("invited", "not_invited", "manual_review", "referred")
CODES = ("PAY_SCORE_LOW", "CAPACITY", "REGION_QUOTA", "FRAUD_SUSPECTED", "ACCOUNT_TOO_NEW")


@pytest.fixture(scope="module")
def backend() -> Backend:
    return duckdb_backend("1GB", 1)


def side() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "outcome": st.sampled_from(OUTCOMES),
            "pd": st.floats(0.001, 0.5),
            "limit": st.integers(500, 200_000),
            "codes": st.lists(st.sampled_from(CODES), max_size=3, unique=True),
            "region_class": st.sampled_from(("tier1", "capital")),
        }
    )


def table(users: list[str], rows: list[dict[str, Any]], bad: list[bool] | None) -> Any:
    invited = [r["outcome"] == "invited" for r in rows]
    columns: dict[str, Any] = {
        "user_id": users,
        "outcome": [r["outcome"] for r in rows],
        "pd": [r["pd"] for r in rows],
        "limit_cny": pa.array(
            [r["limit"] if i else None for r, i in zip(rows, invited, strict=True)], pa.int64()
        ),
        "reason_codes": pa.array(
            [[] if i else r["codes"] for r, i in zip(rows, invited, strict=True)],
            pa.list_(pa.string()),
        ),
        "region_class": [r["region_class"] for r in rows],
    }
    if bad is not None:
        columns["defaulted"] = bad
    return ibis.memtable(pa.table(columns))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(side(), side(), st.booleans()), min_size=1, max_size=40))
def test_every_user_is_in_exactly_one_cell_with_figures_a_hand_count_gives(
    backend: Backend, pairs: list[tuple[dict[str, Any], dict[str, Any], bool]]
) -> None:
    users = [f"u{i}" for i in range(len(pairs))]
    a = table(users, [p[0] for p in pairs], [p[2] for p in pairs])
    b = table(users[::-1], [p[1] for p in pairs][::-1], None)  # row order must not matter
    report = compare_tables(backend, a, b, "defaulted")
    assert report["users"] == len(users) == sum(c["users"] for c in report["swap_set"])
    for cell in report["swap_set"]:
        members = [
            p
            for p in pairs
            if (p[0]["outcome"] == "invited") == (cell["champion"] == "in")
            and (p[1]["outcome"] == "invited") == (cell["challenger"] == "in")
        ]
        assert cell["users"] == len(members)
        if members:
            assert cell["realised_bad_rate"] == pytest.approx(
                sum(p[2] for p in members) / len(members)
            )
            assert cell["expected_bad_rate_challenger"] == pytest.approx(
                sum(p[1]["pd"] for p in members) / len(members)
            )
        assert cell["exposure_champion_cny"] == sum(
            p[0]["limit"] for p in members if p[0]["outcome"] == "invited"
        )
    out = [p for p in pairs if p[0]["outcome"] == "invited" and p[1]["outcome"] != "invited"]
    expected = Counter(c for p in out for c in p[1]["codes"])
    assert {r["code"]: r["users"] for r in report["reasons_swapped_out"]} == dict(expected)
    moved = Counter((p[0]["outcome"], p[1]["outcome"]) for p in pairs)
    assert {(r["champion"], r["challenger"]): r["users"] for r in report["transitions"]} == dict(
        moved
    )
    assert report["changed"] == len(out) + sum(
        1 for p in pairs if p[0]["outcome"] != "invited" and p[1]["outcome"] == "invited"
    )


def test_a_table_against_itself_moves_nobody(backend: Backend) -> None:
    rows = [
        {"outcome": o, "pd": 0.1, "limit": 1000, "codes": ["CAPACITY"], "region_class": "tier1"}
        for o in OUTCOMES
    ]
    t = table([f"u{i}" for i in range(4)], rows, None)
    report = compare_tables(backend, t, t)
    assert report["changed"] == 0 and report["unchanged"] == 4
    assert report["reasons_swapped_out"] == report["reasons_swapped_in"] == []
    assert all(c["realised_bad_rate"] is None for c in report["swap_set"])


def test_tables_of_different_users_are_refused(backend: Backend) -> None:
    row = {"outcome": "invited", "pd": 0.1, "limit": 1000, "codes": [], "region_class": "tier1"}
    a = table(["u1", "u2"], [row, row], None)
    b = table(["u1", "u3"], [row, row], None)
    with pytest.raises(CompareError, match="one population decided by both"):
        compare_tables(backend, a, b)
