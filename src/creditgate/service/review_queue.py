"""Queuing a review: a ``manual_review`` decision once per decision, or a user's appeal
(``service/reviewing.py`` says how the queue is worked)."""

from __future__ import annotations

import hashlib
from typing import Any

from creditgate.service.deps import Services
from creditgate.service.logs import audit_log
from creditgate.service.security import pseudonym
from creditgate.store.repo import Stored

MANUAL = "manual_review"
APPEAL = "appeal"


def reviewed_facts(decision: dict[str, Any]) -> tuple[list[str], list[str]]:
    """A decision's reason codes, and the fraud rules that fired (operators only)."""
    codes = [str(r["code"]) for r in decision.get("reasons", [])]
    internal = decision.get("_internal")
    rules = internal.get("fraud_rules", []) if isinstance(internal, dict) else []
    return codes, [str(r) for r in rules]


def manual_review_id(decision_id: str) -> str:
    """The queue id of a manual-review decision: fixed, so it is queued once."""
    return "r_" + hashlib.sha256(f"manual_review\n{decision_id}".encode()).hexdigest()[:20]


def queue_manual_review(services: Services, stored: Stored) -> dict[str, Any]:
    """Queue a stored ``manual_review`` decision (idempotent: the trail's ``review.queue``
    line is written once, by the call that queued it)."""
    codes, rules = reviewed_facts(stored.decision)
    review, inserted = services.catalog.add_review(
        stored.decision_id,
        stored.user_id,
        "",
        kind=MANUAL,
        reason_codes=codes,
        fraud_rules=rules,
        review_id=manual_review_id(stored.decision_id),
    )
    if inserted:
        subject = pseudonym(services.secret, stored.user_id)
        audit_log("review.queue", "engine", subject, review_id=review["review_id"], kind=MANUAL)
    return review
