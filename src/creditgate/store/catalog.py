"""Everything besides the decision log: policy texts by version, snapshots, what is active,
the review queue and consent withdrawals. Small tables, plain functions over an engine."""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import Engine, bindparam, delete, insert, select, update
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
    def add_review(self, decision_id: str, user_id: str, reason: str) -> dict[str, Any]:
        row = {
            "review_id": "r_" + os.urandom(10).hex(),
            "decision_id": decision_id,
            "user_id": user_id,
            "reason": reason,
            "status": "open",
            "resolution": None,
            "note": None,
            "created_at": now_iso(),
            "resolved_at": None,
        }
        with self.engine.begin() as conn:
            conn.execute(insert(reviews).values(**row))
        return row

    def reviews(self, status: str | None, limit: int) -> list[dict[str, Any]]:
        query = select(reviews).order_by(reviews.c.created_at).limit(limit)
        if status is not None:
            query = query.where(reviews.c.status == status)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query).all()]

    def user_reviews(self, user_id: str, limit: int = 20) -> list[dict[str, Any]]:
        """``user_id``'s reviews, the latest first (for the self-check page)."""
        with self.engine.connect() as conn:
            found = conn.execute(_USER_REVIEWS, {"user": user_id, "limit": limit}).all()
        return [dict(r._mapping) for r in found]

    def resolve_review(self, review_id: str, resolution: str, note: str | None) -> bool:
        with self.engine.begin() as conn:
            result = conn.execute(
                update(reviews)
                .where(reviews.c.review_id == review_id, reviews.c.status == "open")
                .values(status="resolved", resolution=resolution, note=note, resolved_at=now_iso())
            )
        return bool(result.rowcount)

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
