"""``GET /v1/users/{user_id}/entry``: is the loan entry visible? A set lookup, no I/O.

Ordinary requests are answered by ``fastlane.FastLane`` with ``entry_view``; this route serves
the rest (and documents the operation).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from creditgate.service.deps import Services, ServicesDep, UserFacing, own_user
from creditgate.service.schemas import EntryResponse

router = APIRouter(prefix="/v1", tags=["entry"])


def entry_view(services: Services, user_id: str) -> dict[str, Any]:
    """Visible when the user is in the active whitelist snapshot (and has not withdrawn
    consent). Without an active snapshot nobody sees the entry."""
    snap = services.state.snapshot
    if snap is None:
        return {
            "user_id": user_id,
            "entry_visible": False,
            "snapshot_id": None,
            "policy_version": None,
            "snapshot_as_of": None,
        }
    return {
        "user_id": user_id,
        "entry_visible": user_id in snap.invited and user_id not in services.state.withdrawn,
        "snapshot_id": snap.snapshot_id,
        "policy_version": snap.meta.get("policy_version"),
        "snapshot_as_of": snap.meta.get("as_of"),
    }


@router.get("/users/{user_id}/entry")
async def entry(user_id: str, caller: UserFacing, services: ServicesDep) -> EntryResponse:
    """Visible when the user is in the active whitelist snapshot (and has not withdrawn
    consent). Without an active snapshot nobody sees the entry."""
    own_user(caller, user_id)
    return EntryResponse(**entry_view(services, user_id))
