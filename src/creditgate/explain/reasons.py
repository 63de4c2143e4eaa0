"""Reasons: every fired rule as {code, layer, observed, required, message}, most important first.

Order (defined once in ``policy.reason_order``): declines, reviews, referrals; then layer order
(compliance, credit, behaviour, region, fraud, whitelist, segment) and file order. The score's
principal factors follow the score reason: the scored features with the largest shortfall
against their best bin (at most 4), each saying what would help and by how much. Fraud reasons
stay generic: which signal fired is internal. Under ``manual_review`` the score and fraud
reasons say that a person is reviewing the case, not that it is refused.

A reason depends only on its rule, the observed value and whether it is principal, so each
rule's reasons are memoised: a population repeats the same pay scores and day counts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from creditgate.decision import Reason, jsonable
from creditgate.engines.row import Source
from creditgate.explain.catalogue import (
    Text,
    joined,
    region_closed_text,
    renderer,
    sentences,
    text,
)
from creditgate.explain.factor_help import factor_help
from creditgate.features import DerivedField
from creditgate.policy.bindings import Fixed, GateFailed, Points
from creditgate.policy.lower import Program
from creditgate.policy.nodes import (
    CmpOp,
    Gate,
    Layer,
    Outcome,
    Policy,
    RegionStatus,
    ScoreFeature,
)
from creditgate.policy.reason_order import ReasonSlot, SlotKind
from creditgate.policy.schedule import province_of
from creditgate.population.regions import RegionTable, load_regions

PRINCIPAL = 4
_CACHE = 8192

Maker = Callable[[Any, Any, bool, bool], Reason]  # (observed, second, principal, in review)


def required_text(
    op: CmpOp | None, value: Any, values: tuple[Any, ...] = (), negate: bool = False
) -> str:
    if op is None:
        listed = ", ".join(str(jsonable(v)) for v in values)
        return f"{'not in' if negate else 'in'} [{listed}]"
    shown = str(jsonable(value)).lower() if isinstance(value, bool) else str(jsonable(value))
    return f"{op.value} {shown}"


def gate_maker(gate: Gate) -> Maker:
    render = renderer("reasons", gate.code, gate.field)
    required = required_text(gate.op, gate.value, gate.values, gate.negate_values)
    shown_required = jsonable(gate.value)

    @lru_cache(maxsize=_CACHE)
    def make(observed: Any, _: Any, principal: bool, __: bool) -> Reason:
        message = render(observed=jsonable(observed), required=shown_required)
        return Reason(gate.code, gate.layer.value, observed, required, message, principal)

    return make


def factor_maker(feature: ScoreFeature, derived: Mapping[str, DerivedField]) -> Maker:
    """A factor says how far it holds the score back and what would help, by how much: the
    nearest helpful value and its points (``explain.factor_help``). A factor is not a
    threshold, so ``required`` is None: no bin edge is ever shown as a requirement."""
    render = renderer("reasons", feature.factor)
    key, advice = factor_help(feature, derived)
    helped = (
        sentences((("reasons", feature.factor, None), ("help", key, feature.field)))
        if key
        else render
    )

    @lru_cache(maxsize=_CACHE)
    def make(observed: Any, _: Any, principal: bool, __: bool) -> Reason:
        shown = jsonable(observed)
        found = advice(observed)
        if found is None:
            message = render(observed=shown)
        else:
            message = helped(observed=shown, to=found[0], gain=found[1], **{"from": shown})
        return Reason(feature.factor, Layer.WHITELIST.value, observed, None, message, principal)

    return make


def cutoff_note(policy: Policy) -> Text:
    """A snapshot's bar is a population fact: as of which whitelist it holds, and that it is
    recomputed at each refresh."""
    as_of = policy.scorecard.capacity_as_of
    if as_of is None:
        return text("cutoffs", "undated")
    return text("cutoffs", "dated", as_of=as_of.isoformat())


def score_maker(code: str, policy: Policy) -> Maker:
    """Observed: the score, then (the policy's floor, the snapshot's cutoff for the user's
    city or class, if any). The text names the bar that binds: the floor, or the snapshot's
    quota or capacity cutoff when higher (then dated); in the review band, under manual
    review, the floor and a review in progress."""
    layer = (Layer.REGION if code == "REGION_QUOTA" else Layer.WHITELIST).value
    note = cutoff_note(policy)

    @lru_cache(maxsize=_CACHE)
    def make(score: int, bars: tuple[int, ...], principal: bool, review: bool) -> Reason:
        floor = bars[0]
        if review:
            message = text("in_review", code, observed=score, required=floor)
            return Reason(code, layer, score, f">= {floor}", message, principal)
        cap = bars[1] if len(bars) > 1 else None
        bar = floor if cap is None or cap <= floor else cap
        message = text("reasons", code, observed=score, required=bar)
        if bar != floor:
            message = joined(message, note)
        return Reason(code, layer, score, f">= {bar}", message, principal)

    return make


def capacity_maker(code: str, policy: Policy) -> Maker:
    """Observed: the score, then the snapshot's cutoff it missed (dated, see ``cutoff_note``)."""
    layer = (Layer.REGION if code == "REGION_QUOTA" else Layer.WHITELIST).value
    note = cutoff_note(policy)

    @lru_cache(maxsize=_CACHE)
    def make(score: int, cutoff: int, principal: bool, _: bool) -> Reason:
        message = joined(text("reasons", code, observed=score, required=cutoff), note)
        return Reason(code, layer, score, f">= {cutoff}", message, principal)

    return make


def fixed_maker(code: str, layer: Layer, required: str | None) -> Maker:
    """A reason whose wording depends on nothing but (for REGION_CLOSED) the region, and
    (fraud) on whether a person is reviewing the case or it is refused."""

    @lru_cache(maxsize=64)
    def make(observed: Any, _: Any, principal: bool, review: bool) -> Reason:
        if code == "REGION_CLOSED":
            message = region_closed_text(observed)
        elif review and code == "FRAUD_SUSPECTED":
            message = text("in_review", code)
        else:
            message = text("reasons", code)
        return Reason(code, layer.value, observed, required, message, principal)

    return make


def schedule_maker(policy: Policy, regions: RegionTable, required: str) -> Maker:
    """REGION_CLOSED under a rollout schedule: a closed class names the class as always; an
    open or partly open one is closed where the user lives, so the text names the province."""
    closed = {r.region_class for r in policy.regions if r.status is RegionStatus.CLOSED}

    @lru_cache(maxsize=_CACHE)
    def make(region_class: Any, city: Any, principal: bool, _: bool) -> Reason:
        province = province_of(regions, city) if isinstance(city, str) else None
        if region_class is None or region_class in closed or province is None:
            message = region_closed_text(region_class)
        else:
            message = text("schedule", "REGION_NOT_YET_OPEN", province=province)
        layer = Layer.REGION.value
        return Reason("REGION_CLOSED", layer, region_class, required, message, principal)

    return make


class ReasonBuilder:
    """Words the reasons whose key bindings fired, in key order (``policy.reason_order``).

    Which reasons fire and their order come from the program, so the batch engines, which
    compile the same keys, list the same codes in the same order. The reason list is built by
    generated code at the end of the row engine's tail (``lines``), where the keys are
    computed: one inline NULL test per slot on a local, then one sort of the fired keys,
    because this runs for every user who is not invited.
    """

    def __init__(self, program: Program) -> None:
        policy = program.policy
        self.program = program
        self.slots = program.reasons
        self.capacity = program.capacity
        self.derived = program.derived
        opened = tuple(
            r.region_class for r in policy.regions if r.status is not RegionStatus.CLOSED
        )
        self.region_required = required_text(None, None, opened)
        self.regions = program.regions or load_regions()
        self.makers = tuple(self.wording(slot, policy) for slot in self.slots)

    def lines(self, source: Source) -> tuple[list[str], dict[str, Any]]:
        """Generated lines setting the local ``reasons`` (a tuple, key order) from the values
        ``source`` names, and the namespace they need (see ``RowCompiler.compile_split``)."""
        lines = ["f = []"]
        for j, (slot, (_, first, second)) in enumerate(zip(self.slots, self.makers, strict=True)):
            a = source(first) if first else "None"
            if isinstance(second, tuple):  # several values: one tuple argument
                b = "(" + "".join(f"{source(n)}, " for n in second) + ")"
            else:
                b = source(second) if second else "None"
            key = source(slot.binding)
            lines.append(f"if (k := {key}) is not None: f.append((k, {j}, {a}, {b}))")
        lines += [
            "f.sort()",  # keys are unique per slot; ties would fall to the slot number
            f"review = {source(Fixed.OUTCOME.column)} == {Outcome.MANUAL_REVIEW.value!r}",
            "reasons = tuple([_reason_makers[j](a, b, n < PRINCIPAL, review)"
            " for n, (_, j, a, b) in enumerate(f)])",
        ]
        makers = tuple(maker for maker, _, _ in self.makers)
        return lines, {"_reason_makers": makers, "PRINCIPAL": PRINCIPAL}

    def wording(
        self, slot: ReasonSlot, policy: Policy
    ) -> tuple[Maker, str | None, str | tuple[str, ...] | None]:
        """How to word a fired slot: its maker and the names of its two observed values."""
        if isinstance(slot.subject, GateFailed):
            gate = self.program.gate(slot.subject)
            return gate_maker(gate), gate.field, None
        if isinstance(slot.subject, Points):
            feature = self.program.feature(slot.subject)
            return factor_maker(feature, self.derived), feature.field, None
        score = Fixed.SCORE.column
        if slot.kind == SlotKind.REGION_CLOSED:
            if policy.schedule:  # closed by the schedule: the province, read from the city
                maker = schedule_maker(policy, self.regions, self.region_required)
                return maker, "region_class", "city"
            maker = fixed_maker("REGION_CLOSED", Layer.REGION, self.region_required)
            return maker, "region_class", None
        if slot.kind == SlotKind.FRAUD:
            return fixed_maker(slot.code, Layer.FRAUD, None), None, None
        if slot.kind == SlotKind.REFER:
            return fixed_maker(slot.code, Layer.SEGMENT, None), "occupation", None
        if slot.kind == SlotKind.CAPACITY:
            return capacity_maker(slot.code, policy), score, Fixed.CAPACITY_CUTOFF.column
        bars = (Fixed.CUTOFF, Fixed.CAPACITY_CUTOFF) if self.capacity else (Fixed.CUTOFF,)
        return score_maker(slot.code, policy), score, tuple(b.column for b in bars)
