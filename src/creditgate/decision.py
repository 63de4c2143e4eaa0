"""The decision contract (docs/architecture.md, "Contracts"): what every engine and the
service return."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Final, NamedTuple

from creditgate.explain.catalogue import text
from creditgate.policy.bindings import Fixed
from creditgate.policy.nodes import Outcome

Text = dict[str, str]


class Reason(NamedTuple):
    """One fired rule. (NamedTuples: immutable and cheap to build on the hot path.)"""

    code: str
    layer: str
    observed: Any
    required: str | None
    message: Text
    principal: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "layer": self.layer,
            "observed": jsonable(self.observed),
            "required": self.required,
            "message": self.message,
            "principal": self.principal,
        }


class RecourseStep(NamedTuple):
    """One change (or a date to wait for) that clears a failing rule.

    ``to`` is a value that passes; ``eta`` is set when time alone clears it (apply no change,
    decide again on that date); ``immutable`` marks what the user cannot change.
    """

    code: str
    field: str
    from_: Any
    to: Any
    eta: date | None
    immutable: bool
    message: Text

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "field": self.field,
            "from": jsonable(self.from_),
            "to": jsonable(self.to),
            "eta": self.eta.isoformat() if self.eta else None,
            "immutable": self.immutable,
            "message": self.message,
        }


class Alternative(NamedTuple):
    kind: str
    message: Text
    # a named licensed lender (``lenders/directory.Lender.public``), kind ``licensed_lender``
    lender: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        if self.lender is None:
            return {"kind": self.kind, "message": self.message}
        return {"kind": self.kind, "message": self.message, "lender": self.lender}


class Notice(NamedTuple):
    """A change to what the user already had, told to them (docs/policy.md, "stability"):
    ``LIMIT_REDUCED`` (with the line held before), ``INVITATION_WITHDRAWN``, ``SERVICING``."""

    code: str
    message: Text
    previous_limit_cny: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.previous_limit_cny is not None:
            out["previous_limit_cny"] = self.previous_limit_cny
        return out


class PlanTerms(NamedTuple):
    """An instalment plan as offered: the fee per period on the original principal and the
    APR of its repayment schedule by the IRR method (monthly IRR x 12)."""

    periods: int
    fee_per_period: Decimal
    apr: Decimal

    def to_dict(self) -> dict[str, Any]:
        return {
            "periods": self.periods,
            "fee_per_period": str(self.fee_per_period),
            "apr": str(self.apr),
            "apr_method": "nominal",
        }


class FundingPart(NamedTuple):
    """Who funds how much of a joint loan (``own``: the platform's own lender)."""

    lender: str
    name: Text
    own: bool
    amount_cny: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "lender": self.lender,
            "name": self.name,
            "own": self.own,
            "amount_cny": self.amount_cny,
        }


class ProductOffer(NamedTuple):
    """One product of the policy's family for this user (docs/policy.md, "products"):
    ``offered`` with its line and price, or ``not_eligible`` / ``referred`` with the reasons
    (the product's own, or the shared layers' when those left the user out) and, when not
    eligible, its own recourse."""

    product: str
    kind: str
    name: Text
    status: str
    limit_cny: int | None
    apr: Decimal | None
    plans: tuple[PlanTerms, ...]
    funding: tuple[FundingPart, ...]
    reasons: tuple[Reason, ...]
    merchant_only: bool
    message: Text
    # Not offered: the changes (and the date) after which this product is offered, in the
    # decision's recourse shape (``explain.product_recourse``); empty when offered.
    recourse: tuple[RecourseStep, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "product": self.product,
            "kind": self.kind,
            "name": self.name,
            "status": self.status,
            "limit_cny": self.limit_cny,
            "apr": str(self.apr) if self.apr is not None else None,
            "merchant_only": self.merchant_only,
            "plans": [p.to_dict() for p in self.plans],
            "funding": [f.to_dict() for f in self.funding],
            "reasons": [r.to_dict() for r in self.reasons],
            "recourse": [s.to_dict() for s in self.recourse],
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class OutputColumn:
    """One column of the decision as a table (``batch`` writes them, ``Decider`` reads the
    same bindings): the program binding it comes from and the type it is written as."""

    name: str
    binding: Fixed | None  # None: made from other values (the id, visibility, reason list)
    cast: str | None = None  # the Ibis type written, when the binding's is not it


DECISION_COLUMNS: Final = (
    OutputColumn("user_id", None),
    OutputColumn("outcome", Fixed.OUTCOME),
    OutputColumn("entry_visible", None),  # entry != "hidden"
    OutputColumn("score", Fixed.SCORE, "int64"),
    OutputColumn("pd", Fixed.PD, "float64"),
    OutputColumn("limit_cny", Fixed.LIMIT, "int64"),
    OutputColumn("daily_rate", Fixed.DAILY_RATE, "string"),
    OutputColumn("apr", Fixed.APR, "string"),
    OutputColumn("reason_codes", None),
    OutputColumn("entry", Fixed.ENTRY),
    OutputColumn("retained", Fixed.RETAINED),
    OutputColumn("limit_reduced", Fixed.LIMIT_REDUCED),
    OutputColumn("withdrawn", Fixed.WITHDRAWN),
    OutputColumn("invited_since", Fixed.INVITED_SINCE, "date"),
)
"""The decision contract's columns, in order: the one list of them."""

OUTPUT_COLUMNS: Final = tuple(c.name for c in DECISION_COLUMNS)
BINDING_OF: Final = MappingProxyType(
    {c.name: c.binding for c in DECISION_COLUMNS if c.binding is not None}
)
"""The program binding each column read from the program comes from."""


class Decision(NamedTuple):
    """One decision, immutable. A NamedTuple because it is built on the hot path:
    ``Decider.decide`` makes it with ``tuple.__new__``, no Python-level constructor."""

    decision_id: str
    user_id: str
    policy_name: str
    policy_version: str
    as_of: date
    outcome: str
    score: int | None
    pd: float | None
    limit_cny: int | None
    daily_rate: Decimal | None
    apr: Decimal | None
    terms: tuple[int, ...]
    reasons: tuple[Reason, ...]
    recourse: tuple[RecourseStep, ...]
    alternatives: tuple[Alternative, ...]
    internal: dict[str, Any]  # operators only (which fraud rule fired), never to users
    # What the app shows: "offer" (invited), "servicing" (a loan is outstanding: repaying
    # stays reachable, no new drawing) or "hidden".
    entry: str = "hidden"
    retained: bool = False  # invited only because the hysteresis kept an invitation
    notices: tuple[Notice, ...] = ()
    invited_since: date | None = None  # when the invitation an invited user holds began
    # One per product of the policy's family (empty without a ``products:`` section: the
    # top-level fields are the cash loan's, and the JSON has no "offers").
    offers: tuple[ProductOffer, ...] = ()

    @property
    def review(self) -> dict[str, Any]:
        """How to ask a person to review this automated decision (PIPL Art. 24). The message
        is for the user (a button on their page, never an API path); ``endpoint`` is for
        programs. Under ``manual_review`` a person already is: the message says so."""
        return {
            "right": "PIPL Art. 24",
            "endpoint": "POST /v1/reviews",
            "decision_id": self.decision_id,
            "message": text(
                "review", "in_progress" if self.outcome == Outcome.MANUAL_REVIEW else "ask"
            ),
        }

    @property
    def entry_visible(self) -> bool:
        return self.entry != "hidden"

    @property
    def reason_codes(self) -> tuple[str, ...]:
        return tuple(r.code for r in self.reasons)

    def to_dict(self, langs: tuple[str, ...] | None = None) -> dict[str, Any]:
        """The JSON contract; ``langs`` keeps only those languages' messages."""
        out: dict[str, Any] = {
            "decision_id": self.decision_id,
            "user_id": self.user_id,
            "policy": {"name": self.policy_name, "version": self.policy_version},
            "as_of": self.as_of.isoformat(),
            "outcome": self.outcome,
            "entry_visible": self.entry_visible,
            "entry": self.entry,
            "retained": self.retained,
            "notices": [n.to_dict() for n in self.notices],
            "invited_since": self.invited_since.isoformat() if self.invited_since else None,
            "score": self.score,
            "pd": self.pd,
            "limit_cny": self.limit_cny,
            "daily_rate": str(self.daily_rate) if self.daily_rate is not None else None,
            "apr": str(self.apr) if self.apr is not None else None,
            "terms": list(self.terms),
            "reasons": [r.to_dict() for r in self.reasons],
            "recourse": [s.to_dict() for s in self.recourse],
            "alternatives": [a.to_dict() for a in self.alternatives],
            "review": self.review,
        }
        if self.offers:
            out["offers"] = [o.to_dict() for o in self.offers]
        return out if langs is None else only_langs(out, langs)


def jsonable(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def only_langs(obj: Any, langs: tuple[str, ...]) -> Any:
    """Drop messages in other languages, recursively (a message is a dict keyed by language)."""
    if isinstance(obj, dict):
        if obj and set(obj) <= {"zh-CN", "en"}:
            return {k: v for k, v in obj.items() if k in langs}
        return {k: only_langs(v, langs) for k, v in obj.items()}
    if isinstance(obj, list):
        return [only_langs(v, langs) for v in obj]
    return obj
