"""The user-token revocation list: ids in a table, read into a set that every worker refreshes
on the same schedule as the active policy (``CREDITGATE_STATE_REFRESH_S``)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from creditgate.store.models import revoked_tokens

TOKEN_ID = re.compile(r"[0-9a-f]{16}")  # what ``issue_user_token`` draws


class RevocationList:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.ids: frozenset[str] = frozenset()

    def __call__(self) -> frozenset[str]:
        return self.ids

    def refresh(self) -> None:
        with self.engine.connect() as conn:
            self.ids = frozenset(conn.execute(select(revoked_tokens.c.token_id)).scalars())

    def revoke(self, token_id: str, by: str) -> bool:
        """Refuse ``token_id`` from now on (here at once, in other workers after a refresh);
        False when it was revoked already."""
        if TOKEN_ID.fullmatch(token_id) is None:
            raise ValueError("a token id is 16 lowercase hex digits")
        row = {
            "token_id": token_id,
            "revoked_by": by,
            "revoked_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        try:
            with self.engine.begin() as conn:
                conn.execute(revoked_tokens.insert(), row)
            created = True
        except IntegrityError:
            created = False
        self.ids = self.ids | {token_id}
        return created
