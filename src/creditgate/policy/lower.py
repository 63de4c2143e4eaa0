"""Lower a policy to a *program*: named primitive expressions in dependency order.

Every engine compiles the same program, so a rule exists once. Bins become searched CASEs,
the scorecard a sum of them, gates become "failed" booleans with consent and NULL treatment
folded in, and the outcome a CASE over those, exactly as ``ibis`` lowers ``bucket`` to CASE.
Bindings are named by typed keys (``policy.bindings``: ``GateFailed(gate id)``,
``BinIndex(feature)``, ``Fixed.SCORE``...), which render their stable column names in one place.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property

from creditgate.features import DerivedField, by_name, consent_of, derived_fields
from creditgate.policy.bindings import Binding as Binding  # re-exported: engines import it here
from creditgate.policy.bindings import (
    BinIndex,
    Fixed,
    FraudFired,
    GateFailed,
    Key,
    PairBin,
    PairPoints,
    Points,
    Scope,
)
from creditgate.policy.by_bin import MISSING_BIN, SPECIAL_BIN, by_points
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
    PairAxis,
    Policy,
    Ref,
    RegionStatus,
    Scaling,
    ScoreFeature,
    ScorePair,
    Type,
)
from creditgate.policy.passes import optimize
from creditgate.policy.product_lowering import product_bindings
from creditgate.policy.reason_order import ReasonSlot, reason_slots
from creditgate.policy.schedule import open_expr
from creditgate.population.regions import RegionTable
from creditgate.schema import BUSINESS_PURPOSES, PROFILE_FIELDS, Consent
from creditgate.timeutil import Unit

FALSE = Literal(False)


@dataclass(frozen=True)
class Prepared:
    """What engines compile: the bindings after ``passes.optimize`` (same names, same values),
    computed once. Each expression knows its own type and nullability (``nodes``)."""

    bindings: tuple[Binding, ...]

    @property
    def nullable(self) -> Mapping[str, bool]:
        """Whether each binding may be NULL for a valid input."""
        return {b.name: b.expr.nullable for b in self.bindings}


def prepare(bindings: tuple[Binding, ...]) -> Prepared:
    """Run the IR passes over ``bindings`` (where lowering has not: ``Binding.optimized``)."""
    return Prepared(
        tuple(
            Binding(b.name, optimize(b.expr) if b.optimized is None else b.optimized)
            for b in bindings
        )
    )


class Bound:
    """Named bindings in order, each visible to later ones, addressed by key: what every
    program is, a policy's (``Program``) or a trained card's (``scorecard.lowering``)."""

    bindings: tuple[Binding, ...]

    def index(self, name: str) -> int:
        return next(i for i, b in enumerate(self.bindings) if b.name == name)

    def at(self, key: Key) -> int:
        """The position of ``key``'s binding in the values an engine returns."""
        return self.index(key.column)

    @cached_property
    def prepared(self) -> Prepared:
        """The bindings as engines compile them (``prepare``)."""
        return prepare(self.bindings)

    @cached_property
    def scope(self) -> Scope:
        """Every binding's facts: what an expression over this program's bindings reads
        them with (``Scope.ref``), e.g. the lab's funnel steps."""
        return Scope({b.name: (b.expr.type, b.expr.nullable) for b in self.prepared.bindings})

    def has(self, key: Key) -> bool:
        return any(b.name == key.column for b in self.bindings)

    def expr(self, key: Key) -> Expr:
        return self.bindings[self.at(key)].expr

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(b.name for b in self.bindings)

    @property
    def positions(self) -> dict[str, int]:
        """Each binding's position in the values an engine returns."""
        return {b.name: i for i, b in enumerate(self.bindings)}


@dataclass(frozen=True)
class Program(Bound):
    """What every engine evaluates for a policy: ``bindings`` in order (``Bound``)."""

    policy: Policy
    bindings: tuple[Binding, ...]
    derived: Mapping[str, DerivedField]
    reasons: tuple[ReasonSlot, ...] = ()  # reason codes and the bindings holding their order
    regions: RegionTable | None = None  # the table it was lowered with (schedule wording)

    def gate(self, key: GateFailed) -> Gate:
        """The gate whose failure ``key`` binds (a reason slot's ``subject``)."""
        return next(g for g in self.policy.gates if g.id == key.gate_id)

    def feature(self, key: BinIndex | Points) -> ScoreFeature:
        """The scorecard feature whose bin or points ``key`` binds."""
        return next(f for f in self.policy.scorecard.features if f.name == key.feature)

    @property
    def capacity(self) -> bool:
        """Whether a snapshot's capacity and quota cutoffs cut (``cut_at``)."""
        return self.has(Fixed.CAPACITY_CUTOFF)

    def cut_at(self, policy: Policy) -> Program:
        """This program under ``policy``, which differs from its own in the snapshot's
        capacity and quota cutoffs alone: the one binding that reads them
        (``cutoff.capacity``) is rebuilt, every other binding is this program's own. A batch
        lowers a policy once, with cutoffs to be derived, and cuts it at the derived ones."""
        if _uncut(policy) != _uncut(self.policy):
            raise ValueError(f"{self.name}: a policy differing beyond its capacity cutoffs")
        if not self.capacity or self.regions is None:
            if policy.scorecard.capacity_cutoffs or policy.scorecard.capacity_city_cutoffs:
                raise ValueError(f"{self.name}: lowered without capacity cutoffs")
            return replace(self, policy=policy)  # nothing to cut (every class closed)
        bindings = list(self.bindings)
        cut = capacity_cutoff(self.scope, policy, self.regions)
        done, (kind, nullable) = optimize(cut), self.scope.facts[Fixed.CAPACITY_CUTOFF.column]
        if done.type not in (kind, Type.NULL) or done.nullable > nullable:  # as its Refs read
            raise ValueError(f"{self.name}: capacity cutoffs of another type")
        bindings[self.at(Fixed.CAPACITY_CUTOFF)] = Binding(Fixed.CAPACITY_CUTOFF.column, cut)
        return replace(self, policy=policy, bindings=tuple(bindings))

    @property
    def reasons_from(self) -> int:
        """Where the reason keys begin: every binding from here on orders reasons."""
        return self.at(self.reasons[0].key) if self.reasons else len(self.bindings)

    @property
    def name(self) -> str:
        return self.policy.name


def _uncut(policy: Policy) -> Policy:
    """``policy`` without a snapshot's capacity cutoffs."""
    card = replace(
        policy.scorecard, capacity_cutoffs=(), capacity_city_cutoffs=(), capacity_as_of=None
    )
    return replace(policy, scorecard=card)


def operand(scope: Scope, name: str, derived: Mapping[str, DerivedField]) -> Expr:
    """A raw field reads the input; a derived one reads its binding."""
    if name in PROFILE_FIELDS:
        return Field.of(name)
    if name in derived:
        return scope.ref(name)
    raise KeyError(name)


def condition_expr(
    scope: Scope, cond: Condition | Gate, derived: Mapping[str, DerivedField]
) -> Expr:
    """``field op value`` or membership, NULL when the field is NULL (SQL semantics)."""
    left = operand(scope, cond.field, derived)
    if cond.op is None:
        member: Expr = InSet(left, cond.values)
        return Not(member) if cond.negate_values else member
    return Compare(cond.op, left, Literal(cond.value))


def consent_guard(fields: list[str], derived: Mapping[str, DerivedField]) -> list[Expr]:
    """The consent flags that must be true before these fields may be processed."""
    needed = {consent_of(f, derived) for f in fields}
    return [Field.of(c.value) for c in (Consent.CREDIT, Consent.BEHAVIOUR) if c in needed]


def guarded(guards: list[Expr], expr: Expr) -> Expr:
    return And((*guards, expr)) if guards else expr


def gate_failed(scope: Scope, gate: Gate, derived: Mapping[str, DerivedField]) -> Expr:
    passed = Coalesce((condition_expr(scope, gate, derived), Literal(gate.when_missing)))
    return guarded(consent_guard([gate.field], derived), Not(passed))


def group_failed(
    scope: Scope, group: tuple[Gate, ...], derived: Mapping[str, DerivedField]
) -> Expr:
    """A gate's failure: its own, or (an any-of group) every gate of its group failing."""
    if len(group) == 1:
        return gate_failed(scope, group[0], derived)
    return And(tuple(gate_failed(scope, g, derived) for g in group))


def bin_expr(feature: ScoreFeature | PairAxis, x: Expr) -> Expr:
    """The index of the bin value ``x`` falls in (``MISSING_BIN``: missing or an unseen
    category; ``SPECIAL_BIN``: one of a trained card's special values)."""
    whens: list[tuple[Expr, Expr]] = [(IsNull(x), Literal(MISSING_BIN))]
    if feature.special_values:
        whens.append((InSet(x, feature.special_values), Literal(SPECIAL_BIN)))
    for i, b in enumerate(feature.bins):
        if b.categories:
            cond: Expr = InSet(x, b.categories)
        elif b.upper is None:
            cond = Literal(True)
        else:
            cond = Compare(CmpOp.LT, x, Literal(b.upper))
        whens.append((cond, Literal(i)))
    return Case(tuple(whens), Literal(MISSING_BIN))


def points_expr(scope: Scope, feature: ScoreFeature) -> Expr:
    """Points by bin index; missing values and unseen categories earn ``missing_points``."""
    return by_points(scope, feature, Literal)


def pair_points_expr(scope: Scope, pair: ScorePair) -> Expr:
    """A pair's points as nested CASEs on its two axis indices (any index that is not a bin:
    row or column 0, the missing one), the same node kinds a feature's points use."""
    first, second = scope.ref(PairBin(pair.name, 0)), scope.ref(PairBin(pair.name, 1))

    def row(r: int) -> Expr:
        cells = pair.points[r]
        whens = tuple(
            (Compare(CmpOp.EQ, second, Literal(j)), Literal(cells[j + 1]))
            for j in range(len(pair.axes[1].bins))
        )
        return Case(whens, Literal(cells[0]))

    rows = tuple(
        (Compare(CmpOp.EQ, first, Literal(i)), row(i + 1)) for i in range(len(pair.axes[0].bins))
    )
    return Case(rows, row(0))


def pair_bindings(scope: Scope, pair: ScorePair, read: Callable[[str], Expr]) -> list[Binding]:
    """``pairbin.<pair>.0``, ``pairbin.<pair>.1`` (each axis's bin index, as ``bin_expr``
    gives a feature's) and ``pairpoints.<pair>``."""
    out = [
        scope.bind(PairBin(pair.name, k), bin_expr(axis, read(axis.field)))
        for k, axis in enumerate(pair.axes)
    ]
    out.append(scope.bind(PairPoints(pair.name), pair_points_expr(scope, pair)))
    return out


def score_bindings(
    scope: Scope,
    features: Sequence[ScoreFeature],
    base_points: int,
    scaling: Scaling,
    read: Callable[[str], Expr],
    guards: Sequence[Expr] = (),
    pairs: Sequence[ScorePair] = (),
) -> list[Binding]:
    """The score nodes of any scorecard, a policy's or a trained one: per feature
    ``bin.<feature>`` (the value ``read`` gives for its field) and ``points.<feature>``, per
    pairwise table its axes' bins and points (``pair_bindings``), then ``score`` (NULL unless
    every one of ``guards`` holds) and ``pd``."""
    out: list[Binding] = []
    for feature in features:
        out.append(scope.bind(BinIndex(feature.name), bin_expr(feature, read(feature.field))))
        out.append(scope.bind(Points(feature.name), points_expr(scope, feature)))
    for pair in pairs:
        out.extend(pair_bindings(scope, pair, read))
    parts = (
        *(scope.ref(Points(f.name)) for f in features),
        *(scope.ref(PairPoints(p.name)) for p in pairs),
    )
    total = Add((Literal(base_points), *parts))
    score = Case(((And(tuple(guards)), total),), Literal(None)) if guards else total
    out.append(scope.bind(Fixed.SCORE, score))
    out.append(scope.bind(Fixed.PD, Logistic(scope.ref(Fixed.SCORE), *pd_scale(scaling))))
    return out


def lower(policy: Policy, regions: RegionTable) -> Program:
    """Reduce ``policy`` to primitive bindings (see module docstring for the names)."""
    fields = derived_fields(regions, policy.unknown_city)
    derived = by_name(fields)
    scope = Scope()
    out: list[Binding] = [scope.bind(f.name, f.expr) for f in fields]
    decline: list[Expr] = []
    review: list[Expr] = []
    out.extend(held_bindings(scope))

    for gate in policy.gates:
        group = policy.group_of(gate)
        # A gate of a group fails when it fails and so does its group: the group's failure is
        # computed once, by its first gate; the others read it beside their own test (so no
        # two bindings are alike, which a program merge would fold into one).
        failed = group_failed(scope, group, derived)
        if gate is not group[0]:
            failed = And((scope.ref(GateFailed(group[0].id)), gate_failed(scope, gate, derived)))
        out.append(scope.bind(GateFailed(gate.id), failed))
        (review if gate.action is Action.REVIEW else decline).append(scope.ref(GateFailed(gate.id)))

    closed = tuple(r.region_class for r in policy.regions if r.status is RegionStatus.CLOSED)
    shut: Expr = InSet(scope.ref("region_class"), closed)
    if policy.schedule:  # outside the provinces the schedule has opened, every class is closed
        out.append(scope.bind(Fixed.REGION_SCHEDULED, open_expr(policy, regions)))
        shut = Or((shut, Not(scope.ref(Fixed.REGION_SCHEDULED))))
    # An unresolved region (possible only if validation was bypassed) counts as closed.
    out.append(scope.bind(Fixed.REGION_CLOSED, Coalesce((shut, Literal(True)))))
    decline.append(scope.ref(Fixed.REGION_CLOSED))

    for rule in policy.fraud:
        fired = Coalesce(
            (
                And(tuple(condition_expr(scope, c, derived) for c in rule.conditions)),
                Literal(rule.when_missing),
            )
        )
        out.append(scope.bind(FraudFired(rule.id), fired))
        (review if rule.action is Action.REVIEW else decline).append(scope.ref(FraudFired(rule.id)))

    card = policy.scorecard
    guards = consent_guard([f.field for f in card.features], derived)
    out.extend(
        score_bindings(
            scope,
            card.features,
            card.base_points,
            card.scaling,
            lambda name: operand(scope, name, derived),
            guards,
            card.pairs,
        )
    )
    cutoff_whens = tuple(
        (Compare(CmpOp.EQ, scope.ref("region_class"), Literal(c)), Literal(v))
        for c, v in card.cutoffs
    )
    out.append(scope.bind(Fixed.CUTOFF, Case(cutoff_whens, Literal(None))))
    below: Expr = Coalesce(
        (Compare(CmpOp.LT, scope.ref(Fixed.SCORE), scope.ref(Fixed.CUTOFF)), FALSE)
    )
    if policy.stability.active:
        # Every gate, the region and every fraud rule so far: what ends an invitation at once.
        out.extend(stability_bindings(scope, policy, Or((*decline, *review))))
        below = And((below, Not(scope.ref(Fixed.RETAIN_FLOOR))))
    out.append(scope.bind(Fixed.SCORE_FAILED, below))
    near = Compare(
        CmpOp.GE, Add((scope.ref(Fixed.SCORE), Literal(card.review_band))), scope.ref(Fixed.CUTOFF)
    )
    out.append(
        scope.bind(
            Fixed.SCORE_REVIEW, And((scope.ref(Fixed.SCORE_FAILED), Coalesce((near, FALSE))))
        )
    )
    # Partly open regions ask for more than open ones: below the regional cutoff but above the
    # open one, the region's quota is what stands in the way.
    out.append(
        scope.bind(
            Fixed.SCORE_QUOTA,
            And(
                (
                    scope.ref(Fixed.SCORE_FAILED),
                    Coalesce(
                        (
                            Compare(CmpOp.GE, scope.ref(Fixed.SCORE), Literal(open_cutoff(policy))),
                            FALSE,
                        )
                    ),
                )
            ),
        )
    )
    decline.append(And((scope.ref(Fixed.SCORE_FAILED), Not(scope.ref(Fixed.SCORE_REVIEW)))))
    review.append(scope.ref(Fixed.SCORE_REVIEW))

    segment_whens = tuple(
        (
            And(tuple(condition_expr(scope, c, derived) for c in s.when))
            if s.when
            else Literal(True),
            Literal(s.name),
        )
        for s in policy.offer.segments
    )
    out.append(scope.bind(Fixed.SEGMENT, Case(segment_whens, Literal(None))))
    referred = tuple(s.name for s in policy.offer.segments if s.refer)
    # A segment the product does not fit, or a stated business purpose: the family is for
    # personal consumption, so either is referred to business loans (``loan_purpose``).
    business = InSet(Field.of("loan_purpose"), BUSINESS_PURPOSES)
    refer = Or((InSet(scope.ref(Fixed.SEGMENT), referred), business))
    out.append(scope.bind(Fixed.REFERRED, Coalesce((refer, FALSE))))

    by_policy = Case(
        (
            (Or(tuple(decline)), Literal(Outcome.NOT_INVITED.value)),
            (Or(tuple(review)), Literal(Outcome.MANUAL_REVIEW.value)),
            (scope.ref(Fixed.REFERRED), Literal(Outcome.REFERRED.value)),
        ),
        Literal(Outcome.INVITED.value),
    )
    capacity = bool(card.capacity_cutoffs)
    if capacity:
        out.append(scope.bind(Fixed.POLICY_OUTCOME, by_policy))
        out.extend(capacity_bindings(scope, policy, regions))
        cut = Literal(Outcome.NOT_INVITED.value)
        by_policy = Case(((scope.ref(Fixed.CUT), cut),), scope.ref(Fixed.POLICY_OUTCOME))
    out.append(scope.bind(Fixed.OUTCOME, by_policy))
    out.extend(offer_bindings(scope, policy, derived, capacity))
    out.extend(entry_bindings(scope, policy, capacity))
    family = product_bindings(scope, policy, lambda gate: gate_failed(scope, gate, derived))
    out.extend(scope.bind(key, expr) for key, expr in family)
    keys, slots = reason_slots(scope, policy, capacity)
    out.extend(scope.bind(key, expr) for key, expr in keys)
    return Program(policy, tuple(out), derived, tuple(slots), regions)


def capacity_cutoff(scope: Scope, policy: Policy, regions: RegionTable) -> Expr:
    """``cutoff.capacity``: the user's city's cutoff where the snapshot has one, else the
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
                (InSet(Field.of("city"), regions.spellings(names)), Literal(cut))
                for cut, names in sorted(by_value[c].items())
            )
            result = Case(cities, Literal(class_cut))
        whens.append((Compare(CmpOp.EQ, scope.ref("region_class"), Literal(c)), result))
    return Case(tuple(whens), Literal(None)) if whens else Literal(None)


def capacity_bindings(scope: Scope, policy: Policy, regions: RegionTable) -> list[Binding]:
    """A snapshot's cut: invited under the policy, but below the cutoff that filled the
    capacity (open regions: CAPACITY) or the regional quota (partial regions: REGION_QUOTA).
    Only ``cutoff.capacity`` (``capacity_cutoff``) reads the cutoffs' values."""
    cutoff = scope.bind(Fixed.CAPACITY_CUTOFF, capacity_cutoff(scope, policy, regions))
    invited = Compare(CmpOp.EQ, scope.ref(Fixed.POLICY_OUTCOME), Literal(Outcome.INVITED.value))
    below: Expr = Coalesce(
        (Compare(CmpOp.LT, scope.ref(Fixed.SCORE), scope.ref(Fixed.CAPACITY_CUTOFF)), FALSE)
    )
    if policy.stability.active:
        below = And((below, Not(retained_at(scope, policy, scope.ref(Fixed.CAPACITY_CUTOFF)))))
    partial = tuple(r.region_class for r in policy.regions if r.status is RegionStatus.PARTIAL)
    in_partial = Coalesce((InSet(scope.ref("region_class"), partial), FALSE))
    return [
        cutoff,
        scope.bind(Fixed.CUT, And((invited, below))),
        scope.bind(Fixed.REGION_QUOTA, And((scope.ref(Fixed.CUT), in_partial))),
        scope.bind(Fixed.CAPACITY, And((scope.ref(Fixed.CUT), Not(in_partial)))),
    ]


def held_bindings(scope: Scope) -> list[Binding]:
    """What the lender already knows, read once from the profile's optional fields (so the
    bindings a snapshot's cutoffs change read bindings, never a field a staged table may not
    carry): an outstanding loan, and the invitation the whitelist in force holds."""
    since = Field.of("invited_since")
    return [
        scope.bind(Fixed.HELD_LOAN, Coalesce((Field.of("has_outstanding_loan"), FALSE))),
        scope.bind(Fixed.HELD_INVITED, Not(IsNull(since))),
        scope.bind(Fixed.HELD_DAYS, Elapsed(since, Unit.DAYS)),
        scope.bind(Fixed.HELD_LIMIT, Field.of("invited_limit_cny")),
        scope.bind(Fixed.HELD_SINCE, since),
    ]


def stability_bindings(scope: Scope, policy: Policy, hard: Expr) -> list[Binding]:
    """``retain.floor``: an invitation the policy's floor would end, kept by the hysteresis
    (``nodes.Stability``). ``stable.held``: invited by the whitelist in force and no gate,
    region or fraud rule fails now (``hard``); ``stable.recent``: within ``min_days`` of the
    invitation."""
    days = Literal(policy.stability.min_days)
    return [
        scope.bind(
            Fixed.STABLE_HELD, And((scope.ref(Fixed.HELD_INVITED), Not(Coalesce((hard, FALSE)))))
        ),
        scope.bind(
            Fixed.STABLE_RECENT,
            Coalesce((Compare(CmpOp.LT, scope.ref(Fixed.HELD_DAYS), days), FALSE)),
        ),
        scope.bind(Fixed.RETAIN_FLOOR, retained_at(scope, policy, scope.ref(Fixed.CUTOFF))),
    ]


def retained_at(scope: Scope, policy: Policy, cutoff: Expr) -> Expr:
    """Held, and recent or at most ``band`` points under ``cutoff`` (the floor, or the
    snapshot's capacity or quota cutoff): enter at the cutoff, leave ``band`` points under."""
    near = Compare(CmpOp.GE, Add((scope.ref(Fixed.SCORE), Literal(policy.stability.band))), cutoff)
    kept = Or((scope.ref(Fixed.STABLE_RECENT), Coalesce((near, FALSE))))
    return And((scope.ref(Fixed.STABLE_HELD), kept))


def entry_bindings(scope: Scope, policy: Policy, capacity: bool) -> list[Binding]:
    """What the user's app shows and what must be notified (docs/policy.md, "stability"):

    - ``entry``: ``offer`` (invited), ``servicing`` (not invited but a loan is outstanding:
      repayment and servicing stay reachable, no new drawing) or ``hidden``;
    - ``retained``: invited only because the hysteresis kept an earlier invitation;
    - ``limit.reduced``: invited with a smaller line than the one held (a notified change);
    - ``withdrawn``: held an invitation and is not invited now (a notified change);
    - ``invited_since``: when the invitation an invited user holds began (the one held, or
      today's evaluation date for a new one); what the next refresh reads back."""
    invited = Compare(CmpOp.EQ, scope.ref(Fixed.OUTCOME), Literal(Outcome.INVITED.value))
    entry = Case(
        ((invited, Literal("offer")), (scope.ref(Fixed.HELD_LOAN), Literal("servicing"))),
        Literal("hidden"),
    )
    if policy.stability.active:
        cut: list[Expr] = [
            Coalesce((Compare(CmpOp.LT, scope.ref(Fixed.SCORE), scope.ref(Fixed.CUTOFF)), FALSE))
        ]
        if capacity:
            below = Compare(CmpOp.LT, scope.ref(Fixed.SCORE), scope.ref(Fixed.CAPACITY_CUTOFF))
            cut.append(Coalesce((below, FALSE)))
        retained: Expr = And((invited, Or(tuple(cut))))
    else:
        retained = FALSE
    smaller = Coalesce(
        (Compare(CmpOp.LT, scope.ref(Fixed.LIMIT), scope.ref(Fixed.HELD_LIMIT)), FALSE)
    )
    none = Literal(None)
    return [
        scope.bind(Fixed.ENTRY, entry),
        scope.bind(Fixed.RETAINED, retained),
        scope.bind(Fixed.LIMIT_REDUCED, And((invited, scope.ref(Fixed.HELD_INVITED), smaller))),
        scope.bind(Fixed.WITHDRAWN, And((scope.ref(Fixed.HELD_INVITED), Not(invited)))),
        scope.bind(
            Fixed.INVITED_SINCE,
            Case(((invited, Coalesce((scope.ref(Fixed.HELD_SINCE), AsOf()))),), none),
        ),
    ]


def open_cutoff(policy: Policy) -> int:
    """The lowest cutoff of a fully open region class: the bar without quota pressure."""
    open_classes = {r.region_class for r in policy.regions if r.status is RegionStatus.OPEN}
    return min(v for c, v in policy.scorecard.cutoffs if c in open_classes)


def pd_scale(scaling: Scaling) -> tuple[float, float]:
    """(offset, scale) so that ``pd = 1 / (1 + exp((score - offset) / scale))`` (PDO
    scaling: ``score = offset + factor * ln(odds_good)``)."""
    factor = scaling.pdo / math.log(2)
    return scaling.base_score - factor * math.log(scaling.base_odds), factor


def limit_row_expr(scope: Scope, row: LimitRow, derived: Mapping[str, DerivedField]) -> Expr:
    """Score at least the row's bar and every condition true; a condition's data is read only
    under the consent that covers it (unconsented, the row does not match)."""
    at_least = Compare(CmpOp.GE, scope.ref(Fixed.SCORE), Literal(row.min_score))
    if not row.when:
        return at_least
    guards = consent_guard([c.field for c in row.when], derived)
    return And((at_least, *guards, *(condition_expr(scope, c, derived) for c in row.when)))


def offer_bindings(
    scope: Scope, policy: Policy, derived: Mapping[str, DerivedField], capacity: bool
) -> list[Binding]:
    """Limit and price only for invited users; apr is folded from the daily rate.

    A segment's limit rows become one searched CASE in file order (first match wins),
    ``limit.policy``, computed for users the policy itself invites: it reads profile fields, so
    it must not depend on a snapshot's cut (the batch computes such bindings in its one scan of
    the input and stages them; see ``batch.decisions.split``). ``limit_cny`` keeps it for the
    users finally invited. A user the hysteresis keeps under the floor, whom no row reaches,
    gets the smallest line (``offer.min_limit``)."""
    offer = policy.offer
    invited = Compare(CmpOp.EQ, scope.ref(Fixed.OUTCOME), Literal(Outcome.INVITED.value))
    by_policy = scope.ref(Fixed.POLICY_OUTCOME if capacity else Fixed.OUTCOME)
    invited_by_policy = Compare(CmpOp.EQ, by_policy, Literal(Outcome.INVITED.value))
    limit_whens: list[tuple[Expr, Expr]] = []
    for seg in offer.segments:
        is_seg = Compare(CmpOp.EQ, scope.ref(Fixed.SEGMENT), Literal(seg.name))
        for row in seg.limits:
            clipped = max(offer.min_limit, min(offer.max_limit, row.limit))
            limit_whens.append(
                (And((is_seg, limit_row_expr(scope, row, derived))), Literal(clipped))
            )
    rate_whens: list[tuple[Expr, Expr]] = []
    apr_whens: list[tuple[Expr, Expr]] = []
    for band in offer.prices:
        cond = Compare(CmpOp.GE, scope.ref(Fixed.SCORE), Literal(band.min_score))
        rate_whens.append((cond, Literal(band.daily_rate)))
        apr_whens.append((cond, Literal(band.daily_rate * offer.days_per_year)))
    none = Literal(None)
    by_row: Expr = Case(tuple(limit_whens), none)
    if policy.stability.active:  # kept under the floor, no row may reach: the smallest line
        by_row = Coalesce(
            (by_row, Case(((scope.ref(Fixed.RETAIN_FLOOR), Literal(offer.min_limit)),), none))
        )
    matrix = Case(((invited_by_policy, by_row),), none)
    return [
        scope.bind(Fixed.LIMIT_POLICY, matrix),
        scope.bind(Fixed.LIMIT, Case(((invited, scope.ref(Fixed.LIMIT_POLICY)),), none)),
        scope.bind(Fixed.DAILY_RATE, Case(((invited, Case(tuple(rate_whens), none)),), none)),
        scope.bind(Fixed.APR, Case(((invited, Case(tuple(apr_whens), none)),), none)),
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
