"""Compliance and consistency lint for a loaded policy.

Errors make ``creditgate policy lint`` exit 1 and stop a policy from being served (``Decider``
refuses it); warnings are printed. What it checks: APR above the jurisdiction's cap, a line above
the household cap, data used without a consent gate, gates that can never pass or never fail,
contradictory gates on one field, cutoffs outside the attainable score range, and invited users
left without a limit or a price. A limit row above the household cap warns on that row's line;
a limit row's conditions count as data use for the consent check. (Protected attributes and
limits outside the product range are refused by the loader itself.)

In the ``CN`` jurisdiction the rules the law makes mandatory are errors when missing or not
declining: adults only (age >= 18), no students, real-name verification, both consents, a
blacklist fraud rule, and a score cutoff that can reject someone and invites nobody whose
modelled PD is above ``MAX_CUTOFF_PD`` (``CN_MANDATORY`` and ``CN_CUTOFF``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from creditgate.features import DERIVED_SPECS, by_name, consent_of, derived_fields
from creditgate.policy.lower import pd_scale
from creditgate.policy.nodes import Action, CmpOp, Condition, Gate, Policy, RegionStatus
from creditgate.population.regions import RegionTable, load_regions
from creditgate.schema import PROFILE_FIELDS, Consent

INF = float("inf")
MIN_AGE = 18
MAX_CUTOFF_PD = (
    0.20  # CN: the marginal invited user must be modelled at most this likely to default
)


class Level(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Finding:
    level: Level
    check: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.level.value}: line {self.line}: [{self.check}] {self.message}"


def field_range(name: str) -> tuple[float, float] | None:
    if name in DERIVED_SPECS:
        return DERIVED_SPECS[name].range
    spec = PROFILE_FIELDS.get(name)
    if spec is None or spec.type not in (int, float, Decimal):
        return None
    lo = float(spec.ge) if spec.ge is not None else -INF
    hi = float(spec.le) if spec.le is not None else INF
    return lo, hi


def passing_interval(op: CmpOp, value: Any) -> tuple[float, float, bool, bool] | None:
    """(lo, hi, lo_open, hi_open) of the values that pass ``op value``."""
    v = float(value)
    return {
        CmpOp.GE: (v, INF, False, True),
        CmpOp.GT: (v, INF, True, True),
        CmpOp.LE: (-INF, v, True, False),
        CmpOp.LT: (-INF, v, True, True),
        CmpOp.EQ: (v, v, False, False),
    }.get(op)


def lint(policy: Policy, regions: RegionTable | None = None) -> list[Finding]:
    regions = regions or load_regions()
    findings: list[Finding] = []
    findings += _pricing(policy)
    findings += _consent(policy, regions)
    findings += _gates(policy)
    findings += _scorecard(policy)
    findings += _schedule(policy, regions)
    findings += _products(policy)
    if policy.jurisdiction.name == "CN":
        findings += _cn_mandatory(policy)
        findings += _cn_cutoffs(policy)
    return findings


def _schedule(policy: Policy, regions: RegionTable) -> list[Finding]:
    """A stage that opens nothing new is a slip (a province listed twice, a city whose
    province is already open); provinces no stage ever opens are worth a look."""
    out: list[Finding] = []
    opened: set[str] = set()
    everywhere = False
    for stage in policy.schedule:
        again = [p for p in stage.provinces if p in opened or everywhere]
        covered = set(stage.provinces) | opened
        inside = [c for c in stage.cities if everywhere or regions.cities[c].province in covered]
        if again or inside:
            listed = ", ".join([*again, *inside])
            out.append(
                Finding(
                    Level.WARNING,
                    "schedule",
                    stage.line,
                    f"stage from {stage.start} lists places already open: {listed}",
                )
            )
        opened |= set(stage.provinces)
        everywhere = everywhere or stage.every_province
    if policy.schedule and not everywhere:
        never = sorted(regions.provinces - opened)
        if never:
            out.append(
                Finding(
                    Level.WARNING,
                    "schedule",
                    policy.schedule[-1].line,
                    f"{len(never)} provinces are never opened by the schedule "
                    f"(e.g. {', '.join(never[:3])})",
                )
            )
    return out


def errors(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.level is Level.ERROR]


def _pricing(policy: Policy) -> list[Finding]:
    out: list[Finding] = []
    offer, law = policy.offer, policy.jurisdiction
    for i, band in enumerate(offer.prices):
        apr = band.daily_rate * offer.days_per_year
        if apr > law.apr_cap:
            out.append(
                Finding(
                    Level.ERROR,
                    "APR_CAP",
                    policy.line(f"offer.pricing.{i}"),
                    f"daily rate {band.daily_rate} is an APR of {apr}, above the "
                    f"{law.name} cap of {law.apr_cap}",
                )
            )
    for i, s in enumerate(offer.segments):
        for j, row in enumerate(s.limits):
            line = min(row.limit, offer.max_limit)
            if line > law.household_line_cap_cny:
                out.append(
                    Finding(
                        Level.WARNING,
                        "HOUSEHOLD_LINE_CAP",
                        row.line or policy.line(f"offer.segments.{i}.limits.{j}"),
                        f"segment {s.name}, limit row {j}: a credit line of {line} yuan "
                        f"exceeds the {law.name} household cap of "
                        f"{law.household_line_cap_cny} yuan for bank internet consumer "
                        "loans; check the lender's licence",
                    )
                )
    lowest_cutoff = min(v for _, v in policy.scorecard.cutoffs)
    if min(p.min_score for p in offer.prices) > lowest_cutoff - policy.scorecard.review_band:
        out.append(
            Finding(
                Level.ERROR,
                "NO_PRICE",
                policy.line("offer.pricing"),
                "some invitable scores have no price band (lowest min_score is above "
                "the lowest cutoff)",
            )
        )
    for i, s in enumerate(offer.segments):
        # only rows without conditions catch everyone: conditional rows may all fail
        floor = min((r.min_score for r in s.limits if not r.when), default=None)
        if not s.refer and (floor is None or floor > lowest_cutoff):
            out.append(
                Finding(
                    Level.ERROR,
                    "NO_LIMIT",
                    policy.line(f"offer.segments.{i}"),
                    f"segment {s.name}: invitable scores below {floor} get no limit"
                    if floor is not None
                    else f"segment {s.name}: no limit row without conditions",
                )
            )
    return out


def _products(policy: Policy) -> list[Finding]:
    """Each instalment plan's APR (IRR method, computed at load) within the cap; a joint
    loan's shares adding up to 100%, the own lender's at least the jurisdiction's minimum."""
    out: list[Finding] = []
    law = policy.jurisdiction
    for p in policy.products:
        for plan in p.plans:
            if plan.apr > law.apr_cap:
                out.append(
                    Finding(
                        Level.ERROR,
                        "APR_CAP",
                        plan.line or p.line,
                        f"product {p.id}: the {plan.periods}-period plan at a fee of "
                        f"{plan.fee_per_period} a period has an APR of {plan.apr} (IRR method), "
                        f"above the {law.name} cap of {law.apr_cap}",
                    )
                )
        if p.own_lender is None:
            continue
        total = sum((lender.share for lender in p.lenders), Decimal(0))
        if total != 1:
            out.append(
                Finding(
                    Level.ERROR,
                    "JOINT_SHARES",
                    p.line,
                    f"product {p.id}: the lenders' shares add up to {total}, not 1",
                )
            )
        if p.own_lender.share < law.joint_min_own_share:
            out.append(
                Finding(
                    Level.ERROR,
                    "JOINT_OWN_SHARE",
                    p.own_lender.line or p.line,
                    f"product {p.id}: the own lender {p.own_lender.id} funds "
                    f"{p.own_lender.share} of each loan; {law.name} requires at least "
                    f"{law.joint_min_own_share}",
                )
            )
    return out


def _consent(policy: Policy, regions: RegionTable) -> list[Finding]:
    derived = by_name(derived_fields(regions, policy.unknown_city))
    gated = {
        g.field
        for g in policy.gates
        if g.op is CmpOp.EQ
        and g.value is True
        and g.field in (c.value for c in Consent)
        and g.group is None  # one of an any-of group does not require the consent
    }
    out: list[Finding] = []
    uses = [(g.field, g.line, f"gate {g.id}") for g in policy.gates]
    uses += [
        (f.field, policy.line(f"scorecard.features.{i}"), f"scorecard feature {f.name}")
        for i, f in enumerate(policy.scorecard.features)
    ]
    uses += [
        (g.field, g.line, f"product {p.id} gate {g.id}")
        for p in policy.products
        for g in (*p.gates, *(g for lender in p.lenders for g in lender.gates))
    ]
    uses += [
        (c.field, row.line, f"segment {s.name} limit row {j}")
        for s in policy.offer.segments
        for j, row in enumerate(s.limits)
        for c in row.when
    ]
    for field, line, what in uses:
        consent = consent_of(field, derived)
        if consent in (Consent.CREDIT, Consent.BEHAVIOUR) and consent.value not in gated:
            out.append(
                Finding(
                    Level.ERROR,
                    "CONSENT",
                    line,
                    f"{what} processes {field!r}, which needs {consent.value}, but no "
                    f"gate requires {consent.value} == true",
                )
            )
    return out


def _gates(policy: Policy) -> list[Finding]:
    out: list[Finding] = []
    feasible: dict[str, tuple[float, float]] = {}
    for g in policy.gates:
        rng = field_range(g.field)
        # a gate of an any-of group may fail while the user passes: no bound on its field
        if rng is None or g.op is None or g.op is CmpOp.NE or g.group is not None:
            continue
        interval = passing_interval(g.op, g.value)
        if interval is None:
            continue
        lo, hi, lo_open, hi_open = interval
        f_lo, f_hi = feasible.get(g.field, rng)
        new_lo, new_hi = max(f_lo, lo), min(f_hi, hi)
        empty = new_lo > new_hi or (
            new_lo == new_hi and ((lo_open and new_lo == lo) or (hi_open and new_hi == hi))
        )
        if empty:
            what = (
                "can never pass"
                if g.field not in feasible
                else "contradicts an earlier gate on the same field"
            )
            out.append(
                Finding(
                    Level.ERROR,
                    "UNREACHABLE",
                    g.line,
                    f"gate {g.id}: {g.field} {g.op.value} {g.value} {what}: nobody can be invited",
                )
            )
            continue
        if (
            lo <= rng[0]
            and hi >= rng[1]
            and not (lo_open and lo == rng[0])
            and not (hi_open and hi == rng[1])
        ):
            out.append(
                Finding(
                    Level.WARNING,
                    "NEVER_FAILS",
                    g.line,
                    f"gate {g.id}: {g.field} {g.op.value} {g.value} holds for every valid value",
                )
            )
        feasible[g.field] = (new_lo, new_hi)
    for rule in policy.fraud:
        for c in rule.conditions:
            rng = field_range(c.field)
            if rng is None or c.op is None or c.op is CmpOp.NE:
                continue
            interval = passing_interval(c.op, c.value)
            if interval and (interval[0] > rng[1] or interval[1] < rng[0]):
                out.append(
                    Finding(
                        Level.WARNING,
                        "NEVER_FIRES",
                        rule.line,
                        f"fraud rule {rule.id}: {c.field} {c.op.value} {c.value} never holds",
                    )
                )
    return out


def _pair_cells(policy: Policy, pick: Callable[[Iterable[int]], int]) -> int:
    """Each pairwise table's lowest (``min``) or highest (``max``) cell, summed: a bound on
    what the tables add (the features' own bins are bounded separately)."""
    return sum(pick(v for row in p.points for v in row) for p in policy.scorecard.pairs)


def _scorecard(policy: Policy) -> list[Finding]:
    card = policy.scorecard
    top = card.base_points + sum(f.best_points for f in card.features) + _pair_cells(policy, max)
    bottom = card.base_points + sum(
        min(min(b.points for b in f.bins), f.missing_points) for f in card.features
    )
    bottom += _pair_cells(policy, min)
    out: list[Finding] = []
    for region_class, cutoff in card.cutoffs:
        if policy.region(region_class).status is RegionStatus.CLOSED:
            continue
        line = policy.line(f"scorecard.cutoffs.{region_class}")
        if cutoff > top:
            out.append(
                Finding(
                    Level.ERROR,
                    "CUTOFF_UNREACHABLE",
                    line,
                    f"cutoff {cutoff} for {region_class} is above the best attainable score {top}",
                )
            )
        elif cutoff <= bottom:
            out.append(
                Finding(
                    Level.WARNING,
                    "CUTOFF_NEVER_BINDS",
                    line,
                    f"cutoff {cutoff} for {region_class} is at or below the lowest "
                    f"score {bottom}: the score never rejects",
                )
            )
    return out


def _requires(c: Gate | Condition, field: str, value: object) -> bool:
    """``c`` holds only when ``field`` equals the boolean ``value``."""
    if c.field != field:
        return False
    return (c.op is CmpOp.EQ and c.value is value) or (c.op is CmpOp.NE and c.value is not value)


def _adult(g: Gate) -> bool:
    if g.field != "age" or not isinstance(g.value, int | float):
        return False
    return (g.op is CmpOp.GE and g.value >= MIN_AGE) or (
        g.op is CmpOp.GT and g.value >= MIN_AGE - 1
    )


def _cn_mandatory(policy: Policy) -> list[Finding]:
    """Each mandatory rule must exist and decline (a rule sent to review does not refuse)."""
    gates = [g for g in policy.gates if g.action is Action.DECLINE and g.group is None]
    needed = {
        f"a gate age >= {MIN_AGE} (minors may not borrow)": any(_adult(g) for g in gates),
        "a gate is_student == false (no lending to students)": any(
            _requires(g, "is_student", False) for g in gates
        ),
        "a gate real_name_verified == true (real-name verification)": any(
            _requires(g, "real_name_verified", True) for g in gates
        ),
        "a gate consent_credit_data == true": any(
            _requires(g, Consent.CREDIT.value, True) for g in gates
        ),
        "a gate consent_behaviour_data == true": any(
            _requires(g, Consent.BEHAVIOUR.value, True) for g in gates
        ),
        "a fraud rule on blacklist_hit == true alone": any(
            r.action is Action.DECLINE
            and len(r.conditions) == 1
            and _requires(r.conditions[0], "blacklist_hit", True)
            for r in policy.fraud
        ),
    }
    return [
        Finding(
            Level.ERROR,
            "CN_MANDATORY",
            policy.line("fraud" if "fraud" in rule else "gates"),
            f"the CN jurisdiction requires {rule}; it is missing or does not decline",
        )
        for rule, present in needed.items()
        if not present
    ]


def lowest_cutoff(policy: Policy) -> int:
    """The lowest cutoff ``CN_CUTOFF`` accepts for this scorecard: above its lowest score and
    at a modelled PD of at most ``MAX_CUTOFF_PD``."""
    bottom, floor = _cutoff_bounds(policy)
    return max(bottom + 1, math.ceil(floor))


def _cutoff_bounds(policy: Policy) -> tuple[int, float]:
    card = policy.scorecard
    bottom = card.base_points + sum(
        min(min(b.points for b in f.bins), f.missing_points) for f in card.features
    )
    bottom += _pair_cells(policy, min)
    offset, scale = pd_scale(policy.scorecard.scaling)
    return bottom, offset + scale * math.log((1 - MAX_CUTOFF_PD) / MAX_CUTOFF_PD)


def _cn_cutoffs(policy: Policy) -> list[Finding]:
    card = policy.scorecard
    bottom, floor = _cutoff_bounds(policy)
    out: list[Finding] = []
    for region_class, cutoff in card.cutoffs:
        if policy.region(region_class).status is RegionStatus.CLOSED:
            continue
        if cutoff <= bottom or cutoff < floor:
            out.append(
                Finding(
                    Level.ERROR,
                    "CN_CUTOFF",
                    policy.line(f"scorecard.cutoffs.{region_class}"),
                    f"cutoff {cutoff} for {region_class} must be above the lowest score "
                    f"{bottom} and at least {math.ceil(floor)} (modelled PD at most "
                    f"{MAX_CUTOFF_PD:.0%})",
                )
            )
    return out
