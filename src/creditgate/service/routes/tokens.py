"""``POST /v1/admin/tokens/revoke`` (admin): refuse a user token from now on."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from creditgate.service.deps import ServicesDep, require
from creditgate.service.security import Principal

router = APIRouter(prefix="/v1/admin/tokens", tags=["admin"])
Admin = Annotated[Principal, Depends(require("admin"))]


class TokenRevocation(BaseModel):
    token_id: str = Field(
        pattern=r"^[0-9a-f]{16}$",
        description="The user token's id: its third dot-separated field.",
    )


class TokenRevoked(BaseModel):
    token_id: str
    newly_revoked: bool  # False: it was revoked before


@router.post("/revoke")
def revoke_token(body: TokenRevocation, caller: Admin, services: ServicesDep) -> TokenRevoked:
    """Revoke a user token: refused at once here, in other workers within a state refresh."""
    created = services.revoked.revoke(body.token_id, caller.name)
    return TokenRevoked(token_id=body.token_id, newly_revoked=created)
