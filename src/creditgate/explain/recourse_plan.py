"""A decision's full recourse: gate steps first, then the cheapest score moves.

The score moves aim at the bar that binds for the user's region class: the policy's floor, or
a whitelist snapshot's quota or capacity cutoff when higher (``Scorecard.capacity_cutoffs``).
They are computed where the gate steps lead: the suggested changes applied and the clock moved
to the latest gate ETA (account age grows, so may tenure points), re-scored with the score's
slice of the program. So a user refused for a gate, whose score would then miss the snapshot's
bar, is told now, not after doing what the gate steps say. Moves aimed at a snapshot's bar
carry its code (REGION_QUOTA in partly open classes, CAPACITY in open ones) and say as of which
whitelist the bar holds; when no set of moves reaches the bar, one immutable step says so.
Moves never undo a gate step (both go the helpful way); when a move and a gate step touch one
field, the step goes the further way. A failed any-of group (``Gate.group``) needs one of its
gates to pass: its recourse is the one gate step after which the score moves cost least (file
order on ties), never all of them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import date
from functools import lru_cache
from operator import itemgetter
from typing import Any

from creditgate.decision import RecourseStep, jsonable
from creditgate.engines.row import Source, compile_program
from creditgate.explain.catalogue import Text, joined, renderer, sentences, text
from creditgate.explain.reasons import cutoff_note
from creditgate.explain.recourse import GateRecourse, ScheduleRecourse, region_step
from creditgate.explain.score_recourse import ScoreRecourse
from creditgate.policy.bindings import BinIndex, Fixed, GateFailed, Key, PairBin
from creditgate.policy.lower import Program, fields_read, slice_program
from creditgate.policy.nodes import RegionStatus
from creditgate.population.regions import load_regions
from creditgate.schema import Consent

Row = Mapping[str, Any]
Values = tuple[Any, ...]  # a program's bindings, in order


class RecoursePlanner:
    def __init__(self, program: Program) -> None:
        policy = program.policy
        index = program.positions
        derived = program.derived
        self.gates = [GateRecourse(gate, derived) for gate in policy.gates]
        grouped: dict[str, list[tuple[str, str]]] = {}
        for gate in policy.gates:
            if gate.group is not None:
                grouped.setdefault(gate.group, []).append((gate.code, gate.field))
        # each any-of group's gates as the (code, field) of their steps, in file order
        self.groups = tuple(tuple(members) for members in grouped.values())
        self.schedule = (
            ScheduleRecourse(policy, program.regions or load_regions()) if policy.schedule else None
        )
        self.quota_at, self.score_at = program.at(Fixed.SCORE_QUOTA), program.at(Fixed.SCORE)
        self.region_at = index["region_class"]
        card = policy.scorecard
        self.floors = dict(card.cutoffs)
        self.cap_at = program.at(Fixed.CAPACITY_CUTOFF) if program.capacity else None
        partial = {r.region_class for r in policy.regions if r.status is RegionStatus.PARTIAL}
        # the code of a bar set by a snapshot: the quota in partly open classes, else capacity
        self.partial = frozenset(partial)
        self.note = cutoff_note(policy)
        self.as_of = card.capacity_as_of
        self.solver = ScoreRecourse(card.features, pairs=card.pairs)
        self.score_moves_with_time = any(
            f.field in derived and derived[f.field].time_start is not None for f in card.features
        )
        bins = [BinIndex(f.name) for f in card.features]
        # each pairwise table's current cells (``PairBin``) follow the movables' bins
        cells: list[Key] = [PairBin(p.name, k) for p in card.pairs for k in (0, 1)]
        wanted = [Fixed.SCORE.column] + [b.column for b in [*bins, *cells]]
        rescore = slice_program(program, wanted)
        self.rescore = compile_program(rescore)
        # a step changing any input the score reads (a scored field, a consent) re-scores
        self.rescore_inputs = frozenset(
            name for b in rescore.bindings for name in fields_read(b.expr)
        )
        self.rescore_score = rescore.at(Fixed.SCORE)
        moved: list[Key] = [BinIndex(m.feature.name) for m in self.solver.movables]
        self.moved = len(moved)
        moved += cells
        self.rescore_bins = tuple_getter([rescore.at(b) for b in moved])
        self.program_bins = tuple_getter([program.at(b) for b in moved])
        self.move = lru_cache(maxsize=16384)(self._move)
        # Gates on data a missing consent keeps unread: evaluated once the consent steps are
        # followed, so their steps are given now (a consent is never the last word).
        self.consents = frozenset(c.value for c in (Consent.CREDIT, Consent.BEHAVIOUR))
        wanted = [GateFailed(g.id).column for g in policy.gates]
        for g in self.gates:  # the derived values a gate step reads (field, clock start)
            start = g.time.time_start if g.time is not None else None
            wanted += [n for n in (g.gate.field, start) if n is not None and n in index]
        unguarded = slice_program(program, wanted)
        self.gate_check = compile_program(unguarded)
        self.gate_check_at = unguarded.positions

    def lines(self, source: Source) -> tuple[list[str], dict[str, Any]]:
        """Generated lines setting the local ``steps`` (a list) to the steps of the failed
        gates and of a closed region, from the values ``source`` names (see
        ``RowCompiler.compile_split``): one inline test per gate, the memoised step inline."""
        lines = ["steps = []"]
        namespace: dict[str, Any] = {"_region_step": region_step}
        for k, recourse in enumerate(self.gates):
            namespace[f"_gate{k}"] = recourse
            call = recourse.call_source(source, f"_gate{k}")
            failed = GateFailed(recourse.gate.id).column
            lines.append(f"if {source(failed)}: steps.append({call})")
        closed, region = source(Fixed.REGION_CLOSED.column), source("region_class")
        if self.schedule is not None:  # the stage that opens the user's city, dated
            namespace["_schedule"] = self.schedule
            call = f"_schedule.step({region}, {source('city')}, as_of)"
            lines.append(f"if {closed}: steps.append({call})")
        else:
            lines.append(f"if {closed}: steps.append(_region_step({region}))")
        return lines, namespace

    def bar(self, region_class: Any, cap: Any = None) -> tuple[int | None, str | None]:
        """(the score the user needs, the snapshot's code when its cutoff is what binds);
        ``cap`` is the snapshot's cutoff for the user (``cutoff.capacity``: city, else class)."""
        floor = self.floors.get(region_class)
        if floor is None or cap is None or cap <= floor:
            return floor, None
        return cap, "REGION_QUOTA" if region_class in self.partial else "CAPACITY"

    def finish(
        self, steps: list[RecourseStep], row: Row, values: Values, as_of: date
    ) -> list[RecourseStep]:
        """The full recourse, given the gate and region ``steps`` (``lines``) and the
        program's head values: the cheapest score moves to the binding bar, where the steps
        lead."""
        if self.consents.intersection(s.field for s in steps if not s.immutable):
            steps = self.with_unread_gates(steps, row, as_of)
        cap = values[self.cap_at] if self.cap_at is not None else None
        bar, code = self.bar(values[self.region_at], cap)
        if self.groups:
            steps = self.one_per_group(steps, row, values, as_of, bar)
        if bar is None:  # a closed region: its step says so
            return steps
        score, bins = self.where_steps_lead(steps, row, values, as_of)
        if score is None or score >= bar:
            return steps
        choice = self.solve_moves(bins, bar - score)
        if choice is None:  # honest: nothing the user can do reaches the bar
            message = text("recourse", "score_unreachable", required=bar)
            if code is not None:
                message = joined(message, self.note)
            else:
                code = "REGION_QUOTA" if values[self.quota_at] else "SCORE_BELOW_CUTOFF"
            unreachable = RecourseStep(
                code, "score", values[self.score_at], bar, None, True, message
            )
            return [*steps, unreachable]
        aimed = bar if code is not None else None
        by_field = {s.field: i for i, s in enumerate(steps)}
        for k, j in choice:
            m = self.solver.movables[k]
            field = m.feature.field
            to = m.targets[j]
            if field in by_field:  # a gate already moves this field: go the further way
                gate = steps[by_field[field]]
                moved = self.move(gate.code, field, row.get(field), to, m.message, aimed)
                steps[by_field[field]] = moved
            else:
                move_code = code or m.feature.factor
                steps.append(self.move(move_code, field, row.get(field), to, m.message, aimed))
        return steps

    def one_per_group(
        self, steps: list[RecourseStep], row: Row, values: Values, as_of: date, bar: int | None
    ) -> list[RecourseStep]:
        """``steps`` with one step per failed any-of group: the gate (one the user can move)
        after whose step the cheapest score moves to ``bar`` cost least."""
        for members in self.groups:
            found = [i for i, s in enumerate(steps) if (s.code, s.field) in members]
            if len(found) < 2:
                continue
            movable = [i for i in found if not steps[i].immutable] or found[:1]
            best = min(
                movable,
                key=lambda i: self.moves_cost(
                    [s for j, s in enumerate(steps) if j == i or j not in found],
                    row,
                    values,
                    as_of,
                    bar,
                ),
            )
            steps = [s for j, s in enumerate(steps) if j == best or j not in found]
        return steps

    def moves_cost(
        self, steps: list[RecourseStep], row: Row, values: Values, as_of: date, bar: int | None
    ) -> float:
        """The cost of the cheapest score moves to ``bar`` where ``steps`` lead (inf: none)."""
        if bar is None:
            return 0.0
        score, bins = self.where_steps_lead(steps, row, values, as_of)
        if score is None or score >= bar:
            return 0.0
        choice = self.solve_moves(bins, bar - score)
        if choice is None:
            return math.inf
        movables = self.solver.movables
        return float(sum(movables[k].feature.cost * abs(j - bins[k]) for k, j in choice))

    def with_unread_gates(
        self, steps: list[RecourseStep], row: Row, as_of: date
    ) -> list[RecourseStep]:
        """``steps`` plus those of gates that fail once the consent steps are followed."""
        changed = {**row, **{s.field: s.to for s in steps if not s.immutable and s.eta is None}}
        values = self.gate_check(changed, as_of)
        at = self.gate_check_at

        def value(name: str) -> Any:
            return values[at[name]] if name in at else changed.get(name)

        given = {(s.code, s.field) for s in steps}
        more = [
            g.step(value, as_of)
            for g in self.gates
            if values[at[GateFailed(g.gate.id).column]] and (g.gate.code, g.gate.field) not in given
        ]
        return [*steps, *more] if more else steps

    def solve_moves(self, state: tuple[int, ...], need: int) -> tuple[tuple[int, int], ...] | None:
        """The solver's moves from ``state``: the movables' bins, then the pairs' cells."""
        return self.solver.solve(state[: self.moved], need, state[self.moved :])

    def where_steps_lead(
        self, steps: list[RecourseStep], row: Row, values: Values, as_of: date
    ) -> tuple[Any, tuple[int, ...]]:
        """(score, bins) once the gate steps are applied, at the latest ETA (``bins``: the
        movables' bins, then the pairwise tables' cells)."""
        changes = {s.field: s.to for s in steps if not s.immutable and s.eta is None}
        etas = [s.eta for s in steps if s.eta is not None]
        later = max(etas) if etas else as_of
        if self.rescore_inputs.intersection(changes) or (
            later != as_of and self.score_moves_with_time
        ):
            after = self.rescore({**row, **changes}, later)
            return after[self.rescore_score], self.rescore_bins(after)
        return values[self.score_at], self.program_bins(values)

    def _move(
        self, code: str, field: str, original: Any, to: Any, key: str, aimed: int | None
    ) -> RecourseStep:
        """A score move; ``key`` is the recourse message, "raise" or "lower"; ``aimed`` the
        snapshot's bar the moves reach together (None: the policy's floor), then stated with
        the snapshot's date in the same message (one compiled template, ``sentences``)."""
        values = {"to": jsonable(to), "from": jsonable(original)}
        if aimed is None:
            message: Text = renderer("recourse", key, field)(**values)
        else:
            as_of = self.as_of.isoformat() if self.as_of is not None else None
            note = ("cutoffs", "dated" if as_of is not None else "undated", None)
            render = sentences((("recourse", key, field), ("cutoffs", "target", None), note))
            message = render(required=aimed, as_of=as_of, **values)
        return RecourseStep(code, field, original, to, None, False, message)


def tuple_getter(positions: list[int]) -> Callable[[tuple[Any, ...]], tuple[Any, ...]]:
    """``values -> tuple(values[i] for i in positions)``, in C (itemgetter) where it can be."""
    if not positions:
        return lambda _: ()
    if len(positions) == 1:
        (i,) = positions
        return lambda values: (values[i],)
    getter: Callable[[tuple[Any, ...]], tuple[Any, ...]] = itemgetter(*positions)
    return getter
