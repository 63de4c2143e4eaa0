"""The product family as a table: one offer row per user and product, written beside the
decisions (``decisions.offers.parquet``) when the policy declares ``products:``.

Columns (``OFFER_COLUMNS``): ``user_id, product, kind, status, limit_cny, apr,
reason_codes, funding``. ``reason_codes``: the product's own reason when it has one, else
the decision's (empty when offered); ``funding``: each lender's yuan of an offered joint loan
(own lender first), empty otherwise. The same facts as ``Decision.offers``.
"""

from __future__ import annotations

from typing import Final

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from creditgate.batch.locations import Location, sibling
from creditgate.policy.bindings import Funding, ProductPart, ProductValue
from creditgate.policy.lower import Program
from creditgate.policy.nodes import ProductStatus

OFFER_COLUMNS: Final = (
    "user_id",
    "product",
    "kind",
    "status",
    "limit_cny",
    "apr",
    "reason_codes",
    "funding",
)
FUNDING_TYPE: Final = dt.Array(dt.Struct({"lender": dt.string, "amount_cny": dt.int64}))
_PARTS = (ProductPart.STATUS, ProductPart.REASON, ProductPart.LIMIT, ProductPart.APR)


def offers_path(out: Location) -> Location:
    """``decisions.parquet`` -> ``decisions.offers.parquet`` (next to the output)."""
    return sibling(out, ".offers.parquet")


def offer_bindings(program: Program) -> tuple[str, ...]:
    """The bindings the offers table reads: each product's status, reason, line, APR and
    lenders' parts (add them to a decided table's extra columns)."""
    names: list[str] = []
    for p in program.policy.products:
        keys: list[ProductValue | Funding] = [ProductValue(p.id, part) for part in _PARTS]
        keys += [Funding(p.id, lender.id) for lender in p.lenders]
        names += [k.column for k in keys if program.has(k)]
    return tuple(names)


def offers_of(program: Program, decided: ir.Table) -> ir.Table:
    """One row per user and product from ``decided`` (its ``reason_codes`` and the
    ``offer_bindings`` columns)."""
    parts: list[ir.Table] = []
    no_funding = ibis.literal([], type=FUNDING_TYPE)
    for p in program.policy.products:

        def col(part: ProductPart, pid: str = p.id) -> ir.Value:
            return decided[ProductValue(pid, part).column]

        status = col(ProductPart.STATUS)
        apr_key = ProductValue(p.id, ProductPart.APR)
        apr = (
            decided[apr_key.column].cast("string") if program.has(apr_key) else ibis.null("string")
        )
        reason = col(ProductPart.REASON)
        codes = ibis.cases(
            (reason.notnull(), ibis.array([reason.cast("string")])),
            (status == ProductStatus.OFFERED.value, ibis.literal([], type="array<string>")),
            else_=decided["reason_codes"].cast("array<string>"),
        )
        funding: ir.Value = no_funding
        if p.lenders:
            funded = [
                ibis.struct(
                    {
                        "lender": ibis.literal(lender.id),
                        "amount_cny": decided[Funding(p.id, lender.id).column].cast("int64"),
                    }
                )
                for lender in p.lenders
            ]
            offered = status == ProductStatus.OFFERED.value
            funding = ibis.cases((offered, ibis.array(funded)), else_=no_funding)
        parts.append(
            decided.select(
                user_id=decided["user_id"],
                product=ibis.literal(p.id),
                kind=ibis.literal(p.kind.value),
                status=status.cast("string"),
                limit_cny=col(ProductPart.LIMIT).cast("int64"),
                apr=apr,
                reason_codes=codes,
                funding=funding.cast(FUNDING_TYPE),
            )
        )
    return ibis.union(*parts)
