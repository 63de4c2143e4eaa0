"""Recourse per product: the changes (and the date) after which THAT product is offered.

A product the user is not offered (``not_eligible``) gets its own steps, in the decision's
shape (``RecourseStep``): the decision's recourse when the shared layers left the user out,
then the steps of the product's own gates, and for a joint loan whose partners all decline
the steps of the one partner cheapest to satisfy (fewest failing gates, list order on ties),
so that at least one accepts and the loan is funded. Score moves come from the decision's
planner (``RecoursePlanner.finish``) at the point where the steps lead.

Honest by construction: the steps are applied and the program re-run at their latest date
(as the recourse-honesty test does), and whatever still fails there adds its steps, for a few
rounds. A product the steps still do not reach ends with one immutable step that says so.
A refusal with no decision recourse at all (a fraud rule) gets none here either, and an
offered product is never planned for: the invited path pays nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from creditgate.decision import RecourseStep, jsonable
from creditgate.engines.row import ContinueFunction, RowFunction
from creditgate.explain.catalogue import renderer, text
from creditgate.explain.recourse import GateRecourse
from creditgate.explain.recourse_plan import RecoursePlanner
from creditgate.policy.bindings import (
    Fixed,
    PartnerAccepts,
    ProductGateFailed,
    ProductPart,
    ProductValue,
)
from creditgate.policy.lower import Program
from creditgate.policy.nodes import Outcome, Product, ProductStatus
from creditgate.policy.product_lowering import NOT_FUNDED
from creditgate.schema import PROFILE_FIELDS, Direction

ROUNDS = 4  # re-decisions per product at most: shared layers, score, own gates, a partner
UNREACHABLE = "PRODUCT_UNREACHABLE"

Row = Mapping[str, Any]
Values = tuple[Any, ...]
Checks = tuple[tuple[GateRecourse, int], ...]  # a gate's recourse, its failure's position
Point = tuple[tuple[tuple[str, Any], ...], date]  # the changes applied, the date


@dataclass(frozen=True)
class _Plan:
    """Where one product's status, reason and gate failures sit in the head values."""

    product: Product
    status: int
    reason: int
    gates: Checks
    partners: tuple[tuple[int, Checks], ...]  # each partner's acceptance and gates


def lead(row: Row, steps: Sequence[RecourseStep], as_of: date) -> Point:
    """Where following ``steps`` leads: their changes and their latest date."""
    changes = {s.field: s.to for s in steps if not s.immutable and s.eta is None}
    etas = [s.eta for s in steps if s.eta is not None and not s.immutable]
    return tuple(sorted(changes.items())), max([as_of, *etas])


def further(field: str, a: Any, b: Any) -> Any:
    """Of two passing values of ``field``, the one further the helpful way."""
    direction = PROFILE_FIELDS[field].direction if field in PROFILE_FIELDS else Direction.NONE
    if direction is Direction.UP:
        return max(a, b)
    if direction is Direction.DOWN:
        return min(a, b)
    return b


def restated(step: RecourseStep, original: Any) -> RecourseStep:
    """``step`` said from the user's value today (it was planned where earlier steps lead,
    or its target was moved further)."""
    spec = PROFILE_FIELDS.get(step.field)
    if step.eta is not None or spec is None or spec.direction not in (Direction.UP, Direction.DOWN):
        return step._replace(from_=original)
    key = spec.message or ("raise" if spec.direction is Direction.UP else "lower")
    message = renderer("recourse", key, step.field)(
        to=jsonable(step.to), **{"from": jsonable(original)}
    )
    return step._replace(from_=original, message=message)


def merged(
    steps: list[RecourseStep], more: Sequence[RecourseStep], original: Callable[[str], Any]
) -> list[RecourseStep]:
    """``steps`` with ``more``: a field already moved goes the further way (the later date),
    and every step is said from the user's value today."""
    out = list(steps)
    at = {s.field: i for i, s in enumerate(out) if not s.immutable}
    for s in more:
        i = at.get(s.field)
        if s.immutable or i is None:
            if s not in out:
                at.setdefault(s.field, len(out))
                out.append(s if s.from_ == original(s.field) else restated(s, original(s.field)))
            continue
        old = out[i]
        if old.eta is not None or s.eta is not None:
            if old.eta is None or (s.eta is not None and s.eta > old.eta):
                out[i] = s if s.from_ == original(s.field) else restated(s, original(s.field))
            continue
        to = further(s.field, old.to, s.to)
        if to != old.to:
            out[i] = restated(old._replace(to=to), original(s.field))
    return out


class ProductRecourse:
    """Plans one product's recourse, re-deciding through the decider's own functions."""

    def __init__(
        self,
        program: Program,
        head: RowFunction,
        explain: ContinueFunction,
        planner: RecoursePlanner,
    ) -> None:
        self.head = head
        self.explain = explain
        self.planner = planner
        self.index = program.positions
        self.outcome_at = program.at(Fixed.OUTCOME)
        derived = program.derived

        def checks(product: Product, gates: Any, lender: str = "") -> Checks:
            return tuple(
                (GateRecourse(g, derived), program.at(ProductGateFailed(product.id, g.id, lender)))
                for g in gates
            )

        self.plans = {
            p.id: _Plan(
                p,
                program.at(ProductValue(p.id, ProductPart.STATUS)),
                program.at(ProductValue(p.id, ProductPart.REASON)),
                checks(p, p.gates),
                tuple(
                    (program.at(PartnerAccepts(p.id, q.id)), checks(p, q.gates, q.id))
                    for q in p.partners
                ),
            )
            for p in program.policy.products
        }

    def steps(
        self,
        product: str,
        row: Row,
        values: Values,
        as_of: date,
        shared: tuple[RecourseStep, ...],
        seen: dict[Point, Values],
    ) -> tuple[RecourseStep, ...]:
        """The recourse of ``product`` (not offered in ``values``); ``shared`` is the
        decision's, ``seen`` the head values at the points already re-decided (one decision's
        products share them)."""
        if values[self.outcome_at] != Outcome.INVITED and not shared:
            return ()  # nothing the user may be told (a fraud rule) or nothing to do
        plan = self.plans[product]
        index = self.index

        def original(name: str) -> Any:
            return row[name] if name in row else values[index[name]] if name in index else None

        steps = list(shared) if values[self.outcome_at] != Outcome.INVITED else []
        seen.setdefault(((), as_of), values)
        for _ in range(ROUNDS + 1):
            if any(s.immutable for s in steps):
                return tuple(steps)
            point = lead(row, steps, as_of)
            at = seen.get(point)
            if at is None:
                at = seen[point] = self.head({**row, **dict(point[0])}, point[1])
            if at[plan.status] == ProductStatus.OFFERED:
                return tuple(steps)
            more = self.needed(plan, {**row, **dict(point[0])}, at, point[1])
            if not more:
                break
            steps = merged(steps, more, original)
        message = text("recourse", "product_unreachable")
        return (*steps, RecourseStep(UNREACHABLE, "product", None, None, None, True, message))

    def needed(self, plan: _Plan, row: Row, values: Values, when: date) -> list[RecourseStep]:
        """What still keeps ``plan``'s product from the user at this point."""
        index = self.index

        def value(name: str) -> Any:
            return values[index[name]] if name in index else row.get(name)

        more: list[RecourseStep] = []
        if values[self.outcome_at] != Outcome.INVITED:
            _, gate_steps, _ = self.explain(row, when, values)
            more += self.planner.finish(list(gate_steps), row, values, when)
            if not more:  # refused for what no step clears (a fraud rule, a referral)
                return []
        more += [g.step(value, when) for g, failed in plan.gates if values[failed]]
        if values[plan.reason] == NOT_FUNDED:
            declining: list[list[RecourseStep]] = [
                [g.step(value, when) for g, failed in gates if values[failed]]
                for accepts, gates in plan.partners
                if not values[accepts]
            ]
            if declining:
                # one partner (list order on ties)
                cheapest: list[RecourseStep] = min(declining, key=partner_cost)
                more += cheapest
        return more


def partner_cost(steps: list[RecourseStep]) -> tuple[bool, int]:
    """A partner whose steps the user can all follow first, then the fewest steps."""
    return any(s.immutable for s in steps), len(steps)
