"""A decision's full recourse: gate steps first, then the cheapest score moves.

The score moves are computed where the gate steps lead: the suggested changes applied and the
clock moved to the latest gate ETA (account age grows, so may tenure points), re-scored with the
score's slice of the program. Moves never undo a gate step (both go the helpful way); when a
move and a gate step touch one field, the step goes the further way.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from creditgate.decision import RecourseStep, jsonable
from creditgate.engines.row import compile_program
from creditgate.explain.catalogue import text
from creditgate.explain.evaluation import Evaluation
from creditgate.explain.recourse import GateRecourse, region_step
from creditgate.explain.score_recourse import ScoreRecourse
from creditgate.policy.lower import Program, slice_program
from creditgate.schema import Direction


@lru_cache(maxsize=16384)
def move_step(code: str, field: str, original: Any, to: Any, direction: Direction) -> RecourseStep:
    key = "raise" if direction is Direction.UP else "lower"
    message = text("recourse", key, label=field, to=jsonable(to), **{"from": jsonable(original)})
    return RecourseStep(code, field, original, to, None, False, message)


class RecoursePlanner:
    def __init__(self, program: Program) -> None:
        policy = program.policy
        index = {name: i for i, name in enumerate(program.names)}
        derived = program.derived
        self.gates = [(index[f"fail.{g.id}"], GateRecourse(g, derived)) for g in policy.gates]
        self.at = {
            name: index[name]
            for name in ("fail.region_closed", "region_class", "fail.score", "quota.score", "score")
        }
        card = policy.scorecard
        self.solver = ScoreRecourse(card.features)
        self.score_inputs = frozenset(f.field for f in card.features)
        self.score_moves_with_time = any(
            f.field in derived and derived[f.field].time_start is not None for f in card.features
        )
        rescore = slice_program(
            program, ["score", "cutoff"] + [f"bin.{f.name}" for f in card.features]
        )
        self.rescore = compile_program(rescore)
        rescore_index = {name: i for i, name in enumerate(rescore.names)}
        self.rescore_at = (rescore_index["score"], rescore_index["cutoff"])
        self.bins_in_rescore = [
            rescore_index[f"bin.{m.feature.name}"] for m in self.solver.movables
        ]
        self.bins_in_program = [index[f"bin.{m.feature.name}"] for m in self.solver.movables]
        self.cutoff_at = index["cutoff"]
        self.unreachable = text("recourse", "score_unreachable")

    def plan(self, ev: Evaluation) -> list[RecourseStep]:
        values, at = ev.values, self.at
        steps = [r.step(ev) for i, r in self.gates if values[i]]
        if values[at["fail.region_closed"]]:
            steps.append(region_step(values[at["region_class"]]))
        if values[at["fail.score"]]:
            steps = self.with_score_moves(steps, ev)
        return steps

    def with_score_moves(self, steps: list[RecourseStep], ev: Evaluation) -> list[RecourseStep]:
        changes = {s.field: s.to for s in steps if not s.immutable and s.eta is None}
        etas = [s.eta for s in steps if s.eta is not None]
        later = max(etas) if etas else ev.as_of
        if self.score_inputs & changes.keys() or (later != ev.as_of and self.score_moves_with_time):
            after = self.rescore({**ev.row, **changes}, later)
            score, cutoff = after[self.rescore_at[0]], after[self.rescore_at[1]]
            bins = tuple(after[i] for i in self.bins_in_rescore)
        else:
            score, cutoff = ev.values[self.at["score"]], ev.values[self.cutoff_at]
            bins = tuple(ev.values[i] for i in self.bins_in_program)
        if score is None or cutoff is None or score >= cutoff:
            return steps
        choice = self.solver.solve(bins, cutoff - score)
        if choice is None:
            code = "REGION_QUOTA" if ev.values[self.at["quota.score"]] else "SCORE_BELOW_CUTOFF"
            return [
                *steps,
                RecourseStep(
                    code, "score", ev.values[self.at["score"]], cutoff, None, True, self.unreachable
                ),
            ]
        by_field = {s.field: i for i, s in enumerate(steps)}
        for k, j in choice:
            m = self.solver.movables[k]
            field = m.feature.field
            if field in by_field:  # a gate already moves this field: go the further way
                gate = steps[by_field[field]]
                moved = move_step(gate.code, field, ev.row.get(field), m.targets[j], m.direction)
                steps[by_field[field]] = moved
            else:
                steps.append(
                    move_step(m.feature.factor, field, ev.row.get(field), m.targets[j], m.direction)
                )
        return steps
