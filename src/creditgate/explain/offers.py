"""A decision's offers, one per product of the policy's family (docs/policy.md, "products"),
read from the product bindings the row engine computed (``policy.product_lowering``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from creditgate.decision import FundingPart, PlanTerms, ProductOffer, Reason, RecourseStep
from creditgate.explain.catalogue import Text, text
from creditgate.explain.product_recourse import Point, ProductRecourse
from creditgate.explain.reasons import Maker, gate_maker
from creditgate.policy.bindings import Funding, ProductGateFailed, ProductPart, ProductValue
from creditgate.policy.lower import Program
from creditgate.policy.nodes import Gate, Layer, Product, ProductKind, ProductStatus
from creditgate.policy.product_lowering import NOT_FUNDED
from creditgate.schema import PROFILE_FIELDS


@dataclass(frozen=True)
class _Reader:
    """Where one product's values sit in the row engine's values, and its constant parts."""

    product: Product
    name: Text
    status: int
    reason: int
    limit: int
    apr: int | None
    # each gate's reason maker, its failure's position and its field's (None: a profile field)
    gates: tuple[tuple[Gate, Maker, int, int | None], ...]
    funding: tuple[tuple[str, Text, bool, int], ...]  # lender, name, own, position
    plans: tuple[PlanTerms, ...]


class OfferBuilder:
    """Builds the offers of one program's decisions (positions resolved once); ``recourse``
    plans the steps of a product not offered."""

    def __init__(self, program: Program, recourse: ProductRecourse) -> None:
        self.recourse = recourse

        def at(key: ProductValue | ProductGateFailed | Funding) -> int:
            return program.at(key)

        def field_at(name: str) -> int | None:
            return None if name in PROFILE_FIELDS else program.index(name)

        readers = []
        for p in program.policy.products:
            own = p.own_lender.id if p.own_lender else None
            apr_key = ProductValue(p.id, ProductPart.APR)
            readers.append(
                _Reader(
                    p,
                    text("products", p.kind.value),
                    at(ProductValue(p.id, ProductPart.STATUS)),
                    at(ProductValue(p.id, ProductPart.REASON)),
                    at(ProductValue(p.id, ProductPart.LIMIT)),
                    at(apr_key) if program.has(apr_key) else None,
                    tuple(
                        (g, gate_maker(g), at(ProductGateFailed(p.id, g.id)), field_at(g.field))
                        for g in p.gates
                    ),
                    tuple(
                        (
                            lender.id,
                            dict(lender.name),
                            lender.id == own,
                            at(Funding(p.id, lender.id)),
                        )
                        for lender in p.lenders
                    ),
                    tuple(PlanTerms(x.periods, x.fee_per_period, x.apr) for x in p.plans),
                )
            )
        self.readers = tuple(readers)

    def offers(
        self,
        row: Mapping[str, Any],
        values: tuple[Any, ...],
        shared: tuple[Reason, ...],
        steps: tuple[RecourseStep, ...],
        as_of: date,
        plan: bool = True,
    ) -> tuple[ProductOffer, ...]:
        """The offers, ``shared`` and ``steps`` being the decision's own reasons (the shared
        layers') and recourse; ``plan=False``: no product steps (a person's decision)."""
        seen: dict[Point, tuple[Any, ...]] = {}  # re-decisions the products' recourse shares
        return tuple(
            self.offer(r, row, values, shared, steps, as_of, seen, plan) for r in self.readers
        )

    def offer(
        self,
        r: _Reader,
        row: Mapping[str, Any],
        values: tuple[Any, ...],
        shared: tuple[Reason, ...],
        steps: tuple[RecourseStep, ...],
        as_of: date,
        seen: dict[Point, tuple[Any, ...]],
        plan: bool = True,
    ) -> ProductOffer:
        status = values[r.status]
        limit = values[r.limit]
        p = r.product
        if status == ProductStatus.OFFERED:
            key = "offered_plans" if p.kind is ProductKind.INSTALMENT else "offered"
            funding = tuple(
                FundingPart(lender, name, own, values[at]) for lender, name, own, at in r.funding
            )
            return ProductOffer(
                p.id,
                p.kind.value,
                r.name,
                status,
                limit,
                values[r.apr] if r.apr is not None else None,
                r.plans,
                funding,
                (),
                p.merchant_only,
                text("products", key, limit=f"{limit:,}"),
            )
        code = values[r.reason]
        reasons = shared if code is None else (self.own_reason(r, code, row, values),)
        recourse = (
            self.recourse.steps(p.id, row, values, as_of, steps, seen)
            if plan and status == ProductStatus.NOT_ELIGIBLE
            else ()
        )
        return ProductOffer(
            p.id,
            p.kind.value,
            r.name,
            status,
            None,
            None,
            (),
            (),
            reasons,
            p.merchant_only,
            text("products", status),
            recourse,
        )

    @staticmethod
    def own_reason(r: _Reader, code: str, row: Mapping[str, Any], values: Sequence[Any]) -> Reason:
        """The product's own reason: its first failing gate, or a joint loan not funded."""
        for gate, make, failed, field in r.gates:
            if values[failed]:
                return make(
                    row.get(gate.field) if field is None else values[field], None, True, False
                )
        assert code == NOT_FUNDED, code
        return Reason(code, Layer.SEGMENT.value, None, None, text("reasons", code), True)
