"""``/healthz``: liveness plus what is active (no personal data, no authentication)."""

from __future__ import annotations

from fastapi import APIRouter

from creditgate.service.deps import ServicesDep
from creditgate.service.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz(services: ServicesDep) -> Health:
    state = services.state
    return Health(
        status="degraded" if state.snapshot_refused else "ok",
        policy_version=state.policy_version,
        snapshot_id=state.snapshot.snapshot_id if state.snapshot else None,
        snapshot_refused=state.snapshot_refused,
    )
