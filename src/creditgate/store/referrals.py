"""Consents to share named fields with a named lender, their withdrawal, and referrals.

Each change is written in one transaction with its event on the audit chain
(``referral_consent_granted``, ``referral_consent_withdrawn``, ``referral_made``; the subject is
the user's pseudonym), under the event chain's lock. A referral checks the consents inside that
transaction, so a withdrawal committed first always stops it. Nothing here stores a value of a
profile field: a referral keeps the field names and a keyed hash of what was sent.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, insert, select, update

from creditgate.store.events import EventLog, append_event
from creditgate.store.models import referral_consents, referrals
from creditgate.timeutil import SHANGHAI


def now_shanghai() -> str:
    """Now, in Asia/Shanghai with its offset (``2026-11-30T15:04:05.123456+08:00``)."""
    return datetime.now(SHANGHAI).isoformat(timespec="microseconds")


@dataclass(frozen=True, slots=True)
class ReferralConsent:
    consent_id: str
    lender_id: str
    fields: tuple[str, ...]
    granted_at: str
    withdrawn_at: str | None

    @property
    def active(self) -> bool:
        return self.withdrawn_at is None

    @classmethod
    def from_row(cls, row: Any) -> ReferralConsent:
        return cls(
            row.consent_id,
            row.lender_id,
            tuple(orjson.loads(row.fields)),
            row.granted_at,
            row.withdrawn_at,
        )


@dataclass(frozen=True, slots=True)
class Referral:
    referral_id: str
    lender_id: str
    fields: tuple[str, ...]
    consent_ids: tuple[str, ...]
    shared_hmac: str
    created_at: str


class ConsentMissingError(Exception):
    """No unwithdrawn consent covers these fields for this lender."""

    def __init__(self, lender_id: str, missing: tuple[str, ...]) -> None:
        self.lender_id, self.missing = lender_id, missing
        super().__init__(
            f"no consent to share {', '.join(missing)} with lender {lender_id}: "
            "the user must agree to share these fields with this lender first"
        )


class ReferralStore:
    def __init__(self, engine: Engine, events: EventLog) -> None:
        self.engine, self.events = engine, events

    def grant(
        self, user_id: str, lender_id: str, fields: tuple[str, ...], actor: str, subject: str
    ) -> ReferralConsent:
        """Record the user's consent to send ``fields`` to ``lender_id`` (a new consent each
        time: an earlier one stays until withdrawn)."""
        consent = ReferralConsent(
            "rc_" + secrets.token_hex(12),
            lender_id,
            tuple(sorted(set(fields))),
            now_shanghai(),
            None,
        )
        with self.events.write_lock, self.engine.begin() as conn:
            conn.execute(
                insert(referral_consents).values(
                    consent_id=consent.consent_id,
                    user_id=user_id,
                    lender_id=lender_id,
                    fields=orjson.dumps(list(consent.fields)).decode(),
                    granted_at=consent.granted_at,
                    granted_by=actor,
                )
            )
            body = {"consent_id": consent.consent_id, "lender_id": lender_id}
            append_event(
                conn, "referral_consent_granted", actor, subject, {**body, "fields": consent.fields}
            )
        return consent

    def withdraw(
        self, user_id: str, consent_id: str, actor: str, subject: str
    ) -> ReferralConsent | None:
        """Withdraw one of the user's consents (None when the user has no such consent);
        withdrawing a withdrawn consent changes nothing and records nothing."""
        with self.events.write_lock, self.engine.begin() as conn:
            row = conn.execute(
                select(referral_consents)
                .where(
                    referral_consents.c.consent_id == consent_id,
                    referral_consents.c.user_id == user_id,
                )
                .with_for_update()
            ).first()
            if row is None:
                return None
            if row.withdrawn_at is not None:
                return ReferralConsent.from_row(row)
            when = now_shanghai()
            self._mark_withdrawn(conn, [consent_id], when, actor)
            body = {"consent_id": consent_id, "lender_id": row.lender_id}
            append_event(conn, "referral_consent_withdrawn", actor, subject, body)
        return replace(ReferralConsent.from_row(row), withdrawn_at=when)

    def withdraw_all(self, user_id: str, actor: str, subject: str) -> int:
        """Withdraw every active consent of the user (their general consent withdrawal)."""
        with self.events.write_lock, self.engine.begin() as conn:
            ids = [
                r.consent_id
                for r in conn.execute(
                    select(referral_consents.c.consent_id).where(
                        referral_consents.c.user_id == user_id,
                        referral_consents.c.withdrawn_at.is_(None),
                    )
                )
            ]
            if ids:
                self._mark_withdrawn(conn, ids, now_shanghai(), actor)
                body = {"consent_ids": sorted(ids)}
                append_event(conn, "referral_consent_withdrawn", actor, subject, body)
        return len(ids)

    @staticmethod
    def _mark_withdrawn(conn: Connection, ids: list[str], when: str, actor: str) -> None:
        conn.execute(
            update(referral_consents)
            .where(referral_consents.c.consent_id.in_(ids))
            .values(withdrawn_at=when, withdrawn_by=actor)
        )

    def consents(self, user_id: str) -> list[ReferralConsent]:
        """The user's consents, oldest first, withdrawn ones included."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(referral_consents)
                .where(referral_consents.c.user_id == user_id)
                .order_by(referral_consents.c.granted_at, referral_consents.c.consent_id)
            )
            return [ReferralConsent.from_row(r) for r in rows]

    def refer(
        self,
        user_id: str,
        lender_id: str,
        fields: tuple[str, ...],
        shared_hmac: str,
        actor: str,
        subject: str,
    ) -> Referral:
        """Record a referral sending ``fields`` to ``lender_id``, only if unwithdrawn consents
        of the user to that lender cover every one of them (``ConsentMissingError`` otherwise).
        The check and the record are one transaction under the event chain's lock."""
        with self.events.write_lock, self.engine.begin() as conn:
            covering = conn.execute(
                select(referral_consents.c.consent_id, referral_consents.c.fields)
                .where(
                    referral_consents.c.user_id == user_id,
                    referral_consents.c.lender_id == lender_id,
                    referral_consents.c.withdrawn_at.is_(None),
                )
                # PostgreSQL: a withdrawal in flight is waited for and then seen
                .with_for_update()
            ).all()
            consented = {f for r in covering for f in orjson.loads(r.fields)}
            missing = tuple(f for f in fields if f not in consented)
            if missing:
                raise ConsentMissingError(lender_id, missing)
            used = tuple(
                sorted(r.consent_id for r in covering if set(orjson.loads(r.fields)) & set(fields))
            )
            referral = Referral(
                "rf_" + secrets.token_hex(12),
                lender_id,
                fields,
                used,
                shared_hmac,
                now_shanghai(),
            )
            conn.execute(
                insert(referrals).values(
                    referral_id=referral.referral_id,
                    user_id=user_id,
                    lender_id=lender_id,
                    consent_ids=orjson.dumps(list(used)).decode(),
                    fields=orjson.dumps(list(fields)).decode(),
                    shared_hmac=shared_hmac,
                    created_at=referral.created_at,
                    created_by=actor,
                )
            )
            body: dict[str, Any] = {
                "referral_id": referral.referral_id,
                "lender_id": lender_id,
                "fields": list(fields),
                "consent_ids": list(used),
                "shared_hmac": shared_hmac,
            }
            append_event(conn, "referral_made", actor, subject, body)
        return referral

    def referrals(self, user_id: str) -> list[Referral]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(referrals)
                .where(referrals.c.user_id == user_id)
                .order_by(referrals.c.created_at, referrals.c.referral_id)
            )
            return [
                Referral(
                    r.referral_id,
                    r.lender_id,
                    tuple(orjson.loads(r.fields)),
                    tuple(orjson.loads(r.consent_ids)),
                    r.shared_hmac,
                    r.created_at,
                )
                for r in rows
            ]
