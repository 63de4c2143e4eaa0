"""The champion/challenger assignment: deterministic, nested in the share, and splitting
users at the share (a pure function: no service, no database)."""

from __future__ import annotations

import hashlib
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from creditgate.experiment import Assignment, assign, share_problem

IDS = [f"user-{i:06d}" for i in range(20_000)]
salts = st.text(alphabet="0123456789abcdef", min_size=8, max_size=32)
shares = st.floats(min_value=0.001, max_value=0.5, allow_nan=False)


def by_hand(salt: str, share: float, user_id: str) -> str:
    digest = hashlib.sha256((salt + "\0" + user_id).encode()).hexdigest()
    return "challenger" if int(digest[:16], 16) / 2**64 < share else "champion"


def test_a_ten_percent_challenger_gets_ten_percent_of_20k_ids() -> None:
    challengers = sum(assign("a-fixed-salt", 0.1, u) == "challenger" for u in IDS)
    assert abs(challengers / len(IDS) - 0.1) <= 0.005


@settings(max_examples=25, deadline=None)
@given(salt=salts, share=shares)
def test_the_split_is_within_four_standard_deviations(salt: str, share: float) -> None:
    challengers = sum(assign(salt, share, u) == "challenger" for u in IDS)
    sd = math.sqrt(share * (1 - share) / len(IDS))
    assert abs(challengers / len(IDS) - share) <= 4 * sd + 1 / len(IDS)


@given(salt=salts, share=shares, user_id=st.text(min_size=1, max_size=64))
def test_assignment_is_the_documented_pure_function(salt: str, share: float, user_id: str) -> None:
    assert assign(salt, share, user_id) == assign(salt, share, user_id)
    assert assign(salt, share, user_id) == by_hand(salt, share, user_id)
    assert Assignment(salt, share)(user_id) == by_hand(salt, share, user_id)  # the hot path's


@given(salt=salts, low=shares, high=shares, user_id=st.text(min_size=1, max_size=64))
def test_a_larger_share_keeps_every_challenger(
    salt: str, low: float, high: float, user_id: str
) -> None:
    low, high = sorted((low, high))
    if assign(salt, low, user_id) == "challenger":
        assert assign(salt, high, user_id) == "challenger"


def test_another_salt_draws_other_challengers() -> None:
    first = {u for u in IDS if assign("salt-one", 0.1, u) == "challenger"}
    second = {u for u in IDS if assign("salt-two", 0.1, u) == "challenger"}
    assert len(first & second) < 0.2 * len(first)  # independent draws overlap ~10%


def test_share_out_of_range_is_refused_with_its_range() -> None:
    for bad in (0.0, -0.1, 0.51, 1.0, float("nan")):
        assert share_problem(bad) == "the challenger's share must be above 0 and at most 0.5"
    for good in (0.0001, 0.1, 0.5):
        assert share_problem(good) is None
