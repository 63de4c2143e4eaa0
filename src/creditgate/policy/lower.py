"""Lower a policy to a *program*: named primitive expressions in dependency order.

Every engine compiles the same program, so a rule exists once. Bins become searched CASEs,
the scorecard a sum of them, gates become "failed" booleans with consent and NULL treatment
folded in, and the outcome a CASE over those, exactly as ``ibis`` lowers ``bucket`` to CASE.
Names are stable: ``fail.<gate id>``, ``fraud.<rule id>``, ``bin.<feature>``,
``points.<feature>``, ``score``, ``outcome``, ``limit_cny``...
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property

from creditgate.engines.nullability import Nullability
from creditgate.features import DerivedField, by_name, consent_of, derived_fields
from creditgate.policy.by_bin import by_points
from creditgate.policy.nodes import (
    Action,
    Add,
    And,
    AsOf,
    Case,
    CmpOp,
    Coalesce,
    Compare,
    Condition,
    Elapsed,
    Expr,
    Field,
    Gate,
    InSet,
    IsNull,
    LimitRow,
    Literal,
    Logistic,
    Not,
    Or,
    Outcome,
    Policy,
    Ref,
    RegionStatus,
    ScoreFeature,
)
from creditgate.policy.passes import optimize
from creditgate.policy.reason_order import ReasonSlot, reason_slots
from creditgate.policy.schedule import open_expr
from creditgate.population.regions import RegionTable
from creditgate.schema import PROFILE_FIELDS, Consent
from creditgate.timeutil import Unit

FALSE = Literal(False)


@dataclass(frozen=True, slots=True)
class Binding:
    name: str
    expr: Expr


@dataclass(frozen=True)
class Prepared:
    """What engines compile: the bindings after ``passes.optimize`` (same names, same values)
    and whether each binding may be NULL for a valid input, both computed once."""

    bindings: tuple[Binding, ...]
    nullable: Mapping[str, bool]


def prepare(bindings: tuple[Binding, ...], field_nullable: Callable[[str], bool]) -> Prepared:
    """Run the IR passes over ``bindings`` and annotate each with its nullability (a binding
    is NULL-able when its optimized expression is, given the input fields' nullability). A
    binding a partial program reads from outside (computed earlier, ``batch.decisions``) may
    be NULL."""
    nullable: dict[str, bool] = {}
    null = Nullability(lambda name: nullable.get(name, True), field_nullable)
    out: list[Binding] = []
    for b in bindings:
        expr = optimize(b.expr)
        nullable[b.name] = null.visit(expr)
        out.append(Binding(b.name, expr))
    return Prepared(tuple(out), nullable)


@dataclass(frozen=True)
class Program:
    """What every engine evaluates: ``bindings`` in order, each visible to later ones."""

    policy: Policy
    bindings: tuple[Binding, ...]
    derived: Mapping[str, DerivedField]
    reasons: tuple[ReasonSlot, ...] = ()  # reason codes and the bindings holding their order
    regions: RegionTable | None = None  # the table it was lowered with (schedule wording)

    def index(self, name: str) -> int:
        return next(i for i, b in enumerate(self.bindings) if b.name == name)

    @cached_property
    def prepared(self) -> Prepared:
        """The bindings as engines compile them, with their nullability (``prepare``)."""
        return prepare(self.bindings, self.field_nullable)

    @property
    def name(self) -> str:
        return self.policy.name

    def field_nullable(self, name: str) -> bool:
        """Validated profiles are NULL only where the contract allows it."""
        return PROFILE_FIELDS[name].nullable

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(b.name for b in self.bindings)

    @property
    def positions(self) -> dict[str, int]:
        """Each binding's position in the values an engine returns."""
        return {b.name: i for i, b in enumerate(self.bindings)}


def operand(name: str, derived: Mapping[str, DerivedField]) -> Expr:
    """A raw field reads the input; a derived one reads its binding."""
    if name in PROFILE_FIELDS:
        return Field(name)
    if name in derived:
        return Ref(name)
    raise KeyError(name)


def condition_expr(cond: Condition | Gate, derived: Mapping[str, DerivedField]) -> Expr:
    """``field op value`` or membership, NULL when the field is NULL (SQL semantics)."""
    left = operand(cond.field, derived)
    if cond.op is None:
        member: Expr = InSet(left, cond.values)
        return Not(member) if cond.negate_values else member
    return Compare(cond.op, left, Literal(cond.value))


def consent_guard(fields: list[str], derived: Mapping[str, DerivedField]) -> list[Expr]:
    """The consent flags that must be true before these fields may be processed."""
    needed = {consent_of(f, derived) for f in fields}
    return [Field(c.value) for c in (Consent.CREDIT, Consent.BEHAVIOUR) if c in needed]


def guarded(guards: list[Expr], expr: Expr) -> Expr:
    return And((*guards, expr)) if guards else expr


def gate_failed(gate: Gate, derived: Mapping[str, DerivedField]) -> Expr:
    passed = Coalesce((condition_expr(gate, derived), Literal(gate.when_missing)))
    return guarded(consent_guard([gate.field], derived), Not(passed))


def bin_expr(feature: ScoreFeature, derived: Mapping[str, DerivedField]) -> Expr:
    """The index of the bin a value falls in (-1: missing or an unseen category)."""
    x = operand(feature.field, derived)
    whens: list[tuple[Expr, Expr]] = [(IsNull(x), Literal(-1))]
    for i, b in enumerate(feature.bins):
        if b.categories:
            cond: Expr = InSet(x, b.categories)
        elif b.upper is None:
            cond = Literal(True)
        else:
            cond = Compare(CmpOp.LT, x, Literal(b.upper))
        whens.append((cond, Literal(i)))
    return Case(tuple(whens), Literal(-1))


def points_expr(feature: ScoreFeature) -> Expr:
    """Points by bin index; missing values and unseen categories earn ``missing_points``."""
    return by_points(feature, Literal)


def lower(policy: Policy, regions: RegionTable) -> Program:
    """Reduce ``policy`` to primitive bindings (see module docstring for the names)."""
    fields = derived_fields(regions, policy.unknown_city)
    derived = by_name(fields)
    out: list[Binding] = [Binding(f.name, f.expr) for f in fields]
    decline: list[Expr] = []
    review: list[Expr] = []
    out.extend(held_bindings())

    for gate in policy.gates:
        out.append(Binding(f"fail.{gate.id}", gate_failed(gate, derived)))
        (review if gate.action is Action.REVIEW else decline).append(Ref(f"fail.{gate.id}"))

    closed = tuple(r.region_class for r in policy.regions if r.status is RegionStatus.CLOSED)
    shut: Expr = InSet(Ref("region_class"), closed)
    if policy.schedule:  # outside the provinces the schedule has opened, every class is closed
        out.append(Binding("region.scheduled", open_expr(policy, regions)))
        shut = Or((shut, Not(Ref("region.scheduled"))))
    # An unresolved region (possible only if validation was bypassed) counts as closed.
    out.append(Binding("fail.region_closed", Coalesce((shut, Literal(True)))))
    decline.append(Ref("fail.region_closed"))

    for rule in policy.fraud:
        fired = Coalesce(
            (
                And(tuple(condition_expr(c, derived) for c in rule.conditions)),
                Literal(rule.when_missing),
            )
        )
        out.append(Binding(f"fraud.{rule.id}", fired))
        (review if rule.action is Action.REVIEW else decline).append(Ref(f"fraud.{rule.id}"))

    card = policy.scorecard
    card_fields = [f.field for f in card.features]
    for feature in card.features:
        out.append(Binding(f"bin.{feature.name}", bin_expr(feature, derived)))
        out.append(Binding(f"points.{feature.name}", points_expr(feature)))
    total = Add((Literal(card.base_points), *(Ref(f"points.{f.name}") for f in card.features)))
    guards = consent_guard(card_fields, derived)
    out.append(
        Binding("score", Case(((And(tuple(guards)), total),), Literal(None)) if guards else total)
    )
    out.append(Binding("pd", Logistic(Ref("score"), *pd_scale(policy))))
    cutoff_whens = tuple(
        (Compare(CmpOp.EQ, Ref("region_class"), Literal(c)), Literal(v)) for c, v in card.cutoffs
    )
    out.append(Binding("cutoff", Case(cutoff_whens, Literal(None))))
    below: Expr = Coalesce((Compare(CmpOp.LT, Ref("score"), Ref("cutoff")), FALSE))
    if policy.stability.active:
        # Every gate, the region and every fraud rule so far: what ends an invitation at once.
        out.extend(stability_bindings(policy, Or((*decline, *review))))
        below = And((below, Not(Ref("retain.floor"))))
    out.append(Binding("fail.score", below))
    near = Compare(CmpOp.GE, Add((Ref("score"), Literal(card.review_band))), Ref("cutoff"))
    out.append(Binding("review.score", And((Ref("fail.score"), Coalesce((near, FALSE))))))
    # Partly open regions ask for more than open ones: below the regional cutoff but above the
    # open one, the region's quota is what stands in the way.
    out.append(
        Binding(
            "quota.score",
            And(
                (
                    Ref("fail.score"),
                    Coalesce(
                        (Compare(CmpOp.GE, Ref("score"), Literal(open_cutoff(policy))), FALSE)
                    ),
                )
            ),
        )
    )
    decline.append(And((Ref("fail.score"), Not(Ref("review.score")))))
    review.append(Ref("review.score"))

    segment_whens = tuple(
        (
            And(tuple(condition_expr(c, derived) for c in s.when)) if s.when else Literal(True),
            Literal(s.name),
        )
        for s in policy.offer.segments
    )
    out.append(Binding("segment", Case(segment_whens, Literal(None))))
    referred = tuple(s.name for s in policy.offer.segments if s.refer)
    out.append(Binding("refer.segment", Coalesce((InSet(Ref("segment"), referred), FALSE))))

    by_policy = Case(
        (
            (Or(tuple(decline)), Literal(Outcome.NOT_INVITED.value)),
            (Or(tuple(review)), Literal(Outcome.MANUAL_REVIEW.value)),
            (Ref("refer.segment"), Literal(Outcome.REFERRED.value)),
        ),
        Literal(Outcome.INVITED.value),
    )
    capacity = bool(card.capacity_cutoffs)
    if capacity:
        out.append(Binding("outcome.policy", by_policy))
        out.extend(capacity_bindings(policy, regions))
        cut = Literal(Outcome.NOT_INVITED.value)
        by_policy = Case(((Ref("cut.capacity"), cut),), Ref("outcome.policy"))
    out.append(Binding("outcome", by_policy))
    out.extend(offer_bindings(policy, derived, capacity))
    out.extend(entry_bindings(policy, capacity))
    keys, slots = reason_slots(policy, capacity)
    out.extend(Binding(name, expr) for name, expr in keys)
    return Program(policy, tuple(out), derived, tuple(slots), regions)


def capacity_bindings(policy: Policy, regions: RegionTable) -> list[Binding]:
    """A snapshot's cut: invited under the policy, but below the cutoff that filled the
    capacity (open regions: CAPACITY) or the regional quota (partial regions: REGION_QUOTA).
    ``cutoff.capacity`` is the user's city's cutoff where the snapshot has one, else the
    class's: per class a CASE over the city (each value one ``IN`` of the spellings of the
    cities sharing it), which the row engine turns into one dict lookup."""
    by_value: dict[str, dict[int, list[str]]] = {}
    for c, city, v in policy.scorecard.capacity_city_cutoffs:
        by_value.setdefault(c, {}).setdefault(v, []).append(city)
    whens: list[tuple[Expr, Expr]] = []
    by_class: dict[str, int | None] = dict(policy.scorecard.capacity_cutoffs)
    for c in sorted(by_value.keys() - by_class.keys()):
        by_class[c] = None  # city cutoffs alone: the class's other cities are not cut
    for c, class_cut in sorted(by_class.items()):
        result: Expr = Literal(class_cut)
        if c in by_value:
            cities = tuple(
                (InSet(Field("city"), regions.spellings(names)), Literal(cut))
                for cut, names in sorted(by_value[c].items())
            )
            result = Case(cities, Literal(class_cut))
        whens.append((Compare(CmpOp.EQ, Ref("region_class"), Literal(c)), result))
    invited = Compare(CmpOp.EQ, Ref("outcome.policy"), Literal(Outcome.INVITED.value))
    below: Expr = Coalesce((Compare(CmpOp.LT, Ref("score"), Ref("cutoff.capacity")), FALSE))
    if policy.stability.active:
        below = And((below, Not(retained_at(policy, Ref("cutoff.capacity")))))
    partial = tuple(r.region_class for r in policy.regions if r.status is RegionStatus.PARTIAL)
    in_partial = Coalesce((InSet(Ref("region_class"), partial), FALSE))
    return [
        Binding("cutoff.capacity", Case(tuple(whens), Literal(None))),
        Binding("cut.capacity", And((invited, below))),
        Binding("fail.region_quota", And((Ref("cut.capacity"), in_partial))),
        Binding("fail.capacity", And((Ref("cut.capacity"), Not(in_partial)))),
    ]


def held_bindings() -> list[Binding]:
    """What the lender already knows, read once from the profile's optional fields (so the
    bindings a snapshot's cutoffs change read bindings, never a field a staged table may not
    carry): an outstanding loan, and the invitation the whitelist in force holds."""
    since = Field("invited_since")
    return [
        Binding("held.loan", Coalesce((Field("has_outstanding_loan"), FALSE))),
        Binding("held.invited", Not(IsNull(since))),
        Binding("held.days", Elapsed(since, Unit.DAYS)),
        Binding("held.limit", Field("invited_limit_cny")),
        Binding("held.since", since),
    ]


def stability_bindings(policy: Policy, hard: Expr) -> list[Binding]:
    """``retain.floor``: an invitation the policy's floor would end, kept by the hysteresis
    (``nodes.Stability``). ``stable.held``: invited by the whitelist in force and no gate,
    region or fraud rule fails now (``hard``); ``stable.recent``: within ``min_days`` of the
    invitation."""
    days = Literal(policy.stability.min_days)
    return [
        Binding("stable.held", And((Ref("held.invited"), Not(Coalesce((hard, FALSE)))))),
        Binding("stable.recent", Coalesce((Compare(CmpOp.LT, Ref("held.days"), days), FALSE))),
        Binding("retain.floor", retained_at(policy, Ref("cutoff"))),
    ]


def retained_at(policy: Policy, cutoff: Expr) -> Expr:
    """Held, and recent or at most ``band`` points under ``cutoff`` (the floor, or the
    snapshot's capacity or quota cutoff): enter at the cutoff, leave ``band`` points under."""
    near = Compare(CmpOp.GE, Add((Ref("score"), Literal(policy.stability.band))), cutoff)
    kept = Or((Ref("stable.recent"), Coalesce((near, FALSE))))
    return And((Ref("stable.held"), kept))


def entry_bindings(policy: Policy, capacity: bool) -> list[Binding]:
    """What the user's app shows and what must be notified (docs/policy.md, "stability"):

    - ``entry``: ``offer`` (invited), ``servicing`` (not invited but a loan is outstanding:
      repayment and servicing stay reachable, no new drawing) or ``hidden``;
    - ``retained``: invited only because the hysteresis kept an earlier invitation;
    - ``limit.reduced``: invited with a smaller line than the one held (a notified change);
    - ``withdrawn``: held an invitation and is not invited now (a notified change);
    - ``invited_since``: when the invitation an invited user holds began (the one held, or
      today's evaluation date for a new one); what the next refresh reads back."""
    invited = Compare(CmpOp.EQ, Ref("outcome"), Literal(Outcome.INVITED.value))
    entry = Case(
        ((invited, Literal("offer")), (Ref("held.loan"), Literal("servicing"))), Literal("hidden")
    )
    if policy.stability.active:
        cut: list[Expr] = [Coalesce((Compare(CmpOp.LT, Ref("score"), Ref("cutoff")), FALSE))]
        if capacity:
            below = Compare(CmpOp.LT, Ref("score"), Ref("cutoff.capacity"))
            cut.append(Coalesce((below, FALSE)))
        retained: Expr = And((invited, Or(tuple(cut))))
    else:
        retained = FALSE
    smaller = Coalesce((Compare(CmpOp.LT, Ref("limit_cny"), Ref("held.limit")), FALSE))
    none = Literal(None)
    return [
        Binding("entry", entry),
        Binding("retained", retained),
        Binding("limit.reduced", And((invited, Ref("held.invited"), smaller))),
        Binding("withdrawn", And((Ref("held.invited"), Not(invited)))),
        Binding("invited_since", Case(((invited, Coalesce((Ref("held.since"), AsOf()))),), none)),
    ]


def open_cutoff(policy: Policy) -> int:
    """The lowest cutoff of a fully open region class: the bar without quota pressure."""
    open_classes = {r.region_class for r in policy.regions if r.status is RegionStatus.OPEN}
    return min(v for c, v in policy.scorecard.cutoffs if c in open_classes)


def pd_scale(policy: Policy) -> tuple[float, float]:
    """(offset, scale) so that ``pd = 1 / (1 + exp((score - offset) / scale))``."""
    import math

    s = policy.scorecard.scaling
    factor = s.pdo / math.log(2)
    return s.base_score - factor * math.log(s.base_odds), factor


def limit_row_expr(row: LimitRow, derived: Mapping[str, DerivedField]) -> Expr:
    """Score at least the row's bar and every condition true; a condition's data is read only
    under the consent that covers it (unconsented, the row does not match)."""
    at_least = Compare(CmpOp.GE, Ref("score"), Literal(row.min_score))
    if not row.when:
        return at_least
    guards = consent_guard([c.field for c in row.when], derived)
    return And((at_least, *guards, *(condition_expr(c, derived) for c in row.when)))


def offer_bindings(
    policy: Policy, derived: Mapping[str, DerivedField], capacity: bool
) -> list[Binding]:
    """Limit and price only for invited users; apr is folded from the daily rate.

    A segment's limit rows become one searched CASE in file order (first match wins),
    ``limit.policy``, computed for users the policy itself invites: it reads profile fields, so
    it must not depend on a snapshot's cut (the batch computes such bindings in its one scan of
    the input and stages them; see ``batch.decisions.split``). ``limit_cny`` keeps it for the
    users finally invited. A user the hysteresis keeps under the floor, whom no row reaches,
    gets the smallest line (``offer.min_limit``)."""
    offer = policy.offer
    invited = Compare(CmpOp.EQ, Ref("outcome"), Literal(Outcome.INVITED.value))
    by_policy = Ref("outcome.policy" if capacity else "outcome")
    invited_by_policy = Compare(CmpOp.EQ, by_policy, Literal(Outcome.INVITED.value))
    limit_whens: list[tuple[Expr, Expr]] = []
    for seg in offer.segments:
        is_seg = Compare(CmpOp.EQ, Ref("segment"), Literal(seg.name))
        for row in seg.limits:
            clipped = max(offer.min_limit, min(offer.max_limit, row.limit))
            limit_whens.append((And((is_seg, limit_row_expr(row, derived))), Literal(clipped)))
    rate_whens: list[tuple[Expr, Expr]] = []
    apr_whens: list[tuple[Expr, Expr]] = []
    for band in offer.prices:
        cond = Compare(CmpOp.GE, Ref("score"), Literal(band.min_score))
        rate_whens.append((cond, Literal(band.daily_rate)))
        apr_whens.append((cond, Literal(band.daily_rate * offer.days_per_year)))
    none = Literal(None)
    by_row: Expr = Case(tuple(limit_whens), none)
    if policy.stability.active:  # kept under the floor, no row may reach: the smallest line
        by_row = Coalesce((by_row, Case(((Ref("retain.floor"), Literal(offer.min_limit)),), none)))
    matrix = Case(((invited_by_policy, by_row),), none)
    return [
        Binding("limit.policy", matrix),
        Binding("limit_cny", Case(((invited, Ref("limit.policy")),), none)),
        Binding("daily_rate", Case(((invited, Case(tuple(rate_whens), none)),), none)),
        Binding("apr", Case(((invited, Case(tuple(apr_whens), none)),), none)),
    ]


def walk(expr: Expr) -> Iterator[Expr]:
    """``expr`` and every expression inside it (``Expr.children``), depth first."""
    yield expr
    for child in expr.children():
        yield from walk(child)


def refs(expr: Expr) -> set[str]:
    """Names of the bindings an expression reads."""
    return {e.name for e in walk(expr) if isinstance(e, Ref)}


def fields_read(expr: Expr) -> set[str]:
    """The input fields an expression reads directly."""
    return {e.name for e in walk(expr) if isinstance(e, Field)}


def slice_program(program: Program, outputs: list[str]) -> Program:
    """Only the bindings ``outputs`` depend on, in order: a smaller program for re-scoring."""
    needed = set(outputs)
    for binding in reversed(program.bindings):
        if binding.name in needed:
            needed |= refs(binding.expr)
    kept = tuple(b for b in program.bindings if b.name in needed)
    # no reasons: a slice has no keys
    return Program(program.policy, kept, program.derived, regions=program.regions)
