"""Frozen, typed nodes: the one representation every engine and explainer reads.

Two families live here. *Expressions* (``Expr``) are the primitive, engine-neutral operations
that ``lower.py`` reduces a policy to and that the row and Ibis compilers translate one
``visit_<Node>`` at a time. *Policy nodes* (``Gate``, ``Scorecard``, ...) keep the business
meaning (codes, layers, bins) that explanations and recourse need.
NULL follows SQL: any comparison with NULL is NULL; ``Coalesce`` decides what NULL means.

Every expression knows, from the moment it is built, its result ``type`` (``Type``) and
whether it may be NULL for a valid input (``nullable``): a ``Field`` from the profile
contract (``Field.of``) or the columns it reads, a ``Ref`` from the binding it reads
(``bindings.Scope``), every other node from its children. A node whose children do not fit
(comparing a string with a number, adding a date) cannot be built (``NodeTypeError``). Both
facts are outside equality, hashing and ``repr``: they follow from the structure.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

from creditgate.schema import PROFILE_FIELDS
from creditgate.timeutil import Unit

DEFAULT_LGD = Decimal("0.85")  # unsecured consumer credit: docs/policy.md, "risk"
Value = bool | int | float | Decimal | str | date | None


def source_line() -> Any:
    """A node's policy-file line: for messages only, no part of its meaning (or equality: a
    comment added above a rule changes no decision)."""
    return field(default=0, compare=False)


class Node:
    """Marker base: compilers dispatch on the concrete class name."""

    __slots__ = ()


class Type(StrEnum):
    """An expression's result type, the same in every engine."""

    NULL = "null"  # a NULL literal (or a choice of them): fits wherever any type does
    BOOL = "bool"
    INT = "int"
    FLOAT = "float"
    DECIMAL = "decimal"
    STRING = "string"
    DATE = "date"


NUMBERS = frozenset((Type.INT, Type.FLOAT, Type.DECIMAL))
_OF_CLASS: Mapping[type, Type] = {
    bool: Type.BOOL,
    int: Type.INT,
    float: Type.FLOAT,
    Decimal: Type.DECIMAL,
    str: Type.STRING,
    date: Type.DATE,
}


class NodeTypeError(TypeError):
    """An expression node built over children of types it cannot take."""


def type_of_class(cls: type) -> Type:
    """The ``Type`` of values of Python class ``cls`` (a contract field's ``FieldSpec.type``)."""
    return _OF_CLASS[cls]


def type_of(value: Value) -> Type:
    """The ``Type`` of a constant."""
    if value is None:
        return Type.NULL
    kind = _OF_CLASS.get(type(value))
    if kind is not None:
        return kind
    for cls, kind in _OF_CLASS.items():  # a subclass (a StrEnum...); bool before int
        if isinstance(value, cls):
            return kind
    raise NodeTypeError(f"no IR type for the constant {value!r}")


def _check_constants(node: str, operand: Type, values: Iterable[Value]) -> None:
    """Each of ``values`` may be compared with an ``operand`` (each class checked once: a
    city table has hundreds of spellings)."""
    classes: dict[type, Value] = {}
    for value in values:
        classes.setdefault(type(value), value)
    for value in classes.values():
        if not comparable(operand, type_of(value)):
            raise NodeTypeError(f"{node}: a {operand} operand, the constant {value!r}")


def comparable(a: Type, b: Type) -> bool:
    """Whether values of ``a`` and ``b`` may be compared (numbers with numbers)."""
    return a == b or Type.NULL in (a, b) or (a in NUMBERS and b in NUMBERS)


def common_type(types: tuple[Type, ...], node: str) -> Type:
    """The type of a choice between values of ``types`` (CASE, COALESCE, a sum): NULL fits
    any; an integer widens to the other number (never a float with a decimal)."""
    found = {t for t in types if t is not Type.NULL}
    if not found:
        return Type.NULL
    if len(found) == 1:
        return found.pop()
    if found == {Type.INT, Type.FLOAT} or found == {Type.INT, Type.DECIMAL}:
        return (found - {Type.INT}).pop()
    raise NodeTypeError(f"{node}: no common type of {', '.join(sorted(found))}")


def _expect(node: str, what: str, kind: Type, allowed: frozenset[Type] | set[Type]) -> None:
    if kind is not Type.NULL and kind not in allowed:
        raise NodeTypeError(f"{node}: {what} is {kind}, expected {' or '.join(sorted(allowed))}")


_BOOL = frozenset((Type.BOOL,))


def _set(node: Expr, kind: Type, nullable: bool) -> None:
    object.__setattr__(node, "type", kind)
    object.__setattr__(node, "nullable", nullable)


class Expr(Node):
    """An expression; ``children()`` is the one traversal every pass and analysis uses.
    ``type`` and ``nullable`` are known once built (module docstring)."""

    __slots__ = ()
    type: Type
    nullable: bool

    def children(self) -> tuple[Expr, ...]:
        """The sub-expressions, in evaluation order (none for a leaf)."""
        return ()

    def with_children(self, children: tuple[Expr, ...]) -> Expr:
        """This node over new sub-expressions (same shape as ``children()``)."""
        return self


@dataclass(frozen=True, slots=True)
class Field(Expr):
    """An input column: of the profile contract (``Field.of``), or of a trained card's data."""

    name: str
    type: Type = field(compare=False, repr=False)
    nullable: bool = field(compare=False, repr=False)

    @staticmethod
    def of(name: str) -> Field:
        """Contract field ``name``: validated, so NULL only where the contract allows it."""
        spec = PROFILE_FIELDS[name]
        return Field(name, type_of_class(spec.type), spec.nullable)


@dataclass(frozen=True, slots=True)
class Ref(Expr):
    """A value bound earlier in the same program (a derived field, a gate result...), with
    that binding's type and nullability (``bindings.Scope.ref`` makes it)."""

    name: str
    type: Type = field(compare=False, repr=False)
    nullable: bool = field(compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class AsOf(Expr):
    """The evaluation date."""

    type: Type = field(init=False, compare=False, repr=False)  # from the children
    nullable: bool = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        _set(self, Type.DATE, False)


@dataclass(frozen=True, slots=True)
class Literal(Expr):
    value: Value
    type: Type = field(init=False, compare=False, repr=False)  # from the children
    nullable: bool = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        _set(self, type_of(self.value), self.value is None)


class CmpOp(StrEnum):
    GE = ">="
    GT = ">"
    LE = "<="
    LT = "<"
    EQ = "=="
    NE = "!="


# The one table every engine compiles a comparison with: a Python operator applies to plain
# values (constant folding) and to Ibis columns alike; the row engine spells ``op.value``.
COMPARE: Mapping[CmpOp, Callable[[Any, Any], Any]] = {
    CmpOp.GE: operator.ge,
    CmpOp.GT: operator.gt,
    CmpOp.LE: operator.le,
    CmpOp.LT: operator.lt,
    CmpOp.EQ: operator.eq,
    CmpOp.NE: operator.ne,
}


@dataclass(frozen=True, slots=True)
class Compare(Expr):
    op: CmpOp
    left: Expr
    right: Expr
    type: Type = field(init=False, compare=False, repr=False)  # from the children
    nullable: bool = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not comparable(self.left.type, self.right.type):
            raise NodeTypeError(
                f"Compare({self.op.value}): cannot compare {self.left.type} with {self.right.type}"
            )
        _set(self, Type.BOOL, self.left.nullable or self.right.nullable)

    def children(self) -> tuple[Expr, ...]:
        return (self.left, self.right)

    def with_children(self, children: tuple[Expr, ...]) -> Expr:
        return Compare(self.op, *children)


@dataclass(frozen=True, slots=True)
class InSet(Expr):
    """``operand IN values`` (NULL when the operand is NULL)."""

    operand: Expr
    values: tuple[Value, ...]
    type: Type = field(init=False, compare=False, repr=False)  # from the children
    nullable: bool = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        _check_constants("InSet", self.operand.type, self.values)
        _set(self, Type.BOOL, self.operand.nullable)

    def children(self) -> tuple[Expr, ...]:
        return (self.operand,)

    def with_children(self, children: tuple[Expr, ...]) -> Expr:
        return InSet(children[0], self.values)


@dataclass(frozen=True, slots=True)
class Connective(Expr):
    """``And`` and ``Or``: boolean operands; NULL when an operand may be (SQL's logic).
    Engines dispatch on the concrete class, never on this one."""

    operands: tuple[Expr, ...]
    type: Type = field(init=False, compare=False, repr=False)  # from the children
    nullable: bool = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        for o in self.operands:
            _expect(type(self).__name__, "an operand", o.type, _BOOL)
        _set(self, Type.BOOL, any(o.nullable for o in self.operands))

    def children(self) -> tuple[Expr, ...]:
        return self.operands

    def with_children(self, children: tuple[Expr, ...]) -> Expr:
        return type(self)(children)


@dataclass(frozen=True, slots=True)
class And(Connective):
    pass


@dataclass(frozen=True, slots=True)
class Or(Connective):
    pass


@dataclass(frozen=True, slots=True)
class Not(Expr):
    operand: Expr
    type: Type = field(init=False, compare=False, repr=False)  # from the children
    nullable: bool = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        _expect("Not", "the operand", self.operand.type, _BOOL)
        _set(self, Type.BOOL, self.operand.nullable)

    def children(self) -> tuple[Expr, ...]:
        return (self.operand,)

    def with_children(self, children: tuple[Expr, ...]) -> Expr:
        return Not(children[0])


@dataclass(frozen=True, slots=True)
class IsNull(Expr):
    operand: Expr
    type: Type = field(init=False, compare=False, repr=False)  # from the children
    nullable: bool = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        _set(self, Type.BOOL, False)

    def children(self) -> tuple[Expr, ...]:
        return (self.operand,)

    def with_children(self, children: tuple[Expr, ...]) -> Expr:
        return IsNull(children[0])


@dataclass(frozen=True, slots=True)
class Coalesce(Expr):
    operands: tuple[Expr, ...]
    type: Type = field(init=False, compare=False, repr=False)  # from the children
    nullable: bool = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        kind = common_type(tuple(o.type for o in self.operands), "Coalesce")
        _set(self, kind, all(o.nullable for o in self.operands))

    def children(self) -> tuple[Expr, ...]:
        return self.operands

    def with_children(self, children: tuple[Expr, ...]) -> Expr:
        return Coalesce(children)


@dataclass(frozen=True, slots=True)
class Case(Expr):
    """Searched CASE: the first true condition's result, else ``default``."""

    whens: tuple[tuple[Expr, Expr], ...]
    default: Expr
    type: Type = field(init=False, compare=False, repr=False)  # from the children
    nullable: bool = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        for condition, _ in self.whens:
            _expect("Case", "a condition", condition.type, _BOOL)
        results = (*(r for _, r in self.whens), self.default)
        _set(self, common_type(tuple(r.type for r in results), "Case"), self._nullable())

    def _nullable(self) -> bool:
        """NULL when a result that can be reached can be."""
        for condition, result in self.whens:
            if result.nullable:
                return True
            if condition == Literal(True):  # always taken: the default is unreachable
                return False
        return self.default.nullable

    def children(self) -> tuple[Expr, ...]:
        return (*(e for pair in self.whens for e in pair), self.default)

    def with_children(self, children: tuple[Expr, ...]) -> Expr:
        pairs = zip(children[:-1:2], children[1:-1:2], strict=True)
        return Case(tuple(pairs), children[-1])


@dataclass(frozen=True, slots=True)
class Lookup(Expr):
    """A table lookup: the result of the first entry whose keys hold ``key``, else
    ``default``. ``passes.lookups`` makes it from a CASE testing one operand for equality or
    membership, so engines compile a table (a dict, a join) rather than a chain of tests.
    NULL matches no key, as in the CASE it replaces."""

    key: Expr
    entries: tuple[tuple[tuple[Value, ...], Value], ...]  # (keys, result), first match wins
    default: Expr
    type: Type = field(init=False, compare=False, repr=False)  # from the children
    nullable: bool = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        _check_constants("Lookup", self.key.type, (k for keys, _ in self.entries for k in keys))
        results = (*{type_of(r) for _, r in self.entries}, self.default.type)
        nullable = any(r is None for _, r in self.entries) or self.default.nullable
        _set(self, common_type(results, "Lookup"), nullable)

    @property
    def table(self) -> dict[Value, Value]:
        """``{key: result}``, the first entry holding a key winning."""
        table: dict[Value, Value] = {}
        for keys, result in reversed(self.entries):
            table.update(dict.fromkeys(keys, result))
        return table

    def children(self) -> tuple[Expr, ...]:
        return (self.key, self.default)

    def with_children(self, children: tuple[Expr, ...]) -> Expr:
        return Lookup(children[0], self.entries, children[1])


@dataclass(frozen=True, slots=True)
class Elapsed(Expr):
    """Whole ``unit``s from ``start`` to the evaluation date (see ``timeutil.elapsed``)."""

    start: Expr
    unit: Unit
    type: Type = field(init=False, compare=False, repr=False)  # from the children
    nullable: bool = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        _expect("Elapsed", "the start", self.start.type, {Type.DATE})
        _set(self, Type.INT, self.start.nullable)

    def children(self) -> tuple[Expr, ...]:
        return (self.start,)

    def with_children(self, children: tuple[Expr, ...]) -> Expr:
        return Elapsed(children[0], self.unit)


@dataclass(frozen=True, slots=True)
class Add(Expr):
    operands: tuple[Expr, ...]
    type: Type = field(init=False, compare=False, repr=False)  # from the children
    nullable: bool = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        for o in self.operands:
            _expect("Add", "an operand", o.type, NUMBERS)
        kind = common_type(tuple(o.type for o in self.operands), "Add")
        _set(self, kind, any(o.nullable for o in self.operands))

    def children(self) -> tuple[Expr, ...]:
        return self.operands

    def with_children(self, children: tuple[Expr, ...]) -> Expr:
        return Add(children)


@dataclass(frozen=True, slots=True)
class Logistic(Expr):
    """``1 / (1 + exp((operand - offset) / scale))`` rounded to 6 places: score to PD."""

    operand: Expr
    offset: float
    scale: float
    type: Type = field(init=False, compare=False, repr=False)  # from the children
    nullable: bool = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        _expect("Logistic", "the operand", self.operand.type, NUMBERS)
        _set(self, Type.FLOAT, self.operand.nullable)

    def children(self) -> tuple[Expr, ...]:
        return (self.operand,)

    def with_children(self, children: tuple[Expr, ...]) -> Expr:
        return Logistic(children[0], self.offset, self.scale)


# --------------------------------------------------------------------------- policy nodes


class Layer(StrEnum):
    COMPLIANCE = "compliance"
    CREDIT = "credit"
    BEHAVIOUR = "behaviour"
    REGION = "region"
    FRAUD = "fraud"
    WHITELIST = "whitelist"
    SEGMENT = "segment"


class Action(StrEnum):
    """What a fired rule does; the strongest fired action decides the outcome."""

    DECLINE = "decline"
    REVIEW = "review"
    REFER = "refer"


class Outcome(StrEnum):
    INVITED = "invited"
    NOT_INVITED = "not_invited"
    MANUAL_REVIEW = "manual_review"
    REFERRED = "referred"


@dataclass(frozen=True, slots=True)
class Gate:
    """A hard threshold on one (raw or derived) field: ``field op value`` must hold.

    ``when_missing`` says whether a NULL field passes. Gates on data that needs a consent are
    evaluated only when that consent is given: without it the data may not be processed.

    ``group`` names an *any-of* group (``any_of:`` in the policy file): a gate of a group
    fails only when every gate of the group fails, and then each of them is a reason (and
    recourse offers the smallest change: one of them).
    """

    id: str
    code: str
    layer: Layer
    field: str
    op: CmpOp | None  # None with ``values``: membership
    value: Value
    values: tuple[Value, ...] = ()
    negate_values: bool = False  # True: field NOT IN values
    when_missing: bool = False
    action: Action = Action.DECLINE
    group: str | None = None
    line: int = source_line()


@dataclass(frozen=True, slots=True)
class Condition:
    """``field op value`` (or membership) as used by fraud rules, segments and referrals."""

    field: str
    op: CmpOp | None
    value: Value
    values: tuple[Value, ...] = ()
    negate_values: bool = False


@dataclass(frozen=True, slots=True)
class FraudRule:
    """All conditions together fire the rule; details never reach the user."""

    id: str
    conditions: tuple[Condition, ...]
    action: Action
    when_missing: bool = False  # a NULL condition counts as fired when True
    line: int = source_line()


@dataclass(frozen=True, slots=True)
class Bin:
    """Left-closed interval ``[lower, upper)`` or a set of categories, worth ``points``."""

    points: int
    lower: int | float | Decimal | None = None
    upper: int | float | Decimal | None = None
    categories: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ScoreFeature:
    """One scorecard characteristic; ``factor`` is the reason code when it holds a score back."""

    name: str
    field: str
    bins: tuple[Bin, ...]
    missing_points: int
    factor: str
    cost: int = 1  # recourse cost of moving one bin, relative to other features
    # A trained card's special values (``SPECIAL_BIN``, checked before the bins) and their
    # points; a policy's own features have none.
    special_values: tuple[float, ...] = ()
    special_points: int = 0

    @property
    def best_points(self) -> int:
        return max(b.points for b in self.bins)


@dataclass(frozen=True, slots=True)
class PairAxis:
    """One side of a pairwise table: a scorecard feature's field cut by the pair's own bins
    (their ``points`` are unused: the table holds them). Special values read as missing."""

    feature: str  # the scorecard feature whose field this axis reads
    field: str
    bins: tuple[Bin, ...]
    special_values: tuple[float, ...] = ()


@dataclass(frozen=True, slots=True)
class ScorePair:
    """A pairwise interaction: integer points by (bin of ``axes[0]``, bin of ``axes[1]``).
    ``points`` has ``1 + len(bins)`` rows and columns; row and column 0 take a missing value,
    a special value or an unseen category, as a feature's ``missing_points`` does."""

    name: str
    axes: tuple[PairAxis, PairAxis]
    points: tuple[tuple[int, ...], ...]

    def at(self, a: int, b: int) -> int:
        """Points of the cell of axis indices ``a``, ``b`` (negative: missing or special)."""
        return self.points[a + 1 if a >= 0 else 0][b + 1 if b >= 0 else 0]


@dataclass(frozen=True, slots=True)
class Scaling:
    """PDO scaling: ``score = offset + factor * ln(odds_good)``."""

    pdo: float
    base_score: float
    base_odds: float


@dataclass(frozen=True, slots=True)
class Scorecard:
    base_points: int
    features: tuple[ScoreFeature, ...]
    scaling: Scaling
    cutoffs: tuple[tuple[str, int], ...]  # region class -> cutoff
    review_band: int  # scores in [cutoff - band, cutoff) go to manual review
    # A whitelist snapshot's cutoffs (region class -> score) that filled capacity and quotas;
    # empty without a snapshot. Users at or above ``cutoffs`` but below these are cut.
    capacity_cutoffs: tuple[tuple[str, int], ...] = ()
    # Per city in partly open classes ((class, canonical city, score)): a city's own cutoff
    # comes first, its class's in ``capacity_cutoffs`` holds cities without one.
    capacity_city_cutoffs: tuple[tuple[str, str, int], ...] = ()
    # The evaluation date of the snapshot those cutoffs come from: user text says as of when
    # a quota or capacity bar holds (it is recomputed at each whitelist refresh). No engine
    # reads it, so the batch engines' programs do not depend on it.
    capacity_as_of: date | None = None
    # Pairwise interaction tables (``ScorePair``) added to the score; none unless trained
    # with ``--pairs`` or written by hand.
    pairs: tuple[ScorePair, ...] = ()

    def cutoff(self, region_class: str) -> int:
        return dict(self.cutoffs)[region_class]


class RegionStatus(StrEnum):
    OPEN = "open"
    PARTIAL = "partial"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class RegionRule:
    region_class: str
    status: RegionStatus
    quota_share: float  # share of the class's eligible users a snapshot may invite


@dataclass(frozen=True, slots=True)
class LimitRow:
    """One row of a segment's limit matrix: ``limit`` yuan for a score of at least
    ``min_score`` where every condition holds (a NULL or unconsented field never holds).
    The first matching row of the segment wins; the last has no conditions."""

    min_score: int
    limit: int
    when: tuple[Condition, ...] = ()
    line: int = source_line()


@dataclass(frozen=True, slots=True)
class RolloutStage:
    """From ``start`` (a date in Asia/Shanghai) the open and partial classes are open in these
    provinces and cities too, besides those of earlier stages (``every_province``: all)."""

    start: date
    provinces: tuple[str, ...] = ()
    cities: tuple[str, ...] = ()  # canonical names, open although their province is not yet
    every_province: bool = False
    line: int = source_line()


@dataclass(frozen=True, slots=True)
class Segment:
    name: str
    when: tuple[Condition, ...]  # empty: the catch-all segment
    limits: tuple[LimitRow, ...]  # first match wins; the last row is a catch-all
    refer: bool = False  # product does not fit the segment's need: refer elsewhere


@dataclass(frozen=True, slots=True)
class PriceBand:
    min_score: int
    daily_rate: Decimal


@dataclass(frozen=True, slots=True)
class Offer:
    min_limit: int
    max_limit: int
    segments: tuple[Segment, ...]
    prices: tuple[PriceBand, ...]  # highest score first
    terms: tuple[int, ...]
    days_per_year: int = 365


@dataclass(frozen=True, slots=True)
class Jurisdiction:
    name: str
    apr_cap: Decimal
    household_line_cap_cny: int
    # In joint lending the platform's own lender funds at least this share of every loan
    # (CN: 30%, CBIRC notice 2021 No. 24); the lint checks every joint product against it.
    joint_min_own_share: Decimal = Decimal("0.30")


class ProductKind(StrEnum):
    """The product family (docs/policy.md, "products")."""

    CASH = "cash"  # today's cash loan: the ``offer:`` section
    INSTALMENT = "instalment"  # consumption instalments at merchants
    JOINT = "joint"  # a cash loan co-funded with partner banks


class PartnerDecline(StrEnum):
    """What a joint loan does with the share of a partner that declines (its gates fail) or
    cannot take all of it (its ``max_exposure_cny``)."""

    PASS_TO_NEXT = "pass_to_next"  # the accepting partners take it, in list order
    REDUCE = "reduce"  # the limit shrinks to what the accepting lenders fund


class ProductStatus(StrEnum):
    OFFERED = "offered"
    NOT_ELIGIBLE = "not_eligible"
    REFERRED = "referred"


@dataclass(frozen=True, slots=True)
class ProductLimit:
    """A product's line from the cash loan's: ``share_of_cash`` of it, rounded down to whole
    yuan, then held within ``min_cny``..``max_cny``."""

    share_of_cash: Decimal
    min_cny: int
    max_cny: int


@dataclass(frozen=True, slots=True)
class InstalmentPlan:
    """``periods`` monthly repayments of principal / periods plus ``fee_per_period`` x the
    original principal; ``apr`` is its annualised rate by the IRR method, computed at load
    (``products.instalments.plan_apr``)."""

    periods: int
    fee_per_period: Decimal
    apr: Decimal
    line: int = source_line()


@dataclass(frozen=True, slots=True)
class Lender:
    """A lender of a joint loan: ``share`` of each loan, at most ``max_exposure_cny`` yuan of
    one loan (None: no bound), and its own appetite (gates) on top of the shared layers."""

    id: str
    name: tuple[tuple[str, str], ...]  # (language, name)
    share: Decimal
    max_exposure_cny: int | None = None
    gates: tuple[Gate, ...] = ()
    line: int = source_line()


@dataclass(frozen=True, slots=True)
class Product:
    """One product of the family. The cash loan is the ``offer:`` section itself; the others
    are offered to users the shared layers invite and their own ``gates`` pass."""

    id: str
    kind: ProductKind
    gates: tuple[Gate, ...] = ()
    limit: ProductLimit | None = None  # None: the cash loan's line
    merchant_only: bool = False
    plans: tuple[InstalmentPlan, ...] = ()
    own_lender: Lender | None = None
    partners: tuple[Lender, ...] = ()
    on_partner_decline: PartnerDecline = PartnerDecline.PASS_TO_NEXT
    line: int = source_line()

    @property
    def lenders(self) -> tuple[Lender, ...]:
        """The own lender first, then the partners in order (a joint loan's funders)."""
        return ((self.own_lender,) if self.own_lender else ()) + self.partners


@dataclass(frozen=True, slots=True)
class Stability:
    """Hysteresis for invitations (docs/policy.md, "stability"): an invited user stays
    invited for ``min_days`` from their invitation, then while their score is at most
    ``band`` points under the cutoff that binds, unless a gate or fraud rule fails."""

    min_days: int = 0
    band: int = 0

    @property
    def active(self) -> bool:
        return self.min_days > 0 or self.band > 0


@dataclass(frozen=True, slots=True)
class Policy:
    name: str
    version: str
    regions_version: str
    unknown_city: str | None  # region class for cities not in the table; None: bad input
    capacity_share: float
    gates: tuple[Gate, ...]
    fraud: tuple[FraudRule, ...]
    regions: tuple[RegionRule, ...]
    scorecard: Scorecard
    offer: Offer
    jurisdiction: Jurisdiction
    # The rollout schedule, earliest stage first; empty: open and partial classes are open
    # everywhere (no schedule).
    schedule: tuple[RolloutStage, ...] = ()
    source: str = "<memory>"
    lines: Mapping[str, int] = field(default_factory=dict, compare=False, hash=False)
    # Loss given default (share of a defaulted line's exposure lost): expected loss in the
    # strategy lab's reports is PD x LGD x limit. No decision reads it.
    lgd: Decimal = DEFAULT_LGD
    stability: Stability = Stability()
    # The product family (docs/policy.md, "products"); empty: the cash loan alone, as
    # ``offer`` describes it (no offers in a decision, no offers table in a batch).
    products: tuple[Product, ...] = ()

    def line(self, path: str) -> int:
        """The policy-file line of a dotted path such as ``offer.pricing.0`` (0 if unknown)."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path.rpartition(".")[0]
        return 0

    def group_of(self, gate: Gate) -> tuple[Gate, ...]:
        """The gates that must all fail for ``gate`` to fail: its any-of group, or itself."""
        if gate.group is None:
            return (gate,)
        return tuple(g for g in self.gates if g.group == gate.group)

    def region(self, region_class: str) -> RegionRule:
        return next(r for r in self.regions if r.region_class == region_class)
