"""The product family as bindings (docs/policy.md, "products"): each product's eligibility,
line, price and, for a joint loan, each lender's part, lowered after the cash loan's offer.

Every value is a CASE over constants computed here: a product's line is a table of the cash
loan's possible lines (finitely many: its limit rows and the smallest line), a joint loan's
parts a table per partner acceptance pattern (``products.joint.allocate``), so no engine
multiplies or rounds, and every engine computes the same integers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from creditgate.policy.bindings import (
    Fixed,
    Funding,
    PartnerAccepts,
    ProductGateFailed,
    ProductPart,
    ProductValue,
    Scope,
)
from creditgate.policy.nodes import (
    And,
    Case,
    CmpOp,
    Coalesce,
    Compare,
    Expr,
    Gate,
    IsNull,
    Literal,
    Not,
    Or,
    Outcome,
    Policy,
    Product,
    ProductKind,
    ProductStatus,
)
from creditgate.products.joint import acceptance_patterns, allocate, part

NOT_FUNDED = "JOINT_NOT_FUNDED"  # a joint loan whose accepting lenders fund less than its min
FALSE = Literal(False)
NONE = Literal(None)

Bind = tuple[ProductValue | ProductGateFailed | PartnerAccepts | Funding, Expr]


class _Noted(list[Bind]):
    """Bindings in order, each noted in ``scope`` as it is added: a later one reads it."""

    def __init__(self, scope: Scope) -> None:
        super().__init__()
        self.scope = scope

    def append(self, item: Bind) -> None:
        self.scope.note(*item)
        super().append(item)

    def extend(self, items: Iterable[Bind]) -> None:
        for item in items:  # ``joint_bindings`` noted them already: noting is idempotent
            self.append(item)


def cash_lines(policy: Policy) -> tuple[int, ...]:
    """Every line the cash loan can give (``lower.offer_bindings``): each limit row's, held
    within the product range, and the smallest line a retained invitation gets."""
    offer = policy.offer
    rows = {
        max(offer.min_limit, min(offer.max_limit, row.limit))
        for seg in offer.segments
        for row in seg.limits
    }
    return tuple(sorted(rows | {offer.min_limit}))


def base_line(product: Product, cash: int) -> int:
    """``product``'s line for a cash loan line of ``cash`` (``nodes.ProductLimit``)."""
    if product.limit is None:
        return cash
    share = part(product.limit.share_of_cash, cash)
    return max(product.limit.min_cny, min(product.limit.max_cny, share))


def by_value(key: Expr, table: Iterable[tuple[int, int | None]]) -> Expr:
    """``table[key]`` as a CASE of equalities (NULL elsewhere), which the IR passes turn into
    a lookup."""
    whens = tuple((Compare(CmpOp.EQ, key, Literal(k)), Literal(v)) for k, v in table)
    return Case(whens, NONE) if whens else NONE


def any_of(exprs: list[Expr]) -> Expr:
    return Or(tuple(exprs)) if exprs else FALSE


def product_bindings(scope: Scope, policy: Policy, failed: Callable[[Gate], Expr]) -> list[Bind]:
    """Each product's bindings, in order; ``failed`` lowers a gate (``lower.gate_failed``)."""
    out = _Noted(scope)
    outcome = scope.ref(Fixed.OUTCOME)
    invited = Compare(CmpOp.EQ, outcome, Literal(Outcome.INVITED.value))
    referred = Compare(CmpOp.EQ, outcome, Literal(Outcome.REFERRED.value))
    lines = cash_lines(policy)
    for product in policy.products:
        pid = product.id

        def value(part_: ProductPart, pid: str = pid) -> ProductValue:
            return ProductValue(pid, part_)

        reasons: list[tuple[Expr, Expr]] = []
        for gate in product.gates:
            key = ProductGateFailed(pid, gate.id)
            out.append((key, failed(gate)))
            reasons.append((scope.ref(key), Literal(gate.code)))
        line: Expr = scope.ref(Fixed.LIMIT)
        if product.kind is not ProductKind.CASH:
            table = [(c, base_line(product, c)) for c in lines]
            out.append((value(ProductPart.BASE_LIMIT), by_value(scope.ref(Fixed.LIMIT), table)))
            line = scope.ref(value(ProductPart.BASE_LIMIT))
        if product.kind is ProductKind.JOINT:
            out.extend(joint_bindings(scope, policy, product, failed))
            line = scope.ref(value(ProductPart.FUNDED))
            assert product.limit is None or product.limit.min_cny > 0
            floor = product.limit.min_cny if product.limit else policy.offer.min_limit
            short = Coalesce((Compare(CmpOp.LT, line, Literal(floor)), FALSE))
            reasons.append((short, Literal(NOT_FUNDED)))
        reason = Case(((invited, Case(tuple(reasons), NONE)),), NONE) if reasons else NONE
        out.append((value(ProductPart.REASON), reason))
        status = Case(
            (
                (referred, Literal(ProductStatus.REFERRED.value)),
                (Not(invited), Literal(ProductStatus.NOT_ELIGIBLE.value)),
                (
                    Not(IsNull(scope.ref(value(ProductPart.REASON)))),
                    Literal(ProductStatus.NOT_ELIGIBLE.value),
                ),
            ),
            Literal(ProductStatus.OFFERED.value),
        )
        out.append((value(ProductPart.STATUS), status))
        offered = Compare(
            CmpOp.EQ, scope.ref(value(ProductPart.STATUS)), Literal(ProductStatus.OFFERED.value)
        )
        out.append((value(ProductPart.LIMIT), Case(((offered, line),), NONE)))
        if product.kind is not ProductKind.INSTALMENT:  # instalments: each plan's own APR
            out.append((value(ProductPart.APR), Case(((offered, scope.ref(Fixed.APR)),), NONE)))
        for lender in product.lenders:
            out.append(
                (
                    Funding(pid, lender.id),
                    Case(((offered, funding_expr(scope, policy, product, lender.id)),), NONE),
                )
            )
    return out


def joint_bindings(
    scope: Scope, policy: Policy, product: Product, failed: Callable[[Gate], Expr]
) -> list[Bind]:
    """Each partner's gates and acceptance, then the funded line (``products.joint``)."""
    out = _Noted(scope)
    for partner in product.partners:
        fails: list[Expr] = []
        for gate in partner.gates:
            key = ProductGateFailed(product.id, gate.id, partner.id)
            out.append((key, failed(gate)))
            fails.append(scope.ref(key))
        out.append((PartnerAccepts(product.id, partner.id), Not(any_of(fails))))
    funded = by_pattern(
        scope, policy, product, lambda line, accepts: sum(allocate_at(product, line, accepts))
    )
    out.append((ProductValue(product.id, ProductPart.FUNDED), funded))
    return out


def allocate_at(product: Product, line: int, accepts: tuple[bool, ...]) -> tuple[int, ...]:
    return allocate(line, product.partners, accepts, product.on_partner_decline)


def by_pattern(
    scope: Scope, policy: Policy, product: Product, of: Callable[[int, tuple[bool, ...]], int]
) -> Expr:
    """A CASE over the partners' acceptance patterns, each a table of the base line."""
    base = scope.ref(ProductValue(product.id, ProductPart.BASE_LIMIT))
    lines = sorted({base_line(product, c) for c in cash_lines(policy)})
    whens: list[tuple[Expr, Expr]] = []
    for accepts in acceptance_patterns(product):
        conds = tuple(
            scope.ref(PartnerAccepts(product.id, p.id))
            if ok
            else Not(scope.ref(PartnerAccepts(product.id, p.id)))
            for p, ok in zip(product.partners, accepts, strict=True)
        )
        whens.append((And(conds), by_value(base, [(v, of(v, accepts)) for v in lines])))
    return Case(tuple(whens), NONE)


def funding_expr(scope: Scope, policy: Policy, product: Product, lender: str) -> Expr:
    """The yuan ``lender`` funds of ``product``'s line (a joint loan; else none)."""
    if product.kind is not ProductKind.JOINT:
        return NONE
    at = [lender_.id for lender_ in product.lenders].index(lender)
    return by_pattern(
        scope, policy, product, lambda line, accepts: allocate_at(product, line, accepts)[at]
    )
