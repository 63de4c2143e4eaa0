"""Service configuration from ``CREDITGATE_*`` environment variables (pydantic-settings).

Several uvicorn workers are separate processes, so everything they must agree on (database,
tokens, the user-token secret) comes from the environment rather than from Python objects.
"""

from __future__ import annotations

from functools import cached_property

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

ROLES = frozenset({"service", "viewer", "operator", "admin"})


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CREDITGATE_", extra="ignore")

    db_url: str = "sqlite:///creditgate.db"
    tokens: str = ""  # "role:token,role:token"
    secret: str = ""  # HMAC key for user tokens and log pseudonyms
    policy_path: str | None = None  # registered (and activated if none is) at startup
    snapshot_path: str | None = None  # copied into snapshot_dir, registered, activated at startup
    # admin snapshot loads come only from here; default: snapshots/ beside the SQLite file,
    # else ./snapshots (service/snapshot_files.py)
    snapshot_dir: str | None = None
    migrate: bool = True  # False in uvicorn workers: `serve` migrated before forking
    max_body_bytes: int = 64 * 1024
    rate_limit_per_s: float = 200.0  # per client; 0 disables
    rate_limit_burst: int = 400
    state_refresh_s: float = 1.0  # how often a worker re-reads the active policy/snapshot
    access_log: bool = True
    # A snapshot refresh of the active policy moving the invited share by at most this
    # (absolute) goes live without a second person (service/approvals.py).
    routine_refresh_tolerance: float = Field(default=0.01, ge=0.0, le=1.0)

    anchor_path: str | None = None  # when set, each worker appends signed chain heads here
    anchor_interval_s: float = 60.0
    anchor_keys: str = ""  # "kid:hexkey,...": the first signs (store/anchors.py)

    log_level: str = "INFO"  # DEBUG, INFO, WARNING, ERROR or CRITICAL (JSON lines on stderr)

    @cached_property
    def token_roles(self) -> dict[str, str]:
        """Parse ``CREDITGATE_TOKENS``; an unknown role is a configuration error."""
        out: dict[str, str] = {}
        for item in filter(None, (p.strip() for p in self.tokens.split(","))):
            role, sep, token = item.partition(":")
            if not sep or role not in ROLES or len(token) < 8:
                raise ValueError(
                    f"CREDITGATE_TOKENS: {role!r}: expected role:token with a role in "
                    f"{sorted(ROLES)} and a token of at least 8 characters"
                )
            out[token] = role
        return out

    @property
    def secret_bytes(self) -> bytes:
        if not self.secret:
            raise ValueError("CREDITGATE_SECRET is not set")
        return self.secret.encode()
