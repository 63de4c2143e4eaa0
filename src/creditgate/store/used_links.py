"""Sign-in links of the self-check page that were already exchanged for a session.

A link is single use in every worker: the first ``use`` of its id inserts a row, any later
one hits the primary key. Rows are kept until the link would have expired anyway, then
dropped (an expired link is refused before it gets here).
"""

from __future__ import annotations

import time

from sqlalchemy import Engine, delete, insert
from sqlalchemy.exc import IntegrityError

from creditgate.store.models import used_links
from creditgate.store.repo import now_iso


class UsedLinks:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def use(self, token_id: str, expires: int, now: float | None = None) -> bool:
        """Record ``token_id`` as used; False when it was used before."""
        moment = int(now if now is not None else time.time())
        try:
            with self.engine.begin() as conn:
                conn.execute(delete(used_links).where(used_links.c.expires < moment))
                conn.execute(
                    insert(used_links).values(token_id=token_id, expires=expires, used_at=now_iso())
                )
        except IntegrityError:
            return False
        return True
