"""Recourse is honest: doing what it says, and waiting until its latest date, clears every
rule it addressed, for every generated profile (the issue's 100% criterion)."""

from __future__ import annotations

from datetime import date
from typing import Any

from hypothesis import given, settings

from creditgate.decider import Decider
from creditgate.decision import Decision
from creditgate.schema import PROFILE_FIELDS, Direction
from deciders import decider_for
from strategies import AS_OF, profiles

SCORE_CODES = {"SCORE_BELOW_CUTOFF", "REGION_QUOTA"}


def apply_recourse(row: dict[str, Any], d: Decision) -> tuple[dict[str, Any], date]:
    changed = dict(row)
    for step in d.recourse:
        if not step.immutable and step.eta is None:
            changed[step.field] = step.to
    etas = [s.eta for s in d.recourse if s.eta is not None and not s.immutable]
    return changed, max([d.as_of, *etas])


def cleared(decider: Decider, row: dict[str, Any], d: Decision) -> list[str]:
    """The addressed rules that still fail after following the advice."""
    changed, when = apply_recourse(row, d)
    ev = decider.evaluate(changed, when)
    still: list[str] = []
    gate_fields = {(g.code, g.field): g for g in decider.policy.gates}
    for step in d.recourse:
        gate = gate_fields.get((step.code, step.field))
        if not step.immutable and gate is not None and ev[f"fail.{gate.id}"]:
            still.append(f"{gate.id} ({step.field} -> {step.to}, eta {step.eta})")
    score_failed = any(r.code in SCORE_CODES for r in d.reasons)
    unreachable = any(s.immutable and s.field == "score" for s in d.recourse)
    if score_failed and not unreachable and ev["fail.score"]:
        still.append(f"score {ev['score']} < {ev['cutoff']}")
    return still


@settings(max_examples=1500)
@given(profiles())
def test_following_recourse_clears_what_it_addresses(row: dict[str, Any]) -> None:
    decider = decider_for()
    d = decider.decide(row, AS_OF)
    assert cleared(decider, row, d) == []


@given(profiles())
def test_no_fake_advice(row: dict[str, Any]) -> None:
    decider = decider_for()
    d = decider.decide(row, AS_OF)
    for step in d.recourse:
        if step.immutable:
            assert step.eta is None
            continue
        if step.eta is not None:
            assert step.eta >= AS_OF
            assert step.field not in PROFILE_FIELDS  # time moves derived fields only
            continue
        spec = PROFILE_FIELDS[step.field]
        assert spec.direction is not Direction.NONE
        if spec.direction is Direction.UP:
            assert step.to >= step.from_
        elif spec.direction is Direction.DOWN:
            assert step.to <= step.from_
        assert spec.ge is None or step.to >= spec.ge
        assert spec.le is None or step.to <= spec.le
    assert not any(s.code == "FRAUD_SUSPECTED" for s in d.recourse)
