"""Joint lending: who funds how much of one loan.

Each partner's nominal part is its share of the limit rounded down to whole yuan; the
platform's own lender funds the rest, so the parts add up to the limit and the own lender's
is never below its share (at least ``jurisdiction.joint_min_own_share``, which the lint
checks). A partner that declines (one of its gates fails) funds nothing; one whose nominal
part is above its ``max_exposure_cny`` funds that much. What they leave (the *shortfall*):

- ``pass_to_next``: the accepting partners take it in list order, each up to its maximum
  exposure; what none can take is cut from the limit;
- ``reduce``: it is cut from the limit.

The own lender's part never changes, so its share of the (possibly smaller) loan only grows.
A funded loan below the product's ``min_cny`` is not offered (``JOINT_NOT_FUNDED``).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_FLOOR, Decimal
from itertools import product as patterns_of

from creditgate.policy.nodes import Lender, PartnerDecline, Product


def part(share: Decimal, limit: int) -> int:
    """``share`` of ``limit`` in whole yuan, rounded down."""
    return int((share * limit).to_integral_value(rounding=ROUND_FLOOR))


def allocate(
    limit: int,
    partners: Sequence[Lender],
    accepts: Sequence[bool],
    mode: PartnerDecline,
) -> tuple[int, ...]:
    """The yuan each lender funds, the own lender first then ``partners`` in order, for a
    loan of ``limit`` when ``accepts[i]`` says whether partner ``i`` accepts. Their sum is the
    funded limit (``limit`` or less)."""
    nominal = [part(p.share, limit) for p in partners]
    own = limit - sum(nominal)
    room = [
        (p.max_exposure_cny if p.max_exposure_cny is not None else limit) if ok else 0
        for p, ok in zip(partners, accepts, strict=True)
    ]
    funded = [min(n, r) for n, r in zip(nominal, room, strict=True)]
    if mode is PartnerDecline.PASS_TO_NEXT:
        shortfall = sum(nominal) - sum(funded)
        for i, r in enumerate(room):
            more = min(shortfall, r - funded[i])
            funded[i] += more
            shortfall -= more
    return (own, *funded)


def acceptance_patterns(product: Product) -> list[tuple[bool, ...]]:
    """Every combination of partners accepting or declining, all accepting first."""
    return list(patterns_of((True, False), repeat=len(product.partners)))
