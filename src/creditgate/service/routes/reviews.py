"""``POST /v1/reviews``: any user may ask a person to review an automated decision."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from creditgate.service.deps import ServicesDep, UserFacing
from creditgate.service.logs import actor_name, audit_log
from creditgate.service.schemas import Review, ReviewRequest
from creditgate.service.security import pseudonym

router = APIRouter(prefix="/v1", tags=["reviews"])


@router.post("/reviews", status_code=201)
def request_review(body: ReviewRequest, caller: UserFacing, services: ServicesDep) -> Review:
    """Queue a decision for human review (PIPL Art. 24); operators resolve the queue."""
    stored = services.log.get(body.decision_id)
    if stored is None or (caller.role == "user" and caller.user_id != stored.user_id):
        raise HTTPException(404, "no such decision")
    review = Review(**services.catalog.add_review(stored.decision_id, stored.user_id, body.reason))
    subject = pseudonym(services.secret, stored.user_id)
    actor = actor_name(caller, services.secret)
    audit_log("review.request", actor, subject, review_id=review.review_id)
    return review
