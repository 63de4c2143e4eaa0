"""The names of a program's bindings, as typed keys rendered to column names in one place.

Lowering creates bindings under these keys; engines, explanations, the batch and the lab
address them by key (``Program.at``, ``Program.has``), never by building or parsing a
string. A key's ``column`` is the binding's name in generated code, in a batch's staged
columns and in the Parquet a run writes, so the rendering here must stay byte-stable.

- ``Fixed``: the bindings every program has once (``score``, ``cutoff``, ``outcome``...).
- one class per family of bindings named after a policy element: ``GateFailed(gate id)``,
  ``FraudFired(rule id)``, ``BinIndex(feature)``, ``Points(feature)``, ``PairBin(pair, axis)``,
  ``PairPoints(pair)``, ``ReasonKey(slot)``,
  ``ReasonOrder(feature)``, ``ReasonRank(feature)``; the product family's
  ``ProductValue(product, part)``, ``ProductGateFailed(product, gate)``,
  ``PartnerAccepts(product, lender)`` and ``Funding(product, lender)``.

Derived fields (``features.derived_fields``) are bound under their own field names.

A ``Scope`` holds what lowering has bound so far, so that a ``Ref`` to a binding is built with
that binding's type and nullability (``scope.ref(key)``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum

from creditgate.policy.nodes import Expr, Ref, Type
from creditgate.policy.passes import optimize


@dataclass(frozen=True, slots=True)
class Binding:
    """One named value of a program. ``optimized``: ``expr`` after the IR passes, when the
    lowering already computed it (``Scope.bind``), so ``lower.prepare`` need not again."""

    name: str  # the column ``Key.column`` renders (derived fields: the field's name)
    expr: Expr
    optimized: Expr | None = field(default=None, compare=False, repr=False)


class _Keyed:
    """What every key offers: the binding's ``column``."""

    @property
    def column(self) -> str:
        raise NotImplementedError


class Fixed(_Keyed, Enum):
    """The bindings a program holds at most once, by what they mean."""

    HELD_LOAN = "held.loan"
    HELD_INVITED = "held.invited"
    HELD_DAYS = "held.days"
    HELD_LIMIT = "held.limit"
    HELD_SINCE = "held.since"
    REGION_SCHEDULED = "region.scheduled"
    REGION_CLOSED = "fail.region_closed"
    SCORE = "score"
    PD = "pd"
    CUTOFF = "cutoff"
    STABLE_HELD = "stable.held"
    STABLE_RECENT = "stable.recent"
    RETAIN_FLOOR = "retain.floor"
    SCORE_FAILED = "fail.score"
    SCORE_REVIEW = "review.score"
    SCORE_QUOTA = "quota.score"
    SEGMENT = "segment"
    REFERRED = "refer.segment"
    POLICY_OUTCOME = "outcome.policy"
    # the snapshot's capacity and quota cutoffs: the one binding that reads them
    CAPACITY_CUTOFF = "cutoff.capacity"
    CUT = "cut.capacity"
    REGION_QUOTA = "fail.region_quota"
    CAPACITY = "fail.capacity"
    OUTCOME = "outcome"
    LIMIT_POLICY = "limit.policy"
    LIMIT = "limit_cny"
    DAILY_RATE = "daily_rate"
    APR = "apr"
    ENTRY = "entry"
    RETAINED = "retained"
    LIMIT_REDUCED = "limit.reduced"
    WITHDRAWN = "withdrawn"
    INVITED_SINCE = "invited_since"

    @property
    def column(self) -> str:
        return str(self.value)


@dataclass(frozen=True, slots=True)
class GateFailed(_Keyed):
    """TRUE when the gate ``gate_id`` fails (consent and NULL treatment folded in)."""

    gate_id: str

    @property
    def column(self) -> str:
        return f"fail.{self.gate_id}"


@dataclass(frozen=True, slots=True)
class FraudFired(_Keyed):
    """TRUE when the fraud rule ``rule_id`` fires."""

    rule_id: str

    @property
    def column(self) -> str:
        return f"fraud.{self.rule_id}"


@dataclass(frozen=True, slots=True)
class BinIndex(_Keyed):
    """The index of the bin scorecard feature ``feature`` falls in (negative: missing...)."""

    feature: str

    @property
    def column(self) -> str:
        return f"bin.{self.feature}"


@dataclass(frozen=True, slots=True)
class Points(_Keyed):
    """The points scorecard feature ``feature`` earns."""

    feature: str

    @property
    def column(self) -> str:
        return f"points.{self.feature}"


@dataclass(frozen=True, slots=True)
class PairBin(_Keyed):
    """The index of the bin pairwise table ``pair`` puts its axis ``axis`` (0 or 1) in."""

    pair: str
    axis: int

    @property
    def column(self) -> str:
        return f"pairbin.{self.pair}.{self.axis}"


@dataclass(frozen=True, slots=True)
class PairPoints(_Keyed):
    """The points pairwise table ``pair`` gives."""

    pair: str

    @property
    def column(self) -> str:
        return f"pairpoints.{self.pair}"


@dataclass(frozen=True, slots=True)
class ReasonKey(_Keyed):
    """Reason slot ``slot``'s sort key (NULL: the reason does not apply)."""

    slot: int

    @property
    def column(self) -> str:
        return f"reason.{self.slot}"


@dataclass(frozen=True, slots=True)
class ReasonOrder(_Keyed):
    """Scorecard feature ``feature``'s shortfall against its best bin, as one integer."""

    feature: str

    @property
    def column(self) -> str:
        return f"reason.order.{self.feature}"


@dataclass(frozen=True, slots=True)
class ReasonRank(_Keyed):
    """How many scorecard features fall further below their best bin than ``feature``."""

    feature: str

    @property
    def column(self) -> str:
        return f"reason.rank.{self.feature}"


class ProductPart(Enum):
    """What a product of the family binds once (``ProductValue``)."""

    BASE_LIMIT = "limit.base"  # its line from the cash loan's, before funding
    FUNDED = "limit.funded"  # a joint loan's line after the partners' decisions
    REASON = "reason"  # its own reason code when the shared layers invite (else NULL)
    STATUS = "status"  # offered, not_eligible or referred
    LIMIT = "limit"  # the line offered (NULL unless offered)
    APR = "apr"  # the APR offered (cash and joint loans; NULL unless offered)

    @property
    def column(self) -> str:
        return str(self.value)


@dataclass(frozen=True, slots=True)
class ProductValue(_Keyed):
    """Product ``product``'s ``part`` (``ProductPart``)."""

    product: str
    part: ProductPart

    @property
    def column(self) -> str:
        return f"product.{self.product}.{self.part.column}"


@dataclass(frozen=True, slots=True)
class ProductGateFailed(_Keyed):
    """TRUE when gate ``gate_id`` of product ``product`` fails (of its partner ``lender``
    when one is named)."""

    product: str
    gate_id: str
    lender: str = ""

    @property
    def column(self) -> str:
        owner = f"{self.product}.{self.lender}" if self.lender else self.product
        return f"product.{owner}.fail.{self.gate_id}"


@dataclass(frozen=True, slots=True)
class PartnerAccepts(_Keyed):
    """TRUE when partner ``lender`` of joint product ``product`` takes its share."""

    product: str
    lender: str

    @property
    def column(self) -> str:
        return f"product.{self.product}.accept.{self.lender}"


@dataclass(frozen=True, slots=True)
class Funding(_Keyed):
    """The yuan lender ``lender`` funds of joint product ``product``'s line (NULL unless
    offered)."""

    product: str
    lender: str

    @property
    def column(self) -> str:
        return f"product.{self.product}.fund.{self.lender}"


Key = (
    Fixed
    | GateFailed
    | FraudFired
    | BinIndex
    | Points
    | PairBin
    | PairPoints
    | ReasonKey
    | ReasonOrder
    | ReasonRank
    | ProductValue
    | ProductGateFailed
    | PartnerAccepts
    | Funding
)


def column_of(key: Key | str) -> str:
    """A binding's column: a key's rendering, or a derived field's own name."""
    return key if isinstance(key, str) else key.column


class Scope:
    """The bindings made so far, by column, with their facts: a ``Ref`` to one of them is
    built with its type and nullability. A binding's facts are those of its expression after
    the IR passes (``passes.optimize``, which change no value: they only sharpen what is
    known, e.g. ``x AND FALSE`` is never NULL), so engines see the same facts either way."""

    def __init__(self, facts: Mapping[str, tuple[Type, bool]] | None = None) -> None:
        self.facts: dict[str, tuple[Type, bool]] = dict(facts or {})
        self._done: dict[str, tuple[Expr, Expr]] = {}  # name -> (expr, after the passes)

    def note(self, key: Key | str, expr: Expr) -> Expr:
        """Record that ``key`` (a derived field: its name) is bound to ``expr``; returns
        ``expr`` after the passes (computed once however often it is noted)."""
        name = column_of(key)
        done = self._done.get(name)
        if done is None or done[0] is not expr:
            done = self._done[name] = (expr, optimize(expr))
        self.facts[name] = (done[1].type, done[1].nullable)
        return done[1]

    def bind(self, key: Key | str, expr: Expr) -> Binding:
        """The binding of ``key`` to ``expr``, noted (``note``)."""
        name = column_of(key)
        return Binding(name, expr, self.note(name, expr))

    def ref(self, key: Key | str) -> Ref:
        """An expression reading the binding of ``key`` (made earlier: a ``KeyError`` else)."""
        name = column_of(key)
        kind, nullable = self.facts[name]
        return Ref(name, kind, nullable)
