"""Four-eyes review of activations under ``/v1/admin/changes``: list the proposals with their
effect, approve (an admin other than the proposer) or reject (any operator or admin)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query

from creditgate.service import approvals
from creditgate.service.deps import AdminReader, AdminWriter, Approver, ServicesDep
from creditgate.service.schemas import ChangeDecision, ChangeInfo

router = APIRouter(prefix="/v1/admin/changes", tags=["admin"])


@router.get("")
def list_changes(
    _: AdminReader,
    services: ServicesDep,
    status: Literal["proposed", "approved", "rejected"] | None = "proposed",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[ChangeInfo]:
    return [ChangeInfo(**c) for c in services.changes.list(status, limit)]


@router.get("/{change_id}")
def show_change(change_id: str, _: AdminReader, services: ServicesDep) -> ChangeInfo:
    found = services.changes.get(change_id)
    if found is None:
        raise HTTPException(404, "no such change")
    return ChangeInfo(**found)


@router.post("/{change_id}/approve")
def approve_change(
    change_id: str, body: ChangeDecision, caller: Approver, services: ServicesDep
) -> ChangeInfo:
    """Approve and activate (a second person: an admin who did not propose it)."""
    return ChangeInfo(**approvals.approve(services, change_id, caller, body.note))


@router.post("/{change_id}/reject")
def reject_change(
    change_id: str, body: ChangeDecision, caller: AdminWriter, services: ServicesDep
) -> ChangeInfo:
    return ChangeInfo(**approvals.reject(services, change_id, caller, body.note))
