"""The order of reason codes, defined once as program bindings every engine compiles.

Each possible reason is a *slot*: a stable code and a binding ``reason.<n>`` that is NULL when
the reason does not apply and otherwise an integer sort key. Sorting the non-NULL keys gives
the reason list, so the row engine (``explain.reasons``) and the batch engines (an array
column) cannot disagree about which reasons fire or in which order.

Key = rank(action, layer, position, sub): declines before reviews before referrals, then the
policy's layer order, then file order. The score's principal factors follow the score reason
(``sub`` = 1 + the factor's rank by shortfall against its best bin, ties by scorecard order),
at most ``MAX_FACTORS`` of them; a factor whose code a failed gate already gives (the
hidden-weights group's LOW_SPEND...) is not given twice.
"""

from __future__ import annotations

from dataclasses import dataclass

from creditgate.policy.bindings import (
    Fixed,
    FraudFired,
    GateFailed,
    Key,
    Points,
    ReasonKey,
    ReasonOrder,
    ReasonRank,
    Scope,
)
from creditgate.policy.by_bin import by_points
from creditgate.policy.nodes import (
    Action,
    Add,
    And,
    Case,
    CmpOp,
    Coalesce,
    Compare,
    Expr,
    Layer,
    Literal,
    Not,
    Or,
    Policy,
    RegionStatus,
)

MAX_FACTORS = 4
ACTION_RANK = {Action.DECLINE: 0, Action.REVIEW: 1, Action.REFER: 2}
LAYER_RANK = {layer: i for i, layer in enumerate(Layer)}


class SlotKind:
    """What a slot explains; ``explain.reasons`` picks the wording by kind."""

    GATE = "gate"
    REGION_CLOSED = "region_closed"
    FRAUD = "fraud"
    SCORE = "score"
    FACTOR = "factor"
    REFER = "refer"
    CAPACITY = "capacity"


@dataclass(frozen=True, slots=True)
class ReasonSlot:
    """One possible reason: its code, the binding holding its sort key, what it explains.

    ``subject`` is the binding the reason is about, for GATE slots the gate's failure and for
    FACTOR slots the feature's points: ``Program.gate`` and ``Program.feature`` resolve it."""

    code: str
    key: ReasonKey
    kind: str
    subject: GateFailed | Points | None = None

    @property
    def binding(self) -> str:
        """The column of the binding holding the slot's sort key."""
        return self.key.column


def rank(action: Action, layer: Layer, position: int, sub: int = 0) -> int:
    """The sort key of a reason; positions and subs stay below 100 in any sane policy."""
    return ((ACTION_RANK[action] * 100 + LAYER_RANK[layer]) * 1000 + position) * 100 + sub


def _when(fired: Expr, key: Expr) -> Expr:
    """``key`` when ``fired`` is TRUE, else NULL (a NULL condition is not fired)."""
    return Case(((fired, key),), Literal(None))


def _factor_order(scope: Scope, policy: Policy, i: int) -> Expr:
    """Feature ``i``'s shortfall as one comparable integer: ``gap * n + (n - 1 - i)``, with
    ``gap`` = best points - points (by bin, as the points) and ``n`` features.

    A larger value is further below its best bin, and equal gaps put the earlier feature
    ahead, so one comparison orders two features.
    """
    features = policy.scorecard.features
    feature, n = features[i], len(features)

    def order(points: int) -> Literal:
        return Literal((feature.best_points - points) * n + (n - 1 - i))

    return by_points(scope, feature, order)


def _factor_rank(scope: Scope, policy: Policy, i: int) -> Expr:
    """How many scorecard features fall further below their best bin than feature ``i``
    (equal gaps: the earlier feature first). Exact whenever feature ``i`` is below its best
    bin, the only case a factor reason reads it: a feature ordered ahead of it is then below
    its own best bin too."""
    names = [f.name for f in policy.scorecard.features]
    terms: list[Expr] = [
        Case(
            (
                (
                    Compare(
                        CmpOp.GT, scope.ref(ReasonOrder(other)), scope.ref(ReasonOrder(names[i]))
                    ),
                    Literal(1),
                ),
            ),
            Literal(0),
        )
        for j, other in enumerate(names)
        if j != i
    ]
    return Add(tuple(terms)) if terms else Literal(0)


def reason_slots(
    scope: Scope, policy: Policy, capacity: bool
) -> tuple[list[tuple[Key, Expr]], list[ReasonSlot]]:
    """The key bindings (key, expr) to append to a program, and the slots that read them.

    Reads bindings ``lower`` emits: ``fail.*``, ``fraud.*``, ``points.*``, ``review.score``,
    ``quota.score``, ``refer.segment`` and, with ``capacity``, ``fail.capacity`` and
    ``fail.region_quota``. Besides the slot keys it emits ``reason.rank.<feature>``, each
    scorecard factor's rank by shortfall (NULL unless the score failed), and
    ``reason.order.<feature>``, the shortfall key those ranks compare.
    """
    bindings: list[tuple[Key, Expr]] = []
    slots: list[ReasonSlot] = []

    def add(code: str, kind: str, expr: Expr, subject: GateFailed | Points | None = None) -> None:
        key = ReasonKey(len(slots))
        bindings.append((key, expr))
        scope.note(key, expr)
        slots.append(ReasonSlot(code, key, kind, subject))

    for pos, gate in enumerate(policy.gates):
        key = Literal(rank(gate.action, gate.layer, pos))
        failed = GateFailed(gate.id)
        add(gate.code, SlotKind.GATE, _when(scope.ref(failed), key), failed)
    add(
        "REGION_CLOSED",
        SlotKind.REGION_CLOSED,
        _when(scope.ref(Fixed.REGION_CLOSED), Literal(rank(Action.DECLINE, Layer.REGION, 0))),
    )
    fraud_whens: list[tuple[Expr, Expr]] = []
    for action in ACTION_RANK:  # the strongest fired action places the (single) fraud reason
        rules = [scope.ref(FraudFired(r.id)) for r in policy.fraud if r.action is action]
        if rules:
            fraud_whens.append((Or(tuple(rules)), Literal(rank(action, Layer.FRAUD, 0))))
    if fraud_whens:
        add("FRAUD_SUSPECTED", SlotKind.FRAUD, Case(tuple(fraud_whens), Literal(None)))

    def score_key(sub: Expr) -> Expr:
        review = rank(Action.REVIEW, Layer.WHITELIST, 0)
        decline = rank(Action.DECLINE, Layer.WHITELIST, 0)
        base = Case(((scope.ref(Fixed.SCORE_REVIEW), Literal(review)),), Literal(decline))
        return Add((base, sub))

    below = scope.ref(Fixed.SCORE_FAILED)
    quota = Coalesce((scope.ref(Fixed.SCORE_QUOTA), Literal(False)))
    first = score_key(Literal(0))
    add("SCORE_BELOW_CUTOFF", SlotKind.SCORE, _when(And((below, Not(quota))), first))
    add("REGION_QUOTA", SlotKind.SCORE, _when(And((below, quota)), first))
    for i, feature in enumerate(policy.scorecard.features):
        order = _factor_order(scope, policy, i)
        bindings.append((ReasonOrder(feature.name), order))
        scope.note(ReasonOrder(feature.name), order)
    for i, feature in enumerate(policy.scorecard.features):
        # A binding of its own: the rank is read twice below (fired? and key), and an engine
        # computes a binding once where it would compute an inlined expression twice. NULL
        # unless the score failed: most users left out fail a gate, and never need it.
        rank_key = ReasonRank(feature.name)
        ranked = _when(below, _factor_rank(scope, policy, i))
        bindings.append((rank_key, ranked))
        scope.note(rank_key, ranked)
        position: Expr = scope.ref(rank_key)
        points = Points(feature.name)
        # a failed gate with the factor's code (the hidden-weights group) already names it
        named = [Not(scope.ref(GateFailed(g.id))) for g in policy.gates if g.code == feature.factor]
        factor_fired = And(
            (
                below,
                Compare(CmpOp.LT, scope.ref(points), Literal(feature.best_points)),
                Compare(CmpOp.LT, position, Literal(MAX_FACTORS)),
                *named,
            )
        )
        factor_key = score_key(Add((position, Literal(1))))
        add(feature.factor, SlotKind.FACTOR, _when(factor_fired, factor_key), points)
    add(
        "BUSINESS_PURPOSE",
        SlotKind.REFER,
        _when(scope.ref(Fixed.REFERRED), Literal(rank(Action.REFER, Layer.SEGMENT, 0))),
    )
    if capacity:
        add(
            "REGION_QUOTA",
            SlotKind.CAPACITY,
            _when(scope.ref(Fixed.REGION_QUOTA), Literal(rank(Action.DECLINE, Layer.REGION, 1))),
        )
        add(
            "CAPACITY",
            SlotKind.CAPACITY,
            _when(scope.ref(Fixed.CAPACITY), Literal(rank(Action.DECLINE, Layer.WHITELIST, 1))),
        )
    return bindings, slots


def partial_classes(policy: Policy) -> tuple[str, ...]:
    return tuple(r.region_class for r in policy.regions if r.status is RegionStatus.PARTIAL)
