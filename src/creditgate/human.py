"""A person's decision on a reviewed case: derived from the contested decision, never from the
engine, so that ``replay`` can derive it again from the review row and that decision alone.

Only refusals (entry hidden: ``not_invited``, ``referred``) and ``manual_review`` decisions
are reviewed into a new decision; an invitation has nothing to overturn. A manual review
resolves ``approve`` / ``decline``, an appeal ``upheld`` / ``overturned``: ``approve`` and
``overturned`` invite, ``decline`` and ``upheld`` refuse.

Invited by a person: the limit and price are the contested decision's when it had them,
else the policy's offer for the user's profile, i.e. what the same policy (cut at the same
snapshot) gives that profile once invited (``forced_offer``: the lowered program with the
outcome forced to ``invited``, so the segment's limit row and the score's price band are the
policy's own). A profile whose score is unknown (e.g. consent missing) gets the smallest
line at the highest price the policy offers. Under a product family the offers are always
the policy's for the invited profile (``forced_offer``), never the contested decision's
(which left the user out of every product): products whose own gates fail stay
``not_eligible`` with their own reasons. Refused by a person: the contested decision's
reasons, worded as a refusal rather than as a review in progress, and a notice that a person
reviewed the case; every product is refused with those reasons.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from creditgate.decider import Decider
from creditgate.engines.row import compile_program
from creditgate.explain.catalogue import text
from creditgate.policy.bindings import Fixed
from creditgate.policy.lower import Binding, Program
from creditgate.policy.nodes import Literal, Outcome, ProductStatus

APPROVING = frozenset({"approve", "overturned"})
RESOLUTIONS = {"manual_review": ("approve", "decline"), "appeal": ("upheld", "overturned")}
HARD_LAYERS = frozenset({"compliance", "credit", "behaviour", "region", "fraud"})
"""Layers of the gates and fraud rules: a later decision failing one of them that the reviewed
decision did not fail supersedes a person's decision (the hard facts changed)."""
_IN_REVIEW = ("FRAUD_SUSPECTED", "SCORE_BELOW_CUTOFF", "REGION_QUOTA")  # worded "in review"


def reviewable(decision: Mapping[str, Any]) -> bool:
    """Whether a person's resolution can change ``decision``: a refusal or a manual review
    (an invitation, or a servicing-only entry, has nothing to overturn)."""
    return not decision.get("entry_visible") and not decision.get("erased")


def forced_offer(decider: Decider, row: Mapping[str, Any], as_of: date) -> dict[str, Any]:
    """The limit, price and terms ``decider``'s policy gives ``row`` once invited, and with a
    product family its ``offers`` as that invitation makes them (each product's own gates
    still apply: one that fails stays ``not_eligible`` with its own reason)."""
    program = decider.program
    offer = decider.policy.offer
    forced: dict[str, Any] = {
        Fixed.OUTCOME.column: Outcome.INVITED.value,
        Fixed.POLICY_OUTCOME.column: Outcome.INVITED.value,
    }
    values = _forced_values(program, forced, row, as_of)
    limit, rate = values[program.at(Fixed.LIMIT)], values[program.at(Fixed.DAILY_RATE)]
    if limit is None or rate is None:  # no score: the smallest line at the highest price
        limit = offer.min_limit if limit is None else limit
        rate = offer.prices[-1].daily_rate if rate is None else rate
        forced[Fixed.LIMIT.column] = int(limit)
        forced[Fixed.DAILY_RATE.column] = rate
        forced[Fixed.APR.column] = rate * offer.days_per_year
        if decider.offers is not None:  # the products' lines follow the cash line
            values = _forced_values(program, forced, row, as_of)
    rate = Decimal(str(rate))
    out: dict[str, Any] = {
        "limit_cny": int(limit),
        "daily_rate": str(rate),
        "apr": str(rate * offer.days_per_year),
        "terms": list(offer.terms),
    }
    if decider.offers is not None:
        # a person's invitation carries no product steps: they are planned against the
        # engine's decision, which a person has overruled
        offers = decider.offers.offers(row, tuple(values), (), (), as_of, plan=False)
        out["offers"] = [o.to_dict() for o in offers]
    return out


def _forced_values(
    program: Program, forced: Mapping[str, Any], row: Mapping[str, Any], as_of: date
) -> Sequence[Any]:
    """``program``'s values for ``row`` with the bindings named in ``forced`` made constants
    (same positions, so the decider's ``OfferBuilder`` reads them)."""
    bindings = tuple(
        Binding(b.name, Literal(forced[b.name])) if b.name in forced else b
        for b in program.bindings
    )
    values: Sequence[Any] = compile_program(dataclasses.replace(program, bindings=bindings))(
        row, as_of
    )
    return values


def refused_offers(
    contested: Mapping[str, Any], reasons: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Every product of the contested decision refused with the person's decision's reasons."""
    return [
        {
            **o,
            "status": ProductStatus.NOT_ELIGIBLE.value,
            "limit_cny": None,
            "apr": None,
            "plans": [],
            "funding": [],
            "reasons": reasons,
            "message": text("products", ProductStatus.NOT_ELIGIBLE.value),
        }
        for o in contested["offers"]
    ]


def _as_refusal(reason: Mapping[str, Any]) -> dict[str, Any]:
    """A reason worded for a review in progress, worded as the refusal it now is."""
    out = dict(reason)
    code = out.get("code")
    if code == "FRAUD_SUSPECTED":
        out["message"] = text("reasons", code)
    elif code in _IN_REVIEW and isinstance(out.get("required"), str):
        bar = out["required"].removeprefix(">= ").strip()
        out["message"] = text("reasons", str(code), observed=out.get("observed"), required=bar)
    return out


def human_decision(
    contested: Mapping[str, Any],
    review: Mapping[str, Any],
    decision_id: str,
    offer: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The decision a person's resolution records. ``review``: ``review_id``, ``resolution``,
    ``operator`` (a principal's name) and ``decided_at`` (ISO, UTC); ``offer``: the contested
    decision's limit and price are used when it had them, else ``offer`` (``forced_offer``);
    a product family's offers are always ``offer``'s when invited (``forced_offer``), all
    refused with the decision's reasons when refused."""
    decided_at = str(review["decided_at"])
    invited = review["resolution"] in APPROVING
    out = dict(contested)
    out.pop("erased", None)
    out.update(
        decision_id=decision_id,
        outcome=Outcome.INVITED.value if invited else Outcome.NOT_INVITED.value,
        entry="offer" if invited else "hidden",
        entry_visible=invited,
        retained=False,
        kind="human",
        human={
            "review_id": review["review_id"],
            "resolution": review["resolution"],
            "reviewed_decision_id": contested["decision_id"],
            "reviewed_outcome": contested["outcome"],
            "reviewed_reasons": [r["code"] for r in contested.get("reasons", [])],
            "operator": review["operator"],
            "decided_at": decided_at,
        },
        review={
            **contested["review"],
            "decision_id": decision_id,
            "message": text("review", "ask"),
        },
    )
    if invited:
        terms = contested if contested.get("limit_cny") is not None else offer
        assert terms is not None, "an invitation without terms needs the policy's offer"
        out.update(
            limit_cny=terms["limit_cny"],
            daily_rate=terms["daily_rate"],
            apr=terms["apr"],
            terms=list(terms["terms"]),
            reasons=[],
            recourse=[],
            alternatives=[],
            invited_since=decided_at[:10],
            notices=[{"code": "HUMAN_APPROVED", "message": text("notices", "HUMAN_APPROVED")}],
        )
        if "offers" in contested:  # what the policy gives the invited profile, per product
            assert offer is not None and "offers" in offer, "the family's offers need the policy"
            out["offers"] = offer["offers"]
    else:
        out.update(
            limit_cny=None,
            daily_rate=None,
            apr=None,
            terms=[],
            reasons=[_as_refusal(r) for r in contested.get("reasons", [])],
            invited_since=None,
            notices=[{"code": "HUMAN_DECLINED", "message": text("notices", "HUMAN_DECLINED")}],
        )
        if "offers" in contested:
            out["offers"] = refused_offers(contested, out["reasons"])
    return out


def is_human(decision: Mapping[str, Any]) -> bool:
    return decision.get("kind") == "human" and isinstance(decision.get("human"), dict)
