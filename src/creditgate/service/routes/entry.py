"""``GET /v1/users/{user_id}/entry``: is the loan entry visible? A set lookup, no I/O.

Ordinary requests are answered by ``fastlane.FastLane`` with ``entry_view``; this route serves
the rest (and documents the operation).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from creditgate.service.answers import entry_lookup
from creditgate.service.deps import Services, ServicesDep, UserFacing, own_user
from creditgate.service.schemas import EntryResponse

router = APIRouter(prefix="/v1", tags=["entry"])


def entry_view(services: Services, user_id: str) -> dict[str, Any]:
    """Visible or not by the user's one answer (``answers.entry_visible``: consent, then a
    real-time decision since the snapshot, then the snapshot). With no snapshot active, only
    real-time decisions (at the policy's floors) show the entry. While an experiment runs,
    the snapshot named is the user's arm's."""
    visible, snap = entry_lookup(services.state, user_id)
    return {
        "user_id": user_id,
        "entry_visible": visible,
        "snapshot_id": snap.snapshot_id if snap is not None else None,
        "policy_version": snap.meta.get("policy_version") if snap is not None else None,
        "snapshot_as_of": snap.meta.get("as_of") if snap is not None else None,
    }


@router.get("/users/{user_id}/entry")
async def entry(user_id: str, caller: UserFacing, services: ServicesDep) -> EntryResponse:
    """Whether the user sees the loan entry now: the latest real-time decision taken since
    the active snapshot, else the snapshot; hidden after a consent withdrawal."""
    own_user(caller, user_id)
    return EntryResponse(**entry_view(services, user_id))
