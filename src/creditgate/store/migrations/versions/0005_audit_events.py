"""The event chain (``audit_events``, ``event_head``), seeded with what already exists.

An existing database gets events (actor ``migration``) for its policies, snapshots, active
settings and already erased decisions, so that ``audit verify`` checks them from now on:
they attest the state found at the upgrade, nothing before it.

Revision ID: 0005_audit_events
"""

from __future__ import annotations

import orjson
from alembic import op
from sqlalchemy import select

from creditgate.store.canonical import sha256
from creditgate.store.events import append_event
from creditgate.store.models import (
    GENESIS,
    active,
    audit_events,
    decisions,
    event_head,
    policies,
    snapshots,
)

revision = "0005_audit_events"
down_revision = "0004_snapshot_sha256"
branch_labels = None
depends_on = None

ACTOR = "migration"


def upgrade() -> None:
    bind = op.get_bind()
    audit_events.create(bind, checkfirst=True)  # 0001 creates every table of a fresh database
    event_head.create(bind, checkfirst=True)
    if bind.execute(select(event_head.c.id)).first() is None:
        bind.execute(event_head.insert().values(id=1, seq=0, hash=GENESIS))
    if bind.execute(select(audit_events.c.seq)).first() is not None:
        return
    for p in bind.execute(select(policies.c.version, policies.c.name, policies.c.sha256)):
        body = {"version": p.version, "name": p.name, "sha256": p.sha256}
        append_event(bind, "policy_registered", ACTOR, None, body)
    for s in bind.execute(select(snapshots)).all():
        body = {
            "snapshot_id": s.snapshot_id,
            "sha256": None,  # not known for a snapshot registered before the event chain
            "invited": s.invited,
            "path": s.path,
            "meta_sha256": sha256(s.meta.encode()),
        }
        append_event(bind, "snapshot_registered", ACTOR, None, body)
    for a in bind.execute(select(active)).all():
        append_event(bind, "host_activation", ACTOR, None, {"key": a.key, "value": a.value})
    erased = [
        r.decision_id
        for r in bind.execute(
            select(decisions.c.decision_id, decisions.c.inputs, decisions.c.inputs_hash).where(
                decisions.c.inputs.like('{"erased":true%')  # a tombstone (canonical JSON)
            )
        )
        if orjson.loads(r.inputs).get("erased") and sha256(r.inputs.encode()) != r.inputs_hash
    ]
    if erased:
        append_event(bind, "erasure", ACTOR, None, {"user": None, "decisions": sorted(erased)})


def downgrade() -> None:
    bind = op.get_bind()
    audit_events.drop(bind, checkfirst=True)
    event_head.drop(bind, checkfirst=True)
