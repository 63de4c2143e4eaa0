"""Reasons: every fired rule as {code, layer, observed, required, message}, most important first.

Order: declines before reviews before referrals; within each, the policy's layer order
(compliance, credit, behaviour, region, fraud, whitelist, segment) and file order. The score's
principal factors follow the score reason: the scored features with the largest shortfall
against their best bin (at most 4). Fraud reasons stay generic: which signal fired is internal.

A reason depends only on its rule, the observed value and whether it is principal, so each
rule's reasons are memoised: a population repeats the same pay scores and day counts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from operator import itemgetter
from typing import Any

from creditgate.decision import Reason, jsonable
from creditgate.explain.catalogue import region_closed_text, renderer, text
from creditgate.explain.evaluation import Evaluation
from creditgate.policy.lower import Program
from creditgate.policy.nodes import Action, CmpOp, Gate, Layer, RegionStatus, ScoreFeature
from creditgate.schema import PROFILE_FIELDS

PRINCIPAL = 4
MAX_FACTORS = 4
_ACTION_RANK = {Action.DECLINE: 0, Action.REVIEW: 1, Action.REFER: 2}
_LAYER_RANK = {layer: i for i, layer in enumerate(Layer)}
_CACHE = 8192

Rank = tuple[int, int, int, int]
Maker = Callable[[Any, bool], Reason]


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


@lru_cache(maxsize=1024)
def rank(action: Action, layer: Layer, position: int, sub: int = 0) -> Rank:
    return (_ACTION_RANK[action], _LAYER_RANK[layer], position, sub)


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


Item = tuple[Rank, Maker, Any]  # (rank, maker, observed): ``maker(observed, principal)``


class ReasonBuilder:
    """Precomputes, per policy, which value each rule reads, its rank and its wording."""

    def __init__(self, program: Program) -> None:
        policy = program.policy
        index = {name: i for i, name in enumerate(program.names)}

        def source(field: str) -> tuple[bool, Any]:
            """Raw fields are read from the row, derived ones from the program's values."""
            return (True, field) if field in PROFILE_FIELDS else (False, index[field])

        self.gates = sorted(
            (
                (
                    index[f"fail.{g.id}"],
                    rank(g.action, g.layer, pos),
                    *source(g.field),
                    gate_maker(g),
                )
                for pos, g in enumerate(policy.gates)
            ),
            key=lambda gate: gate[1],
        )
        self.fraud = [(index[f"fraud.{r.id}"], r.action) for r in policy.fraud]
        self.factors = [
            (index[f"points.{f.name}"], f.best_points, pos, *source(f.field), factor_maker(f))
            for pos, f in enumerate(policy.scorecard.features)
        ]
        opened = tuple(
            r.region_class for r in policy.regions if r.status is not RegionStatus.CLOSED
        )
        region_required = required_text(None, None, opened)
        self.make_region: Maker = lambda region, p: fixed_reason(
            "REGION_CLOSED", Layer.REGION, region, region_required, p
        )
        self.make_fraud: Maker = lambda _, p: fixed_reason(
            "FRAUD_SUSPECTED", Layer.FRAUD, None, None, p
        )
        self.make_refer: Maker = lambda occupation, p: fixed_reason(
            "BUSINESS_PURPOSE", Layer.SEGMENT, occupation, None, p
        )
        self.at = {
            name: index[name]
            for name in (
                "fail.region_closed",
                "region_class",
                "fail.score",
                "review.score",
                "quota.score",
                "score",
                "cutoff",
                "refer.segment",
            )
        }

    def build(self, ev: Evaluation) -> list[Reason]:
        """Every fired rule's reason, ordered; the first ``PRINCIPAL`` are marked principal."""
        values, row, at = ev.values, ev.row, self.at
        items: list[Item] = [
            (r, make, row.get(key) if raw else values[key])
            for i, r, raw, key, make in self.gates
            if values[i]
        ]
        if values[at["fail.region_closed"]]:
            items.append(
                (
                    rank(Action.DECLINE, Layer.REGION, 0),
                    self.make_region,
                    values[at["region_class"]],
                )
            )
        actions = [action for i, action in self.fraud if values[i]]
        if actions:
            action = min(actions, key=_ACTION_RANK.__getitem__)
            items.append((rank(action, Layer.FRAUD, 0), self.make_fraud, None))
        if values[at["fail.score"]]:
            items.extend(self.score_items(values, row))
        if values[at["refer.segment"]]:
            items.append(
                (rank(Action.REFER, Layer.SEGMENT, 0), self.make_refer, row.get("occupation"))
            )
        if len(items) > 1:
            items.sort(key=itemgetter(0))
        return [make(observed, n < PRINCIPAL) for n, (_, make, observed) in enumerate(items)]

    def score_items(self, values: tuple[Any, ...], row: Mapping[str, Any]) -> list[Item]:
        at = self.at
        action = Action.REVIEW if values[at["review.score"]] else Action.DECLINE
        code = "REGION_QUOTA" if values[at["quota.score"]] else "SCORE_BELOW_CUTOFF"
        score, cutoff = values[at["score"]], values[at["cutoff"]]
        items: list[Item] = [
            (
                rank(action, Layer.WHITELIST, 0, 0),
                lambda _, p: score_reason(code, score, cutoff, p),
                score,
            )
        ]
        for sub, (raw, key, make) in enumerate(self.principal_factors(values), start=1):
            observed = row.get(key) if raw else values[key]
            items.append((rank(action, Layer.WHITELIST, 0, sub), make, observed))
        return items

    def principal_factors(self, values: tuple[Any, ...]) -> list[tuple[bool, Any, Maker]]:
        """Scored features furthest below their best bin, largest shortfall first."""
        gaps = [
            (best - values[i], pos, raw, key, make)
            for i, best, pos, raw, key, make in self.factors
            if values[i] < best
        ]
        gaps.sort(key=lambda g: (-g[0], g[1]))
        return [(raw, key, make) for _, _, raw, key, make in gaps[:MAX_FACTORS]]
