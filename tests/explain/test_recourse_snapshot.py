"""Recourse is honest under a whitelist snapshot's cutoffs (issue 12, "Done when").

Users in quota cities (and tier-1 cities, where the capacity cuts), snapshots with generated
cutoffs: decide with the snapshot's decider, do everything the recourse says, decide again with
the SAME decider at the latest ETA. The user is then invited, or every remaining blocker is one
the answer named and offered nothing for: an immutable step of that code (a score no move can
reach, a closed region, student status), or a fraud or business-purpose reason, which get no
advice by design. Before the fix, score moves aimed at the policy's floor, and a user who did
exactly what they said was then refused with REGION_QUOTA or CAPACITY.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from creditgate.decider import Decider
from creditgate.decision import Decision
from creditgate.policy.nodes import RegionStatus
from creditgate.population.regions import load_regions
from creditgate.snapshot import SnapshotMeta
from creditgate.snapshot_decider import snapshot_decider
from strategies import AS_OF, profiles, strong_profile

BASE = Decider()
SNAPSHOT_AS_OF = date(2026, 11, 20)
SCORE_CODES = {"SCORE_BELOW_CUTOFF", "REGION_QUOTA", "CAPACITY"}
NO_ADVICE_BY_DESIGN = {"FRAUD_SUSPECTED", "BUSINESS_PURPOSE"}
FACTORS = {f.factor for f in BASE.policy.scorecard.features}
FLOORS = dict(BASE.policy.scorecard.cutoffs)
QUOTA_CLASSES = {r.region_class for r in BASE.policy.regions if r.status is not RegionStatus.CLOSED}
QUOTA_CITIES = sorted(
    name for name, city in load_regions().cities.items() if city.region_class in QUOTA_CLASSES
)


@lru_cache(maxsize=512)
def snapshot_of(offsets: tuple[tuple[str, int], ...]) -> Decider:
    """The decider of a snapshot whose cutoffs lie ``offsets`` above each class's floor."""
    meta = SnapshotMeta(
        policy_name=BASE.policy.name,
        policy_version=BASE.policy.version,
        as_of=SNAPSHOT_AS_OF,
        cutoffs={c: FLOORS[c] + k for c, k in offsets},
        capacity_share=BASE.policy.capacity_share,
        input_fingerprint="test",
        created_at=datetime(2026, 11, 20, 3, 0),
    )
    return snapshot_decider(BASE, meta)


def snapshots() -> st.SearchStrategy[Decider]:
    """Cutoffs as a batch derives them: at or above the floor, by up to 150 points."""
    offset = st.sampled_from([0, 40, 80, 120])
    return st.tuples(*(offset for _ in sorted(QUOTA_CLASSES))).map(
        lambda ks: snapshot_of(tuple(zip(sorted(QUOTA_CLASSES), ks, strict=True)))
    )


@st.composite
def quota_city_profiles(draw: st.DrawFn) -> dict[str, Any]:
    row = draw(profiles())
    row["city"] = draw(st.sampled_from(QUOTA_CITIES))
    row["is_county_area"] = draw(st.sampled_from([False, False, False, False, True]))
    return row


@st.composite
def near_cut_profiles(draw: st.DrawFn) -> dict[str, Any]:
    """Users who pass every gate, with the scored fields drawn: around the snapshot's cut."""
    return strong_profile(
        city=draw(st.sampled_from(QUOTA_CITIES)),
        pay_score=draw(st.integers(600, 850)),
        ecosystem_repayment_score=draw(st.integers(0, 100)),
        monthly_spend_cny_6m=Decimal(draw(st.integers(0, 900_000))) / 100,
        monthly_flow_cv_6m=draw(st.floats(0, 0.5)),
    )


def follow(row: dict[str, Any], d: Decision) -> tuple[dict[str, Any], date]:
    """Every change the recourse asks for, and the latest date it names."""
    changed = dict(row)
    for step in d.recourse:
        if not step.immutable and step.eta is None:
            changed[step.field] = step.to
    etas = [s.eta for s in d.recourse if s.eta is not None]
    return changed, max([d.as_of, *etas])


def unexplained_blockers(first: Decision, again: Decision) -> set[str]:
    """Reasons left after following ``first``'s recourse that it did not name as beyond reach."""
    if again.outcome == "invited":
        return set()
    immutable = {s.code for s in first.recourse if s.immutable}
    score_out_of_reach = any(s.immutable and s.field == "score" for s in first.recourse)
    left: set[str] = set()
    for code in set(again.reason_codes) - FACTORS:  # factors only explain the score reason
        if code in SCORE_CODES and score_out_of_reach:
            continue
        if code in NO_ADVICE_BY_DESIGN and code in first.reason_codes:
            continue
        if code in immutable and code in first.reason_codes:
            continue
        left.add(code)
    return left


@settings(max_examples=300)
@given(st.one_of(quota_city_profiles(), near_cut_profiles()), snapshots())
def test_following_recourse_under_a_snapshot_gets_the_user_invited(
    row: dict[str, Any], cut: Decider
) -> None:
    first = cut.decide(row, AS_OF)
    changed, when = follow(row, first)
    again = cut.decide(changed, when)
    assert unexplained_blockers(first, again) == set(), (
        first.reason_codes,
        [(s.code, s.field, s.to, s.eta, s.immutable) for s in first.recourse],
        again.outcome,
        again.reason_codes,
        again.score,
    )


@settings(max_examples=60)
@given(near_cut_profiles(), st.integers(1, 80))
def test_quota_and_capacity_refusals_get_dated_steps(row: dict[str, Any], above: int) -> None:
    """A user the floor lets in, cut by a snapshot ``above`` points over their score: they get
    REGION_QUOTA or CAPACITY recourse, saying as of which whitelist it holds, that works."""
    plain = BASE.decide(row, AS_OF)
    assume(plain.outcome == "invited" and plain.score is not None)
    region = BASE.evaluate(row, AS_OF)["region_class"]
    cut = snapshot_of(((region, plain.score + above - FLOORS[region]),))
    d = cut.decide(row, AS_OF)
    assert d.outcome == "not_invited"
    assert set(d.reason_codes) & {"REGION_QUOTA", "CAPACITY"}
    assert d.recourse
    for step in d.recourse:
        assert step.code in {"REGION_QUOTA", "CAPACITY"}
        for lang in ("zh-CN", "en"):
            assert SNAPSHOT_AS_OF.isoformat() in step.message[lang], (lang, step.message)
    if not any(s.immutable for s in d.recourse):
        changed, when = follow(row, d)
        assert cut.decide(changed, when).outcome == "invited"


def test_the_issues_user_is_aimed_at_the_quota_cutoff() -> None:
    """Hangzhou, floor 567, quota cutoff 677: the moves reach 677, not the floor."""
    row = strong_profile(city="杭州", ecosystem_repayment_score=48, monthly_spend_cny_6m=1000)
    cut = snapshot_of(tuple((c, 110 if c != "tier1" else 0) for c in sorted(QUOTA_CLASSES)))
    d = cut.decide(row, AS_OF)
    assert d.outcome == "not_invited" and "REGION_QUOTA" in d.reason_codes
    assert {s.code for s in d.recourse} == {"REGION_QUOTA"}
    changed, when = follow(row, d)
    assert cut.decide(changed, when).outcome == "invited"
    assert BASE.decide(row, AS_OF).outcome == "invited"  # the floor alone would let them in
