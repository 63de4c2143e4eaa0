"""A decision's full recourse: gate steps first, then the cheapest score moves.

The score moves are computed where the gate steps lead: the suggested changes applied and the
clock moved to the latest gate ETA (account age grows, so may tenure points), re-scored with the
score's slice of the program. Moves never undo a gate step (both go the helpful way); when a
move and a gate step touch one field, the step goes the further way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from functools import lru_cache
from operator import itemgetter
from typing import Any

from creditgate.decision import RecourseStep, jsonable
from creditgate.engines.row import Source, compile_program
from creditgate.explain.catalogue import text
from creditgate.explain.recourse import GateRecourse, region_step
from creditgate.explain.score_recourse import ScoreRecourse
from creditgate.policy.lower import Program, slice_program

Row = Mapping[str, Any]
Values = tuple[Any, ...]  # a program's bindings, in order


@lru_cache(maxsize=16384)
def move_step(code: str, field: str, original: Any, to: Any, key: str) -> RecourseStep:
    """A score move; ``key`` is the recourse message, "raise" or "lower"."""
    message = text("recourse", key, label=field, to=jsonable(to), **{"from": jsonable(original)})
    return RecourseStep(code, field, original, to, None, False, message)


class RecoursePlanner:
    def __init__(self, program: Program) -> None:
        policy = program.policy
        index = program.positions
        derived = program.derived
        self.gates = [GateRecourse(gate, derived) for gate in policy.gates]
        self.at = {name: index[name] for name in ("fail.score", "quota.score", "score")}
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
        rescore_index = rescore.positions
        self.rescore_at = (rescore_index["score"], rescore_index["cutoff"])
        self.rescore_bins = tuple_getter(
            [rescore_index[f"bin.{m.feature.name}"] for m in self.solver.movables]
        )
        self.program_bins = tuple_getter(
            [index[f"bin.{m.feature.name}"] for m in self.solver.movables]
        )
        self.cutoff_at = index["cutoff"]
        self.unreachable = text("recourse", "score_unreachable")

    def lines(self, source: Source) -> tuple[list[str], dict[str, Any]]:
        """Generated lines setting the local ``steps`` (a list) to the steps of the failed
        gates and of a closed region, from the values ``source`` names (see
        ``RowCompiler.compile_split``): one inline test per gate, the memoised step inline."""
        lines = ["steps = []"]
        namespace: dict[str, Any] = {"_region_step": region_step}
        for k, recourse in enumerate(self.gates):
            namespace[f"_gate{k}"] = recourse
            call = recourse.call_source(source, f"_gate{k}")
            lines.append(f"if {source(f'fail.{recourse.gate.id}')}: steps.append({call})")
        closed, region = source("fail.region_closed"), source("region_class")
        lines.append(f"if {closed}: steps.append(_region_step({region}))")
        return lines, namespace

    def finish(
        self, steps: list[RecourseStep], row: Row, values: Values, as_of: date
    ) -> list[RecourseStep]:
        """The full recourse, given the gate and region ``steps`` (``lines``) and the
        program's head values: the cheapest score moves where the steps lead."""
        if values[self.at["fail.score"]]:
            return self.with_score_moves(steps, row, values, as_of)
        return steps

    def where_steps_lead(
        self, steps: list[RecourseStep], row: Row, values: Values, as_of: date
    ) -> tuple[Any, Any, tuple[int, ...]]:
        """(score, cutoff, bins) once the gate steps are applied, at the latest ETA."""
        changes = {s.field: s.to for s in steps if not s.immutable and s.eta is None}
        etas = [s.eta for s in steps if s.eta is not None]
        later = max(etas) if etas else as_of
        if self.score_inputs & changes.keys() or (later != as_of and self.score_moves_with_time):
            after = self.rescore({**row, **changes}, later)
            return after[self.rescore_at[0]], after[self.rescore_at[1]], self.rescore_bins(after)
        return values[self.at["score"]], values[self.cutoff_at], self.program_bins(values)

    def with_score_moves(
        self, steps: list[RecourseStep], row: Row, values: Values, as_of: date
    ) -> list[RecourseStep]:
        score, cutoff, bins = self.where_steps_lead(steps, row, values, as_of)
        if score is None or cutoff is None or score >= cutoff:
            return steps
        choice = self.solver.solve(bins, cutoff - score)
        if choice is None:
            code = "REGION_QUOTA" if values[self.at["quota.score"]] else "SCORE_BELOW_CUTOFF"
            unreachable = RecourseStep(
                code, "score", values[self.at["score"]], cutoff, None, True, self.unreachable
            )
            return [*steps, unreachable]
        by_field = {s.field: i for i, s in enumerate(steps)}
        for k, j in choice:
            m = self.solver.movables[k]
            field = m.feature.field
            if field in by_field:  # a gate already moves this field: go the further way
                gate = steps[by_field[field]]
                moved = move_step(gate.code, field, row.get(field), m.targets[j], m.message)
                steps[by_field[field]] = moved
            else:
                steps.append(
                    move_step(m.feature.factor, field, row.get(field), m.targets[j], m.message)
                )
        return steps


def tuple_getter(positions: list[int]) -> Callable[[tuple[Any, ...]], tuple[Any, ...]]:
    """``values -> tuple(values[i] for i in positions)``, in C (itemgetter) where it can be."""
    if not positions:
        return lambda _: ()
    if len(positions) == 1:
        (i,) = positions
        return lambda values: (values[i],)
    getter: Callable[[tuple[Any, ...]], tuple[Any, ...]] = itemgetter(*positions)
    return getter
