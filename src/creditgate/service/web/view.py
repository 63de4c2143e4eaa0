"""What the page shows of an ``Answer``: its state, the decision's own texts, the inputs a
user may see and dispute, and the inputs a user may try changing ("what if").

Fraud and security inputs (``Consent.SECURITY``) are never shown, tried or disputable; a
reason is shown by its message only (its observed and required values are in the message
where the user may see them; a fraud reason has only a generic one).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from creditgate.explain.product_recourse import UNREACHABLE
from creditgate.schema import PROFILE_FIELDS, Consent, Direction
from creditgate.service.answers import Answer

SHOWN = tuple(
    name
    for name, spec in PROFILE_FIELDS.items()
    if name != "user_id" and spec.consent is not Consent.SECURITY
)
"""Inputs the page lists (and a user may dispute), in contract order."""

TRIABLE = tuple(
    name
    for name, spec in PROFILE_FIELDS.items()
    if spec.direction is not Direction.NONE and spec.consent is not Consent.SECURITY
)
"""Inputs a user controls (the contract gives them a direction that helps)."""

DISPUTE_PREFIX = "dispute: "


class FieldValueError(ValueError):
    """A tried value that is not of its field's type; names the field only."""

    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.field = field


def state(found: Answer) -> str:
    """``visible``, ``servicing`` (the entry stays open for a loan outstanding, nothing new
    offered), ``hidden`` (with an explanation), ``none`` or ``withdrawn``."""
    if found.source == "withdrawn":
        return "withdrawn"
    if found.entry_visible:
        offered = found.decision is None or found.decision.get("entry", "offer") == "offer"
        return "visible" if offered else "servicing"
    return "hidden" if found.decision is not None else "none"


def reasons(decision: Mapping[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The principal reasons and the others."""
    items = list(decision.get("reasons") or [])
    return [r for r in items if r.get("principal")], [r for r in items if not r.get("principal")]


def steps(decision: Mapping[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Recourse steps a user can take, and the honest "cannot change" ones."""
    items = list(decision.get("recourse") or [])
    return [s for s in items if not s.get("immutable")], [s for s in items if s.get("immutable")]


def offers(decision: Mapping[str, Any], state: str) -> list[dict[str, Any]]:
    """The products to show, each with ``todo`` and ``fixed``: its own recourse steps (what
    makes THAT product offered) split as ``steps`` splits the decision's. On a refused
    user's page the decision's steps are listed above: a product's repeat none of them (the
    page names those they open in one list), and ``also`` says so; a product with no steps at
    all (a fraud rule, a referral) is left out there, its reasons being the decision's."""
    if state not in ("visible", "hidden"):
        return []
    shown = [] if state == "visible" else list(decision.get("recourse") or [])
    if state == "hidden" and shared_blocker(decision) is not None:
        shown += [shared_blocker(decision)]  # said once (``shared_blocker``), not per product
    out = []
    for offer in decision.get("offers") or []:
        if state == "hidden" and not offer.get("recourse"):
            continue
        own = [s for s in offer.get("recourse") or [] if s not in shown]
        out.append(
            {
                **offer,
                "todo": [s for s in own if not s.get("immutable")],
                "fixed": [s for s in own if s.get("immutable")],
                "also": bool(shown) and bool(offer.get("recourse")),
            }
        )
    return out


def shared_blocker(decision: Mapping[str, Any]) -> dict[str, Any] | None:
    """The cash loan's ``PRODUCT_UNREACHABLE`` step: even after the decision's steps something
    no step clears still refuses the user (a fraud rule), so no product is within reach. A
    refused user's page says it once, above the products."""
    for offer in decision.get("offers") or []:
        if offer.get("kind") == "cash":
            for step in offer.get("recourse") or []:
                if step.get("code") == UNREACHABLE:
                    found: dict[str, Any] = step
                    return found
    return None


def inputs(found: Answer) -> list[tuple[str, Any]]:
    """The shown inputs the decision used, as (field, value)."""
    profile = found.profile or {}
    return [(name, profile[name]) for name in SHOWN if name in profile]


def triable(found: Answer) -> list[str]:
    """Inputs to offer in "what if": those the recourse names first, then the others a user
    controls, each only when the profile has it."""
    if found.decision is None or found.profile is None:
        return []
    named = [s.get("field") for s in steps(found.decision)[0]]
    order = [f for f in named if f in TRIABLE] + list(TRIABLE)
    return [f for f in dict.fromkeys(order) if f in found.profile]


def form_field(name: str, value: Any) -> dict[str, Any]:
    """How the "what if" form renders one input."""
    spec = PROFILE_FIELDS[name]
    if spec.type is bool:
        return {"name": name, "kind": "bool", "value": bool(value)}
    return {
        "name": name,
        "kind": "number",
        "value": "" if value is None else str(value),
        "min": spec.ge,
        "max": spec.le,
        "step": spec.resolution,
    }


def parse_changes(fields: list[str], form: Mapping[str, str]) -> dict[str, Any]:
    """The tried values of ``fields`` as profile JSON values; ``FieldValueError`` names the
    first that is not of its type (ranges are the profile validation's to check)."""
    changes: dict[str, Any] = {}
    for name in fields:
        if name not in form:
            continue
        text, kind = form[name].strip(), PROFILE_FIELDS[name].type
        try:
            if kind is bool:
                changes[name] = {"true": True, "false": False}[text]
            elif kind is int:
                changes[name] = int(text)
            elif kind is float:
                number = float(text)
                if not math.isfinite(number):
                    raise ValueError(name)
                changes[name] = number
            else:  # Decimal: money travels as a string
                amount = Decimal(text)
                if not amount.is_finite():
                    raise ValueError(name)
                changes[name] = str(amount)
        except (KeyError, ValueError, InvalidOperation):
            raise FieldValueError(name) from None
    return changes


def disputed_field(reason: str) -> str | None:
    """The field a review disputes (its reason starts ``dispute: <field>``), or None."""
    if not reason.startswith(DISPUTE_PREFIX):
        return None
    name = reason[len(DISPUTE_PREFIX) :].split(" ", 1)[0]
    return name if name in SHOWN else None


def dispute_reason(field: str, note: str) -> str:
    """A dispute's review reason: the field first, then the user's note."""
    return f"{DISPUTE_PREFIX}{field} — {note}" if note else f"{DISPUTE_PREFIX}{field}"


def clean_note(text: str, limit: int = 500) -> str:
    """A user's note on one line: control characters dropped, trimmed, at most ``limit``."""
    kept = "".join(c if c.isprintable() else " " for c in text)
    return " ".join(kept.split())[:limit]
