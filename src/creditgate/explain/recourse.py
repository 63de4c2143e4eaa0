"""Recourse for failed gates: the exact change (or the date) that clears each one.

Honest by construction: a value is suggested only for fields the user can change, in the
direction that helps (``schema.Direction``); time-driven gates (age, account age, an overdue
record ageing out) get the date on which they open and no advice; everything else is marked
immutable with no fake advice. Fraud rules get no steps at all.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any

from creditgate.decision import RecourseStep, jsonable
from creditgate.engines.row import Source
from creditgate.explain.catalogue import renderer, text
from creditgate.features import DerivedField
from creditgate.policy.nodes import CmpOp, Gate, Policy, RegionStatus
from creditgate.policy.schedule import opens_on, province_of
from creditgate.population.regions import RegionTable
from creditgate.schema import PROFILE_FIELDS, Direction, FieldSpec
from creditgate.timeutil import add_units


def step_value(spec: FieldSpec, op: CmpOp, threshold: Any) -> Any:
    """The value nearest the user's that satisfies ``op threshold``, on the field's grid."""
    res = spec.resolution
    if op is CmpOp.GT:
        threshold = threshold + res
    elif op is CmpOp.LT:
        threshold = threshold - res
    if spec.type is Decimal:
        return Decimal(str(threshold)).quantize(Decimal(str(res)))
    if spec.type is int:
        return (
            int(threshold)
            if float(threshold).is_integer()
            else int(threshold) + (1 if op in (CmpOp.GE, CmpOp.GT) else 0)
        )
    if spec.type is float:
        return round(float(threshold), 6)
    return threshold


def helps(direction: Direction, op: CmpOp | None, value: Any) -> bool:
    """Whether moving the field the helpful way can ever satisfy ``op value``."""
    if direction is Direction.TRUE:
        return op is CmpOp.EQ and value is True
    if direction is Direction.UP:
        return op in (CmpOp.GE, CmpOp.GT)
    if direction is Direction.DOWN:
        return op in (CmpOp.LE, CmpOp.LT)
    return False


def immutable_step(gate: Gate, observed: Any, key: str = "immutable") -> RecourseStep:
    return RecourseStep(gate.code, gate.field, observed, None, None, True, text("recourse", key))


def time_step(gate: Gate, d: DerivedField, observed: Any, start: date, as_of: date) -> RecourseStep:
    """Time alone clears the gate: the date it opens, no advice."""
    assert d.unit is not None
    threshold: int = gate.value  # type: ignore[assignment]  # loader: time gates are ints
    amount = threshold + (1 if gate.op is CmpOp.GT else 0)
    eta = max(add_units(start, amount, d.unit), as_of)
    key = d.spec.message or "wait"
    message = renderer("recourse", key, gate.field)(eta=eta.isoformat(), required=threshold)
    return RecourseStep(gate.code, gate.field, observed, amount, eta, False, message)


def change_step(gate: Gate, spec: FieldSpec, observed: Any) -> RecourseStep:
    """The nearest passing value of a field the user controls, the helpful way only."""
    if spec.direction is Direction.TRUE:
        message = text("recourse", "set_true", label=gate.field)
        return RecourseStep(gate.code, gate.field, observed, True, None, False, message)
    assert gate.op is not None  # GateRecourse only builds change steps for comparisons
    to = step_value(spec, gate.op, gate.value)
    key = spec.message or ("raise" if spec.direction is Direction.UP else "lower")
    message = text(
        "recourse", key, label=gate.field, to=jsonable(to), **{"from": jsonable(observed)}
    )
    return RecourseStep(gate.code, gate.field, observed, to, None, False, message)


class GateRecourse:
    """The recourse of one gate, memoised by what it depends on (observed value, dates)."""

    def __init__(self, gate: Gate, derived: Mapping[str, DerivedField]) -> None:
        self.gate = gate
        self.time: DerivedField | None = None
        self.spec: FieldSpec | None = None
        if gate.field in derived:
            d = derived[gate.field]
            if d.time_start and d.unit and helps(d.direction, gate.op, gate.value):
                self.time = d
        elif gate.op is not None and helps(
            PROFILE_FIELDS[gate.field].direction, gate.op, gate.value
        ):
            self.spec = PROFILE_FIELDS[gate.field]
        self._time = lru_cache(maxsize=8192)(self._time_step)
        self._change = lru_cache(maxsize=8192)(self._change_step)

    def call_source(self, source: Source, name: str) -> str:
        """Python source calling this gate's memoised step, its values read where ``source``
        says, ``as_of`` from the generated function; ``name`` is this object's name there."""
        observed = source(self.gate.field)
        if self.time is not None:
            assert self.time.time_start is not None
            start = source(self.time.time_start)
            return f"{name}._time({observed}, {start}, as_of)"
        return f"{name}._change({observed})"

    def step(self, value: Callable[[str], Any], as_of: date) -> RecourseStep:
        """The step, reading the field and the clock's start through ``value`` (by name)."""
        if self.time is not None:
            assert self.time.time_start is not None
            return self._time(value(self.gate.field), value(self.time.time_start), as_of)
        return self._change(value(self.gate.field))

    def _time_step(self, observed: Any, start: date, as_of: date) -> RecourseStep:
        assert self.time is not None
        return time_step(self.gate, self.time, observed, start, as_of)

    def _change_step(self, observed: Any) -> RecourseStep:
        if self.spec is None:
            return immutable_step(self.gate, observed)
        return change_step(self.gate, self.spec, observed)


@lru_cache(maxsize=16)
def region_step(region_class: str) -> RecourseStep:
    message = text("recourse", "region_closed")
    return RecourseStep("REGION_CLOSED", "region_class", region_class, None, None, True, message)


class ScheduleRecourse:
    """A user closed out by the rollout schedule (not by a closed class) is told the date of
    the stage that opens their city, from the policy's schedule; otherwise the region step."""

    def __init__(self, policy: Policy, regions: RegionTable) -> None:
        self.schedule = policy.schedule
        self.regions = regions
        self.closed = frozenset(
            r.region_class for r in policy.regions if r.status is RegionStatus.CLOSED
        )
        self.step = lru_cache(maxsize=4096)(self._step)

    def _step(self, region_class: Any, city: str, as_of: date) -> RecourseStep:
        if region_class is None or region_class in self.closed:
            return region_step(region_class)
        stage = opens_on(self.schedule, self.regions, city, as_of)
        province = province_of(self.regions, city)
        if stage is None or province is None:
            return region_step(region_class)
        message = text("recourse", "region_opens", province=province, eta=stage.start.isoformat())
        return RecourseStep("REGION_CLOSED", "city", city, None, stage.start, False, message)
