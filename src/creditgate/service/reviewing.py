"""Review as work: the queue of ``manual_review`` decisions and appeals, claims, resolutions.

A real-time decision whose outcome is ``manual_review`` is queued once (its review id is
derived from its decision id) by the worker that stored it; an appeal (``POST /v1/reviews``,
the self-check page) is queued with the decision it contests. Each item carries the reviewed
decision's reason codes, and for operators the fraud rules that fired (its ``_internal``).

An operator (role operator or admin) claims an item for ``CREDITGATE_REVIEW_CLAIM_S`` seconds
(900 by default): meanwhile no other operator may claim or resolve it (409) until the claim
expires or its holder releases it. Resolving an unclaimed (or expired) item claims it in the
same step, so a single click works and two operators still cannot both resolve it.

Resolving a refusal or a manual review records a new chained decision of its own kind
(``creditgate.human``) in the decision log, under an idempotency key bound to the review and
its resolution, and the review row names it; the user's answer is that decision at once
(``realtime``). An appeal of an invitation has nothing to overturn: it may only be upheld, and
records no decision.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from creditgate.human import RESOLUTIONS, human_decision, reviewable
from creditgate.identifiers import new_decision_id
from creditgate.service.deciding import scoped_key
from creditgate.service.deps import Services
from creditgate.service.logs import actor_name, audit_log
from creditgate.service.review_queue import APPEAL
from creditgate.service.security import Principal, pseudonym
from creditgate.store.replay import ReplayResult, offer_for
from creditgate.store.repo import Stored, now_iso

HUMAN_CALLER = "review"  # the idempotency scope of the decisions people record


class ReviewError(Exception):
    """A refused review action, with its HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds")


def claim(services: Services, caller: Principal, review_id: str) -> dict[str, Any]:
    """Claim (or extend one's claim on) an open review; 404 unknown or closed, 409 held by
    another operator."""
    found = services.catalog.review(review_id)
    if found is None or found["status"] != "open":
        raise ReviewError(404, "no open review with that id")
    now = _now()
    until = now + timedelta(seconds=services.settings.review_claim_s)
    if not services.catalog.claim_review(review_id, caller.name, _iso(now), _iso(until)):
        raise ReviewError(409, "another operator holds this review")
    return _recorded(services, caller, review_id, "review_claimed", "review.claim")


def release(services: Services, caller: Principal, review_id: str) -> dict[str, Any]:
    """Give up one's claim (409 when the caller does not hold it)."""
    if not services.catalog.release_review(review_id, caller.name):
        raise ReviewError(409, "you hold no claim on an open review with that id")
    return _recorded(services, caller, review_id, "review_released", "review.release")


def _recorded(
    services: Services, caller: Principal, review_id: str, event: str, action: str
) -> dict[str, Any]:
    """After a claim or a release: its event and admin-trail line, and the row as it is now."""
    actor = actor_name(caller, services.secret)
    services.events.record(event, actor, None, {"review_id": review_id})
    audit_log(action, actor, review_id)
    row = services.catalog.review(review_id)
    assert row is not None
    return row


def resolve(
    services: Services, caller: Principal, review_id: str, resolution: str, note: str | None
) -> dict[str, Any]:
    """Resolve a review (claiming it first when nobody holds it): record the person's
    decision, close the row. Returns the closed row."""
    found = services.catalog.review(review_id)
    if found is None or found["status"] != "open":
        raise ReviewError(404, "no open review with that id")
    kind = str(found["kind"])
    if resolution not in RESOLUTIONS[kind]:
        allowed = " or ".join(RESOLUTIONS[kind])
        raise ReviewError(422, f"a {kind.replace('_', ' ')} resolves {allowed}")
    contested = services.log.get(str(found["decision_id"]))
    if contested is None:
        raise ReviewError(409, "the reviewed decision is not stored")
    changes = reviewable(contested.decision)
    if not changes and resolution != "upheld":
        raise ReviewError(422, "only refusals and manual reviews are reviewed: uphold it")
    until = found["claim_expires_at"]
    held = found["claimed_by"] == caller.name and until is not None and str(until) > _iso(_now())
    if not held:  # claim and resolve in one step (409 while another operator holds it)
        claim(services, caller, review_id)
    decided_at = now_iso()
    human_id = _record(services, caller, found, contested, resolution, decided_at)
    if not services.catalog.resolve_review(
        review_id, resolution, note, caller.name, decided_at, human_id
    ):
        raise ReviewError(409, "the claim expired and another operator took this review")
    actor = actor_name(caller, services.secret)
    event = {"review_id": review_id, "resolution": resolution, "decision_id": human_id}
    services.events.record("review_resolved", actor, None, event)  # the note stays out
    audit_log("review.resolve", actor, review_id, resolution=resolution, kind=kind)
    closed = services.catalog.review(review_id)
    assert closed is not None
    return closed


def _record(
    services: Services,
    caller: Principal,
    review: dict[str, Any],
    contested: Stored,
    resolution: str,
    decided_at: str,
) -> str | None:
    """Append the person's decision (none for an upheld invitation); its id."""
    if not reviewable(contested.decision):
        return None
    if contested.inputs is None:
        raise ReviewError(409, "the user withdrew consent: their data is erased")
    offer = None
    if resolution in ("approve", "overturned"):
        found = offer_for(services.catalog, contested)
        if isinstance(found, ReplayResult):
            raise ReviewError(409, "the reviewed decision's policy or snapshot is missing")
        offer = found
    facts = {
        "review_id": review["review_id"],
        "resolution": resolution,
        "operator": caller.name,
        "decided_at": decided_at,
    }
    doc = human_decision(contested.decision, facts, new_decision_id(), offer)
    inputs = {
        "review_id": review["review_id"],
        "reviewed_decision_id": contested.decision_id,
        **contested.inputs,  # the profile the person reviewed (as_of, snapshot cutoffs)
    }
    key = scoped_key(HUMAN_CALLER, str(review["review_id"]))
    appended = services.log.append(doc, inputs, key, False, request_hash=resolution)
    if appended is None:
        raise ReviewError(409, "the user withdrew consent: their data is erased")
    if isinstance(appended, str):  # the same review resolved otherwise meanwhile
        raise ReviewError(409, "this review was resolved otherwise meanwhile")
    stored, _ = appended
    services.state.realtime.note_human(stored)
    return stored.decision_id


def queue_item(
    services: Services, row: dict[str, Any], now: datetime | None = None
) -> dict[str, Any]:
    """A queue row as the admin API shows it: the user as a pseudonym, the reviewed
    decision's reason codes and fraud rules parsed, the item's age and claim."""
    now = now or _now()
    created = datetime.fromisoformat(str(row["created_at"]))
    claim_live = row.get("claim_expires_at") is not None and str(row["claim_expires_at"]) > _iso(
        now
    )
    return {
        **row,
        "user": pseudonym(services.secret, str(row["user_id"])),
        "kind": row.get("kind") or APPEAL,
        "reason_codes": orjson.loads(row.get("reason_codes") or "[]"),
        "fraud_rules": orjson.loads(row.get("fraud_rules") or "[]"),
        "claimed_by": row.get("claimed_by") if claim_live else None,
        "claimed_at": row.get("claimed_at") if claim_live else None,
        "claim_expires_at": row.get("claim_expires_at") if claim_live else None,
        "age_s": round((now - created).total_seconds(), 3),
    }


def summary(services: Services) -> dict[str, Any]:
    """Counts by kind and status, and the oldest open item's age (seconds) overall and per
    kind: what the console's queue header shows."""
    counts, oldest = services.catalog.review_counts()
    now = _now()
    ages = {
        kind: round((now - datetime.fromisoformat(created)).total_seconds(), 3)
        for kind, created in oldest.items()
    }
    by_kind: dict[str, dict[str, int]] = {k: {"open": 0, "resolved": 0} for k in RESOLUTIONS}
    for (kind, status), n in counts.items():
        by_kind.setdefault(kind, {"open": 0, "resolved": 0})[status] = n
    return {
        "counts": by_kind,
        "open": sum(c["open"] for c in by_kind.values()),
        "oldest_open_age_s": max(ages.values()) if ages else None,
        "oldest_open_age_s_by_kind": ages,
    }
