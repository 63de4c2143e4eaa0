"""Reasons: every fired rule as {code, layer, observed, required, message}, most important first.

Order (defined once in ``policy.reason_order``): declines, reviews, referrals; then layer order
(compliance, credit, behaviour, region, fraud, whitelist, segment) and file order. The score's
principal factors follow the score reason: the scored features with the largest shortfall
against their best bin (at most 4). Fraud reasons stay generic: which signal fired is internal.

A reason depends only on its rule, the observed value and whether it is principal, so each
rule's reasons are memoised: a population repeats the same pay scores and day counts.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache, partial
from typing import Any

from creditgate.decision import Reason, jsonable
from creditgate.explain.catalogue import region_closed_text, renderer, text
from creditgate.explain.evaluation import Evaluation
from creditgate.policy.lower import Program
from creditgate.policy.nodes import CmpOp, Gate, Layer, Policy, RegionStatus, ScoreFeature
from creditgate.policy.reason_order import ReasonSlot, SlotKind

PRINCIPAL = 4
_CACHE = 8192

Maker = Callable[[Any, bool], Reason]
Wording = Callable[[Evaluation], Callable[[bool], Reason]]


def required_text(
    op: CmpOp | None, value: Any, values: tuple[Any, ...] = (), negate: bool = False
) -> str:
    if op is None:
        listed = ", ".join(str(jsonable(v)) for v in values)
        return f"{'not in' if negate else 'in'} [{listed}]"
    shown = str(jsonable(value)).lower() if isinstance(value, bool) else str(jsonable(value))
    return f"{op.value} {shown}"


def factor_required(feature: ScoreFeature) -> str:
    """The condition for the best bin, e.g. ``>= 3`` or ``< 0.2``."""
    best = max(range(len(feature.bins)), key=lambda i: feature.bins[i].points)
    b = feature.bins[best]
    if b.categories:
        return required_text(None, None, b.categories)
    if b.lower is not None and b.upper is not None:
        return f">= {b.lower:g} and < {b.upper:g}"
    return f">= {b.lower:g}" if b.lower is not None else f"< {b.upper:g}"


def gate_maker(gate: Gate) -> Maker:
    render = renderer("reasons", gate.code, gate.field)
    required = required_text(gate.op, gate.value, gate.values, gate.negate_values)
    shown_required = jsonable(gate.value)

    @lru_cache(maxsize=_CACHE)
    def make(observed: Any, principal: bool) -> Reason:
        message = render(observed=jsonable(observed), required=shown_required)
        return Reason(gate.code, gate.layer.value, observed, required, message, principal)

    return make


def factor_maker(feature: ScoreFeature) -> Maker:
    render = renderer("reasons", feature.factor)
    required = factor_required(feature)

    @lru_cache(maxsize=_CACHE)
    def make(observed: Any, principal: bool) -> Reason:
        message = render(observed=jsonable(observed))
        return Reason(feature.factor, Layer.WHITELIST.value, observed, required, message, principal)

    return make


@lru_cache(maxsize=_CACHE)
def score_reason(code: str, score: int, cutoff: int, principal: bool) -> Reason:
    layer = Layer.REGION if code == "REGION_QUOTA" else Layer.WHITELIST
    message = text("reasons", code, observed=score, required=cutoff)
    return Reason(code, layer.value, score, f">= {cutoff}", message, principal)


@lru_cache(maxsize=64)
def fixed_reason(
    code: str, layer: Layer, observed: Any, required: str | None, principal: bool
) -> Reason:
    message = region_closed_text(observed) if code == "REGION_CLOSED" else text("reasons", code)
    return Reason(code, layer.value, observed, required, message, principal)


class ReasonBuilder:
    """Words the reasons whose key bindings fired, in key order (``policy.reason_order``).

    Which reasons fire and their order come from the program, so the batch engines, which
    compile the same keys, list the same codes in the same order.
    """

    def __init__(self, program: Program) -> None:
        policy = program.policy
        index = {name: i for i, name in enumerate(program.names)}
        opened = tuple(
            r.region_class for r in policy.regions if r.status is not RegionStatus.CLOSED
        )
        self.region_required = required_text(None, None, opened)
        self.at = {name: index[name] for name in ("region_class", "score", "cutoff")}
        if "cutoff.capacity" in index:
            self.at["cutoff.capacity"] = index["cutoff.capacity"]
        self.slots = [(index[s.binding], self.wording(s, policy)) for s in program.reasons]

    def wording(self, slot: ReasonSlot, policy: Policy) -> Wording:
        """How to word a fired slot, given the evaluation."""
        at = self.at
        if slot.kind == SlotKind.GATE:
            gate, make = policy.gates[slot.index], gate_maker(policy.gates[slot.index])
            return lambda ev: partial(make, ev.field(gate.field))
        if slot.kind == SlotKind.FACTOR:
            feature = policy.scorecard.features[slot.index]
            fmake = factor_maker(feature)
            return lambda ev: partial(fmake, ev.field(feature.field))
        if slot.kind == SlotKind.REGION_CLOSED:
            required = self.region_required
            return lambda ev: partial(
                fixed_reason, "REGION_CLOSED", Layer.REGION, ev.values[at["region_class"]], required
            )
        if slot.kind == SlotKind.FRAUD:
            return lambda ev: partial(fixed_reason, "FRAUD_SUSPECTED", Layer.FRAUD, None, None)
        if slot.kind == SlotKind.REFER:
            return lambda ev: partial(
                fixed_reason, "BUSINESS_PURPOSE", Layer.SEGMENT, ev.row.get("occupation"), None
            )
        cutoff = "cutoff.capacity" if slot.kind == SlotKind.CAPACITY else "cutoff"
        code = slot.code
        return lambda ev: partial(score_reason, code, ev.values[at["score"]], ev.values[at[cutoff]])

    def build(self, ev: Evaluation) -> list[Reason]:
        """Every fired rule's reason, ordered; the first ``PRINCIPAL`` are marked principal."""
        values = ev.values
        fired = [(values[i], word) for i, word in self.slots if values[i] is not None]
        fired.sort(key=lambda item: item[0])
        return [word(ev)(n < PRINCIPAL) for n, (_, word) in enumerate(fired)]
