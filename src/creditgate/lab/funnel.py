"""The funnel: every step of a policy that can stop a user, in policy order.

Steps: each gate (file order), the closed regions, each fraud rule (file order), the score
below its cutoff, the score in a partly open region's quota band, a referred segment, then
the whitelist's cuts (a partial region's quota, the capacity). A decided user who is not
invited fails at least one step (the outcome is ``invited`` exactly when none fails), so the
users *stopped first* at each step sum to the decided users who are not invited; the users
*failing* a step at all count each user once per step.

Each step is a boolean ``Expr`` over program bindings, so every engine computes it. A run
keeps two integers a row: ``_fmask`` (bit ``i`` set: step ``i`` failed) and ``_ffirst`` (the
first failed step's index, NULL for the invited). The steps before the cutoffs are known are
computed in the staged pass; the whitelist's two join them in the late part.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from creditgate.policy.bindings import Fixed, FraudFired, GateFailed, Scope
from creditgate.policy.lower import Program
from creditgate.policy.nodes import And, Coalesce, Expr, Layer, Literal, Not

MASK = "_fmask"
FIRST = "_ffirst"
FALSE = Literal(False)


@dataclass(frozen=True)
class FunnelStep:
    """One place a user can be stopped: its layer, reason code and gate (or rule) id."""

    layer: str
    code: str
    gate: str
    condition: Expr  # TRUE: the user fails here (reads the program's bindings)
    late: bool = False  # reads the derived cutoffs (the whitelist's cuts)


def funnel_steps(program: Program) -> tuple[FunnelStep, ...]:
    """The steps of ``program``'s policy in policy order (module docstring)."""
    policy, scope = program.policy, program.scope
    steps = [
        FunnelStep(g.layer.value, g.code, g.id, scope.ref(GateFailed(g.id))) for g in policy.gates
    ]
    steps.append(
        FunnelStep(
            Layer.REGION.value, "REGION_CLOSED", "region_closed", _ref(scope, Fixed.REGION_CLOSED)
        )
    )
    steps += [
        FunnelStep(Layer.FRAUD.value, "FRAUD_SUSPECTED", r.id, scope.ref(FraudFired(r.id)))
        for r in policy.fraud
    ]
    quota = _ref(scope, Fixed.SCORE_QUOTA)
    below = And((scope.ref(Fixed.SCORE_FAILED), Not(quota)))
    steps.append(FunnelStep(Layer.WHITELIST.value, "SCORE_BELOW_CUTOFF", "score", below))
    steps.append(FunnelStep(Layer.REGION.value, "REGION_QUOTA", "score_quota", quota))
    steps.append(
        FunnelStep(Layer.SEGMENT.value, "BUSINESS_PURPOSE", "refer", _ref(scope, Fixed.REFERRED))
    )
    if program.capacity:
        steps.append(
            FunnelStep(
                Layer.REGION.value,
                "REGION_QUOTA",
                "region_quota",
                _ref(scope, Fixed.REGION_QUOTA),
                late=True,
            )
        )
        steps.append(
            FunnelStep(
                Layer.WHITELIST.value,
                "CAPACITY",
                "capacity",
                _ref(scope, Fixed.CAPACITY),
                late=True,
            )
        )
    return tuple(steps)


def _ref(scope: Scope, key: Fixed) -> Expr:
    return Coalesce((scope.ref(key), FALSE))


def mask_and_first(
    steps: Sequence[FunnelStep], failed: Mapping[int, ir.BooleanValue]
) -> tuple[ir.IntegerValue, ir.IntegerValue]:
    """(bit mask, index of the first failed step or NULL) of the steps ``failed`` holds
    (step index -> column)."""
    mask: ir.IntegerValue = ibis.literal(0, type="int64")
    whens = []
    for i in sorted(failed):
        hit = failed[i].fill_null(False)
        mask = mask + ibis.ifelse(
            hit, ibis.literal(1 << i, type="int64"), ibis.literal(0, type="int64")
        )
        whens.append((hit, ibis.literal(i, type="int64")))
    first = ibis.cases(*whens, else_=ibis.null("int64")) if whens else ibis.null("int64")
    return mask, first


def failed_at(mask: ir.IntegerValue, i: int) -> ir.IntegerValue:
    """1 when bit ``i`` of ``mask`` is set, else 0: a shift and a bitwise AND, which DuckDB and
    Spark both have (``mask // 2**i % 2`` compiled to a float division, a FLOOR and a cast for
    each funnel step of each decided row: a third of the report's CPU)."""
    return (mask >> i) & 1
