"""``POST /v1/reviews``: any user may ask a person to review an automated decision."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException

from creditgate.service.deps import Services, ServicesDep, UserFacing
from creditgate.service.logs import actor_name, audit_log
from creditgate.service.review_queue import APPEAL, reviewed_facts
from creditgate.service.schemas import Review, ReviewRequest
from creditgate.service.security import Principal, pseudonym

router = APIRouter(prefix="/v1", tags=["reviews"])


@router.post("/reviews", status_code=201)
def request_review(body: ReviewRequest, caller: UserFacing, services: ServicesDep) -> Review:
    """Queue a decision for human review (PIPL Art. 24); operators resolve the queue."""
    stored = services.log.get(body.decision_id)
    if stored is None or (caller.role == "user" and caller.user_id != stored.user_id):
        raise HTTPException(404, "no such decision")
    review = open_review(services, caller, stored.decision_id, stored.user_id, body.reason)
    return Review(**review)


def open_review(
    services: Services, caller: Principal, decision_id: str, user_id: str, reason: str
) -> dict[str, Any]:
    """Queue ``decision_id`` (of ``user_id``) for a person as an appeal, with its reason
    codes (and, for operators, its fraud rules), on the admin-action trail; the API route and
    the self-check page both call this."""
    stored = services.log.get(decision_id)
    codes, rules = reviewed_facts(stored.decision) if stored is not None else ([], [])
    review, _ = services.catalog.add_review(
        decision_id, user_id, reason, kind=APPEAL, reason_codes=codes, fraud_rules=rules
    )
    subject = pseudonym(services.secret, user_id)
    audit_log(
        "review.request",
        actor_name(caller, services.secret),
        subject,
        review_id=review["review_id"],
    )
    return review
