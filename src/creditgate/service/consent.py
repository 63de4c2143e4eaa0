"""Consent withdrawal (PIPL Art. 15/47), one function for the API route and the page."""

from __future__ import annotations

from creditgate.service.deps import Services
from creditgate.service.logs import actor_name, audit_log
from creditgate.service.security import Principal, pseudonym
from creditgate.store.referrals import ReferralStore


def withdraw_consent(services: Services, caller: Principal, user_id: str) -> int:
    """Record the withdrawal, erase the stored inputs and personal fields of the user's
    decisions and their review texts (an ``erasure`` event keeps the chain verifiable), and
    hide the entry at once in this worker (others within a state refresh). Returns how many
    decisions were erased."""
    services.catalog.withdraw_consent(user_id)
    actor, subject = actor_name(caller, services.secret), pseudonym(services.secret, user_id)
    erased = services.log.erase_user(user_id, actor, subject)
    # consents to share fields with lenders end with it (docs/lenders.md)
    ReferralStore(services.engine, services.events).withdraw_all(user_id, actor, subject)
    services.state.withdrawn = services.state.withdrawn | {user_id}
    audit_log("consent.withdraw", actor, subject, erased_decisions=erased)
    return erased
