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
import pyarrow as pa

from creditgate.batch.decisions import SIGNATURE, with_reasons
from creditgate.batch.locations import Location, sibling
from creditgate.engines.signature import binding_expr, possible_values
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
OFFERED_KEY: Final = -1  # the reason-list key of an offered product: the empty list


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


def offer_enums(program: Program) -> dict[str, tuple[str, ...]]:
    """The offers columns that hold only values the program names (product, kind, status),
    which DuckDB writes as ENUMs: Parquet receives plain strings, dictionary-encoded without
    hashing every value again (half the CPU of writing three rows a user)."""
    products = program.policy.products
    return {
        "product": tuple(sorted({p.id for p in products})),
        "kind": tuple(sorted({p.kind.value for p in products})),
        "status": tuple(sorted(s.value for s in ProductStatus)),
    }


def reason_keys(program: Program) -> dict[str, int] | None:
    """Each code a product's own reason can be, to its reason-list key (``-2``, ``-3``...:
    signatures are never negative, ``OFFERED_KEY`` is the empty list); None when some
    product's reason can hold other than a listed string (the offers then build their lists
    per row, ``offers_of`` without ``lists``)."""
    codes: set[str] = set()
    for p in program.policy.products:
        key = ProductValue(p.id, ProductPart.REASON)
        if program.has(key):  # a product without gates of its own: always NULL, no codes
            values = possible_values(program, binding_expr(program, key.column), {})
            if values is None or not all(isinstance(v, str) for v in values):
                return None
            codes |= {v for v in values if isinstance(v, str)}
    return {code: -2 - i for i, code in enumerate(sorted(codes))}


def offer_lists(program: Program) -> pa.Table | None:
    """The reason lists the offers add to the decisions' (``SIGNATURE``, ``reason_codes``):
    the empty list at ``OFFERED_KEY`` and each product reason alone at its ``reason_keys``
    key; None when the reasons cannot be listed."""
    keys = reason_keys(program)
    if keys is None:
        return None
    rows = [(OFFERED_KEY, []), *((k, [code]) for code, k in keys.items())]
    return pa.table(
        {
            SIGNATURE: pa.array([k for k, _ in rows], pa.int64()),
            "reason_codes": pa.array([v for _, v in rows], pa.list_(pa.string())),
        }
    )


def offers_of(program: Program, decided: ir.Table, lists: ir.Table | None = None) -> ir.Table:
    """One row per user and product from ``decided`` (the ``offer_bindings`` columns and
    ``reason_codes``, or, with ``lists``, the reason signature ``_sig``).

    ``lists`` (``SIGNATURE``, ``reason_codes``) holds the decisions' lists by signature and
    ``offer_lists``: each offer row then takes its list by one integer key (its product's
    reason, offered, else the decision's signature) from that small table, so a list is
    never built or converted per row (on DuckDB it stays the staged ENUM list). Without
    ``offer_lists`` (a product reason that cannot be listed) the decisions' lists are joined
    first and each offer row builds its own."""
    keys = reason_keys(program) if lists is not None else None
    if lists is not None and keys is None:
        decided, lists = with_reasons(decided, lists), None
    parts: list[ir.Table] = []
    no_funding = ibis.literal([], type=FUNDING_TYPE)
    for p in program.policy.products:

        def col(part: ProductPart, pid: str = p.id) -> ir.Value:
            return decided[ProductValue(pid, part).column]

        status = col(ProductPart.STATUS)
        offered = status == ProductStatus.OFFERED.value
        apr_key = ProductValue(p.id, ProductPart.APR)
        apr = (
            decided[apr_key.column].cast("string") if program.has(apr_key) else ibis.null("string")
        )
        reason = col(ProductPart.REASON)
        codes: dict[str, ir.Value]
        if keys is not None:
            whens: list[tuple[ir.Value, ir.Value]] = []
            if keys and not reason.type().is_null():  # a product with reasons of its own
                by_code = {code: ibis.literal(k, "int64") for code, k in keys.items()}
                found = reason.cast("string").substitute(by_code, else_=ibis.null("int64"))
                whens.append((reason.notnull(), found))
            key = ibis.cases(
                *whens,
                (offered, ibis.literal(OFFERED_KEY, "int64")),
                else_=decided[SIGNATURE],
            )
            codes = {"_offer_key": key.cast("int64")}
        else:
            codes = {
                "reason_codes": ibis.cases(
                    (reason.notnull(), ibis.array([reason.cast("string")])),
                    (offered, ibis.literal([], type="array<string>")),
                    else_=decided["reason_codes"].cast("array<string>"),
                )
            }
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
            funding = ibis.cases((offered, ibis.array(funded)), else_=no_funding)
        parts.append(
            decided.select(
                user_id=decided["user_id"],
                product=ibis.literal(p.id),
                kind=ibis.literal(p.kind.value),
                status=status.cast("string"),
                limit_cny=col(ProductPart.LIMIT).cast("int64"),
                apr=apr,
                **codes,
                funding=funding.cast(FUNDING_TYPE),
            )
        )
    offers = ibis.union(*parts)
    if keys is None or lists is None:
        return offers
    listed = lists.select(_list_key=lists[SIGNATURE], reason_codes=lists["reason_codes"])
    joined = offers.left_join(listed, offers["_offer_key"] == listed["_list_key"])
    return joined.select(*OFFER_COLUMNS)
