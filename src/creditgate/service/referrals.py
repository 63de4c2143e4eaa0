"""Referral to a licensed lender, only after the user's separate consent (PIPL Art. 23).

One set of functions for the API routes (``routes/referrals.py``) and the page. A referral
sends exactly the fields the lender asks for (``directory.yaml``), taken from the profile the
user's answer used, and only when unwithdrawn consents of the user to that lender cover every
one of them: a consent for fewer fields is not enough and the referral is refused naming the
fields missing (nothing is sent in part). The lender must be one the user's refusal names
(its published criteria met). Logs and the audit trail get field names, the lender and a keyed
hash of what was sent; never a value, never the raw user id.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

import orjson

from creditgate.explain.alternatives import LENDER_KIND
from creditgate.lenders.directory import Lender, packaged_directory
from creditgate.service.answers import Answer, answer
from creditgate.service.deps import Services
from creditgate.service.logs import actor_name, audit_log
from creditgate.service.security import Principal, pseudonym
from creditgate.store.canonical import canonical
from creditgate.store.referrals import (
    ConsentMissingError,
    Referral,
    ReferralConsent,
    ReferralStore,
)

__all__ = ["ConsentMissingError", "ReferralRefusedError", "Shared"]


class ReferralRefusedError(Exception):
    """Why a request cannot go ahead: ``status`` (404 unknown, 409 not possible for this
    user, 422 bad request) and a message that names no value."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class Shared:
    """A made referral and the values it hands to the lender's mini-program."""

    referral: Referral
    lender: Lender
    values: dict[str, Any]


def store(services: Services) -> ReferralStore:
    return ReferralStore(services.engine, services.events)


def lender(lender_id: str) -> Lender:
    found = packaged_directory().get(lender_id)
    if found is None:
        raise ReferralRefusedError(404, "no such lender in the directory")
    return found


def named_lenders(found: Answer) -> list[dict[str, Any]]:
    """The lenders the user's refusal names (``licensed_lender`` alternatives), ranked."""
    decision = found.decision or {}
    return [
        a["lender"]
        for a in decision.get("alternatives") or []
        if a.get("kind") == LENDER_KIND and isinstance(a.get("lender"), dict)
    ]


def _who(services: Services, caller: Principal, user_id: str) -> tuple[str, str]:
    return actor_name(caller, services.secret), pseudonym(services.secret, user_id)


def grant(
    services: Services, caller: Principal, user_id: str, lender_id: str, fields: list[str]
) -> ReferralConsent:
    """Record consent to share ``fields`` (some or all of those the lender asks for)."""
    target = lender(lender_id)
    unasked = sorted(set(fields) - set(target.fields))
    if not fields or unasked:
        raise ReferralRefusedError(
            422,
            f"fields not asked for by lender {lender_id}: {', '.join(unasked)}"
            if unasked
            else "name at least one field to share",
        )
    if user_id in services.state.withdrawn:
        raise ReferralRefusedError(409, "the user has withdrawn consent: nothing can be shared")
    actor, subject = _who(services, caller, user_id)
    consent = store(services).grant(user_id, lender_id, tuple(fields), actor, subject)
    audit_log(
        "referral.consent",
        actor,
        subject,
        lender=lender_id,
        fields=",".join(consent.fields),
        consent_id=consent.consent_id,
    )
    return consent


def withdraw(
    services: Services, caller: Principal, user_id: str, consent_id: str
) -> ReferralConsent:
    actor, subject = _who(services, caller, user_id)
    consent = store(services).withdraw(user_id, consent_id, actor, subject)
    if consent is None:
        raise ReferralRefusedError(404, "no such consent for this user")
    audit_log("referral.withdraw", actor, subject, lender=consent.lender_id, consent_id=consent_id)
    return consent


def withdraw_all(services: Services, caller: Principal, user_id: str) -> int:
    """Every active referral consent of the user (their general consent withdrawal)."""
    actor, subject = _who(services, caller, user_id)
    return store(services).withdraw_all(user_id, actor, subject)


def shared_hmac(services: Services, referral_lender: str, values: dict[str, Any]) -> str:
    """Keyed (``CREDITGATE_SECRET``) so the low-entropy values cannot be guessed back from
    the stored hash; operators holding the key can check what a referral sent."""
    body = canonical({"lender_id": referral_lender, "values": values})
    return hmac.new(services.secret, body, hashlib.sha256).hexdigest()


def refer(services: Services, caller: Principal, user_id: str, lender_id: str) -> Shared:
    """Make a referral: the consent check and the record are one transaction."""
    target = lender(lender_id)
    found = answer(services, user_id)
    if found.source == "withdrawn":
        raise ReferralRefusedError(409, "the user has withdrawn consent: nothing can be shared")
    if found.profile is None or found.decision is None:
        raise ReferralRefusedError(409, "the user has no decision to refer from")
    if lender_id not in {x["id"] for x in named_lenders(found)}:
        raise ReferralRefusedError(
            409,
            f"lender {lender_id} is not among the lenders the user's decision names "
            "(its published criteria are not met, or the decision is not a refusal)",
        )
    values = {name: found.profile.get(name) for name in target.fields}
    digest = shared_hmac(services, lender_id, values)
    actor, subject = _who(services, caller, user_id)
    made = store(services).refer(user_id, lender_id, target.fields, digest, actor, subject)
    audit_log(
        "referral.make",
        actor,
        subject,
        lender=lender_id,
        fields=",".join(target.fields),
        referral_id=made.referral_id,
        shared_hmac=digest,
    )
    return Shared(made, target, orjson.loads(orjson.dumps(values)))
