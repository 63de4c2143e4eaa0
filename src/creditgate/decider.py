"""The real-time decider: policy -> lowered program -> compiled row function + explanations.

>>> decider = Decider()                                  # the packaged default policy
>>> decision = decider.decide(profile, as_of=date(2026, 11, 28))
>>> decision.outcome, decision.reason_codes
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import date
from typing import Any

from creditgate.decision import Decision, RecourseStep, jsonable
from creditgate.engines.row import compile_program
from creditgate.explain.alternatives import alternatives, review_info
from creditgate.explain.catalogue import text
from creditgate.explain.evaluation import Evaluation
from creditgate.explain.reasons import ReasonBuilder
from creditgate.explain.recourse import GateRecourse, region_step
from creditgate.explain.score_recourse import ScoreRecourse
from creditgate.policy.lint import errors, lint
from creditgate.policy.loader import PolicyError, PolicyIssue, load_policy
from creditgate.policy.lower import Program, lower, slice_program
from creditgate.policy.nodes import Policy
from creditgate.population.regions import RegionTable, load_regions


def refuse_if_lint_errors(policy: Policy, regions: RegionTable) -> None:
    """A policy with compliance errors (an APR above the cap, data without consent...) is never
    served: the lint's errors become a ``PolicyError`` naming their lines."""
    found = errors(lint(policy, regions))
    if found:
        raise PolicyError([PolicyIssue(policy.source, f.line, f.check, f.message) for f in found])


def new_decision_id() -> str:
    return "d_" + os.urandom(12).hex()


class Decider:
    """Compiles a policy once; ``decide`` is then a few microseconds per validated profile."""

    def __init__(self, policy: Policy | None = None, regions: RegionTable | None = None) -> None:
        self.policy = policy if policy is not None else load_policy()
        self.regions = regions if regions is not None else load_regions()
        refuse_if_lint_errors(self.policy, self.regions)
        self.program: Program = lower(self.policy, self.regions)
        self.run = compile_program(self.program)
        self.index = {name: i for i, name in enumerate(self.program.names)}
        self.reasons = ReasonBuilder(self.program)
        # Re-scoring after suggested changes needs only the score's slice of the program.
        rescore = slice_program(
            self.program,
            ["score", "cutoff"] + [f"bin.{f.name}" for f in self.policy.scorecard.features],
        )
        self.rescore_run = compile_program(rescore)
        self.rescore_index = {name: i for i, name in enumerate(rescore.names)}
        self.score_recourse = ScoreRecourse(self.policy.scorecard.features)
        self.derived = dict(self.program.derived)
        card_fields = {f.field for f in self.policy.scorecard.features}
        self.score_inputs = frozenset(card_fields)
        self.score_moves_with_time = any(
            f in self.derived and self.derived[f].time_start is not None for f in card_fields
        )
        self.gate_slots = [(self.index[f"fail.{g.id}"], g) for g in self.policy.gates]
        self.gate_recourse = [
            (self.index[f"fail.{g.id}"], GateRecourse(g, self.derived)) for g in self.policy.gates
        ]
        self.fraud_slots = [(self.index[f"fraud.{r.id}"], r) for r in self.policy.fraud]

    def evaluate(self, row: Mapping[str, Any], as_of: date) -> Evaluation:
        return Evaluation(row, self.run(row, as_of), as_of, self.index)

    def decide(
        self,
        row: Mapping[str, Any],
        as_of: date,
        decision_id: str | None = None,
    ) -> Decision:
        """Decide one validated profile (see ``profile.validate_profile``)."""
        ev = self.evaluate(row, as_of)
        outcome: str = ev["outcome"]
        decision_id = decision_id or new_decision_id()
        invited = outcome == "invited"  # nothing fired: no reasons, no recourse
        fired = [] if invited else [r for i, r in self.fraud_slots if ev.values[i]]
        return Decision(
            decision_id=decision_id,
            user_id=row["user_id"],
            policy_name=self.policy.name,
            policy_version=self.policy.version,
            as_of=as_of,
            outcome=outcome,
            score=ev["score"],
            pd=ev["pd"],
            limit_cny=ev["limit_cny"],
            daily_rate=ev["daily_rate"],
            apr=ev["apr"],
            terms=self.policy.offer.terms if invited else (),
            reasons=() if invited else tuple(self.reasons.build(ev)),
            recourse=() if invited else tuple(self.recourse(ev)),
            alternatives=alternatives(outcome, bool(ev["refer.segment"])),
            review=review_info(decision_id),
            internal={"fraud_rules": [r.id for r in fired]} if fired else {},
        )

    def recourse(self, ev: Evaluation) -> list[RecourseStep]:
        """Gate steps, then the cheapest score moves computed where the gate steps lead."""
        steps = [r.step(ev) for i, r in self.gate_recourse if ev.values[i]]
        if ev["fail.region_closed"]:
            steps.append(region_step(ev["region_class"]))
        if ev["fail.score"]:
            steps = self.merge_score_steps(steps, ev)
        return steps

    def merge_score_steps(self, steps: list[RecourseStep], ev: Evaluation) -> list[RecourseStep]:
        changes = {s.field: s.to for s in steps if not s.immutable and s.eta is None}
        later = max([ev.as_of, *(s.eta for s in steps if s.eta is not None)])
        rescore = bool(self.score_inputs & changes.keys()) or (
            later != ev.as_of and self.score_moves_with_time
        )
        after = (
            Evaluation(
                row := {**ev.row, **changes},
                self.rescore_run(row, later),
                later,
                self.rescore_index,
            )
            if rescore
            else ev
        )
        score, cutoff = after["score"], after["cutoff"]
        if score is None or cutoff is None or score >= cutoff:
            return steps
        movables = self.score_recourse.movables
        bins = tuple(after[f"bin.{m.feature.name}"] for m in movables)
        choice = self.score_recourse.solve(bins, cutoff - score)
        code = "REGION_QUOTA" if ev["quota.score"] else "SCORE_BELOW_CUTOFF"
        if choice is None:
            return [
                *steps,
                RecourseStep(
                    code,
                    "score",
                    ev["score"],
                    cutoff,
                    None,
                    True,
                    text("recourse", "score_unreachable"),
                ),
            ]
        by_field = {s.field: i for i, s in enumerate(steps)}
        for k, j in choice:
            m = movables[k]
            field, to = m.feature.field, m.targets[j]
            key = "raise" if m.direction.value == "up" else "lower"
            original = ev.row.get(field)
            message = text(
                "recourse", key, label=field, to=jsonable(to), **{"from": jsonable(original)}
            )
            if field in by_field:  # a gate already moves this field: go the further way
                gate = steps[by_field[field]]
                steps[by_field[field]] = RecourseStep(
                    gate.code, field, original, to, None, False, message
                )
            else:
                steps.append(
                    RecourseStep(m.feature.factor, field, original, to, None, False, message)
                )
        return steps
