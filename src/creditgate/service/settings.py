"""Service configuration from ``CREDITGATE_*`` environment variables (pydantic-settings).

Several uvicorn workers are separate processes, so everything they must agree on (database,
tokens, the user-token secret) comes from the environment rather than from Python objects.
"""

from __future__ import annotations

import hashlib
import logging
import re
from functools import cached_property

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from creditgate.service.security import Principal

ROLES = frozenset({"service", "viewer", "operator", "admin"})
NAME = re.compile(r"[a-z0-9_.-]{1,32}")
log = logging.getLogger("creditgate.service")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CREDITGATE_", extra="ignore")

    db_url: str = "sqlite:///creditgate.db"
    tokens: str = ""  # "name:role:token,..." (the older "role:token" still parses)
    secret: str = ""  # HMAC keys for user tokens and log pseudonyms: "new,old,..."
    max_token_ttl_s: int = 7 * 24 * 3600  # user tokens valid longer are refused
    # the self-check page (service/web): one-time sign-in links, sessions, "what if" attempts
    link_ttl_s: int = Field(default=15 * 60, ge=1)  # `token user --url` default lifetime
    session_ttl_s: int = Field(default=30 * 60, ge=60)
    whatif_per_minute: int = Field(default=10, ge=1)  # per user and worker
    # the operator console (service/console): idle timeout and absolute session lifetime
    console_idle_s: int = Field(default=15 * 60, ge=60)
    console_ttl_s: int = Field(default=8 * 3600, ge=60)
    public_docs: bool = False  # /docs, /redoc, /openapi.json without a viewer+ token
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
    # review as work (service/reviewing.py): how long an operator's claim on a queued review
    # holds, and how long a person's decision outranks later snapshots (service/realtime.py)
    review_claim_s: int = Field(default=900, ge=1)
    human_decision_days: float = Field(default=90, ge=0)

    anchor_path: str | None = None  # when set, each worker appends signed chain heads here
    anchor_interval_s: float = 60.0
    anchor_keys: str = ""  # "kid:hexkey,...": the first signs (store/anchors.py)

    log_level: str = "INFO"  # DEBUG, INFO, WARNING, ERROR or CRITICAL (JSON lines on stderr)

    @cached_property
    def principals(self) -> dict[str, Principal]:
        """Parse ``CREDITGATE_TOKENS`` into token -> named principal; a malformed entry, an
        unknown role or a repeated name or token is a configuration error."""
        out: dict[str, Principal] = {}
        for item in filter(None, (p.strip() for p in self.tokens.split(","))):
            parts = item.split(":", 2)
            if len(parts) == 3 and parts[1] in ROLES:
                name, role, token = parts
            elif len(parts) >= 2 and parts[0] in ROLES:
                role, token = parts[0], item.partition(":")[2]
                name = f"{role}-{hashlib.sha256(token.encode()).hexdigest()[:8]}"
                log.warning(
                    "CREDITGATE_TOKENS: role:token is deprecated, write name:role:token "
                    "(this one is named %s)",
                    name,
                )
            else:
                raise ValueError(
                    f"CREDITGATE_TOKENS: expected name:role:token with a role in {sorted(ROLES)}"
                )
            if NAME.fullmatch(name) is None or len(token) < 8:
                raise ValueError(
                    f"CREDITGATE_TOKENS: {role}: a name of 1-32 characters a-z 0-9 _ . - "
                    "and a token of at least 8 characters are required"
                )
            if token in out or name in {p.name for p in out.values()}:
                raise ValueError(f"CREDITGATE_TOKENS: {name!r}: names and tokens must be unique")
            out[token] = Principal(role, name)
        return out

    @property
    def secret_bytes(self) -> bytes:
        """The current key: it signs user tokens and keys log pseudonyms."""
        return self.secret_keys[0]

    @property
    def secret_keys(self) -> tuple[bytes, ...]:
        """Every key that verifies user tokens, the signing one first."""
        keys = tuple(k.strip().encode() for k in self.secret.split(",") if k.strip())
        if not keys:
            raise ValueError("CREDITGATE_SECRET is not set")
        return keys
