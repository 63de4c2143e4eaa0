"""Everything besides the decision log: policy texts by version, snapshots, what is active,
the review queue and consent withdrawals. Small tables, plain functions over an engine."""

from __future__ import annotations

import os
from typing import Any

import orjson
from sqlalchemy import Engine, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from creditgate.store.canonical import sha256
from creditgate.store.models import (
    active,
    chain_head,
    consent_withdrawals,
    policies,
    reviews,
    snapshots,
)
from creditgate.store.repo import now_iso

_WITHDRAWN = select(consent_withdrawals.c.user_id).where(
    consent_withdrawals.c.user_id == bindparam("user_id")
)


class ConflictError(ValueError):
    """The request contradicts stored state (e.g. a version reused with a different text)."""


_USER_REVIEWS = (  # built once: it runs on every self-check page
    select(reviews)
    .where(reviews.c.user_id == bindparam("user"))
    .order_by(reviews.c.created_at.desc())
    .limit(bindparam("limit"))
)


class Catalog:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # policies ---------------------------------------------------------------------------
    def add_policy(self, version: str, name: str, text: str) -> bool:
        """Store a policy text by version (immutable: same version, other text -> ConflictError)."""
        digest = sha256(text.encode())
        existing = self.policy(version)
        if existing is not None:
            if existing["sha256"] != digest:
                raise ConflictError(f"policy version {version} is already stored with another text")
            return False
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(policies).values(
                        version=version, name=name, text=text, sha256=digest, created_at=now_iso()
                    )
                )
        except IntegrityError:
            return False
        return True

    def policy(self, version: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(policies).where(policies.c.version == version)).first()
        return dict(row._mapping) if row is not None else None

    def policies(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    policies.c.version, policies.c.name, policies.c.sha256, policies.c.created_at
                ).order_by(policies.c.created_at)
            ).all()
        return [dict(r._mapping) for r in rows]

    # active policy / snapshot -------------------------------------------------------------
    def active(self) -> dict[str, str]:
        with self.engine.connect() as conn:
            return {r.key: r.value for r in conn.execute(select(active)).all()}

    def activate(self, key: str, value: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(active).where(active.c.key == key))
            conn.execute(insert(active).values(key=key, value=value))

    def activate_together(self, values: dict[str, str]) -> None:
        """Activate several settings (a policy and its snapshot) in one transaction."""
        with self.engine.begin() as conn:
            for key, value in values.items():
                conn.execute(delete(active).where(active.c.key == key))
                conn.execute(insert(active).values(key=key, value=value))

    def set_default(self, key: str, value: str) -> None:
        """Activate ``value`` only when nothing is active yet (first start)."""
        if key not in self.active():
            try:
                with self.engine.begin() as conn:
                    conn.execute(insert(active).values(key=key, value=value))
            except IntegrityError:
                pass

    # snapshots ----------------------------------------------------------------------------
    def add_snapshot(
        self, snapshot_id: str, path: str, meta: str, invited: int, digest: str
    ) -> None:
        """Record a snapshot with its content's SHA-256 (``digest``), checked on activation
        and whenever a worker loads it."""
        with self.engine.begin() as conn:
            # registered again: keep the first registration's point (it may be active already)
            since = conn.execute(
                select(snapshots.c.since_seq).where(snapshots.c.snapshot_id == snapshot_id)
            ).scalar()
            if since is None:
                since = conn.execute(select(chain_head.c.seq)).scalar()
            conn.execute(delete(snapshots).where(snapshots.c.snapshot_id == snapshot_id))
            conn.execute(
                insert(snapshots).values(
                    snapshot_id=snapshot_id,
                    path=path,
                    meta=meta,
                    invited=invited,
                    loaded_at=now_iso(),
                    sha256=digest,
                    since_seq=since,
                )
            )

    def snapshot(self, snapshot_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(snapshots).where(snapshots.c.snapshot_id == snapshot_id)
            ).first()
        return dict(row._mapping) if row is not None else None

    def snapshots(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(snapshots).order_by(snapshots.c.loaded_at)).all()
        return [dict(r._mapping) for r in rows]

    # reviews ------------------------------------------------------------------------------
    def add_review(
        self,
        decision_id: str,
        user_id: str,
        reason: str,
        kind: str = "appeal",
        reason_codes: list[str] | None = None,
        fraud_rules: list[str] | None = None,
        review_id: str | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """Queue a review; returns it and whether this call inserted it. A fixed
        ``review_id`` makes the insert idempotent: the row already stored comes back with
        False (a manual review is queued once per decision, whoever queues it, and only the
        call that queued it writes the admin trail)."""
        row = {
            "review_id": review_id or "r_" + os.urandom(10).hex(),
            "decision_id": decision_id,
            "user_id": user_id,
            "reason": reason,
            "status": "open",
            "resolution": None,
            "note": None,
            "created_at": now_iso(),
            "resolved_at": None,
            "kind": kind,
            "reason_codes": orjson.dumps(reason_codes or []).decode(),
            "fraud_rules": orjson.dumps(fraud_rules or []).decode(),
        }
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(reviews).values(**row))
        except IntegrityError:
            found = self.review(str(row["review_id"])) if review_id is not None else None
            if found is None:
                raise
            return found, False
        return self.review(str(row["review_id"])) or row, True

    def review(self, review_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(reviews).where(reviews.c.review_id == review_id)).first()
        return dict(row._mapping) if row is not None else None

    def reviews(
        self, status: str | None, limit: int, kind: str | None = None
    ) -> list[dict[str, Any]]:
        """The queue, oldest first."""
        query = select(reviews).order_by(reviews.c.created_at).limit(limit)
        if status is not None:
            query = query.where(reviews.c.status == status)
        if kind is not None:
            query = query.where(reviews.c.kind == kind)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query).all()]

    def review_counts(self) -> tuple[dict[tuple[str, str], int], dict[str, str]]:
        """How many reviews per (kind, status), and each kind's oldest open item's
        ``created_at``."""
        with self.engine.connect() as conn:
            counts = conn.execute(
                select(reviews.c.kind, reviews.c.status, func.count()).group_by(
                    reviews.c.kind, reviews.c.status
                )
            ).all()
            oldest = conn.execute(
                select(reviews.c.kind, func.min(reviews.c.created_at))
                .where(reviews.c.status == "open")
                .group_by(reviews.c.kind)
            ).all()
        return {(k, s): int(n) for k, s, n in counts}, {k: str(t) for k, t in oldest}

    def user_reviews(self, user_id: str, limit: int = 20) -> list[dict[str, Any]]:
        """``user_id``'s reviews, the latest first (for the self-check page)."""
        with self.engine.connect() as conn:
            found = conn.execute(_USER_REVIEWS, {"user": user_id, "limit": limit}).all()
        return [dict(r._mapping) for r in found]

    def claim_review(self, review_id: str, who: str, now: str, until: str) -> bool:
        """``who`` claims an open review until ``until`` (ISO, UTC) unless another holds a
        claim that has not expired at ``now``; claiming again extends one's own claim."""
        free = or_(
            reviews.c.claimed_by.is_(None),
            reviews.c.claimed_by == who,
            reviews.c.claim_expires_at < now,
        )
        with self.engine.begin() as conn:
            result = conn.execute(
                update(reviews)
                .where(reviews.c.review_id == review_id, reviews.c.status == "open", free)
                .values(claimed_by=who, claimed_at=now, claim_expires_at=until)
            )
        return bool(result.rowcount)

    def release_review(self, review_id: str, who: str) -> bool:
        """Give up ``who``'s claim on an open review (False: not theirs, or not open)."""
        with self.engine.begin() as conn:
            result = conn.execute(
                update(reviews)
                .where(
                    reviews.c.review_id == review_id,
                    reviews.c.status == "open",
                    reviews.c.claimed_by == who,
                )
                .values(claimed_by=None, claimed_at=None, claim_expires_at=None)
            )
        return bool(result.rowcount)

    def resolve_review(
        self,
        review_id: str,
        resolution: str,
        note: str | None,
        who: str | None = None,
        resolved_at: str | None = None,
        human_decision_id: str | None = None,
    ) -> bool:
        """Close an open review; with ``who``, only while ``who`` holds its claim."""
        where = [reviews.c.review_id == review_id, reviews.c.status == "open"]
        if who is not None:
            where.append(reviews.c.claimed_by == who)
        with self.engine.begin() as conn:
            result = conn.execute(
                update(reviews)
                .where(*where)
                .values(
                    status="resolved",
                    resolution=resolution,
                    note=note,
                    resolved_at=resolved_at or now_iso(),
                    resolved_by=who,
                    human_decision_id=human_decision_id,
                    claim_expires_at=None,
                )
            )
        return bool(result.rowcount)

    def human_decisions_since(self, since: str) -> list[str]:
        """The ids of the human decisions recorded by reviews resolved at or after ``since``
        (ISO, UTC): those that may still outrank a newly activated snapshot."""
        with self.engine.connect() as conn:
            return list(
                conn.execute(
                    select(reviews.c.human_decision_id).where(
                        reviews.c.human_decision_id.is_not(None), reviews.c.resolved_at >= since
                    )
                ).scalars()
            )

    # consent ------------------------------------------------------------------------------
    def withdraw_consent(self, user_id: str) -> None:
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(consent_withdrawals).values(user_id=user_id, withdrawn_at=now_iso())
                )
        except IntegrityError:
            pass  # already withdrawn

    def consent_withdrawn(self, user_id: str) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(_WITHDRAWN, {"user_id": user_id}).first() is not None

    def withdrawn_users(self) -> frozenset[str]:
        with self.engine.connect() as conn:
            return frozenset(conn.execute(select(consent_withdrawals.c.user_id)).scalars())
