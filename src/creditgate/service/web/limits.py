"""Per-user attempt limit for "what if" (``CREDITGATE_WHATIF_PER_MINUTE``): a sliding window
of the last minute's attempts, per worker, for at most ``capacity`` users (least recently
seen evicted first)."""

from __future__ import annotations

import time
from collections import deque

WINDOW_S = 60.0


class PerUserLimit:
    def __init__(self, per_minute: int, capacity: int = 100_000) -> None:
        self.per_minute, self.capacity = per_minute, capacity
        self.seen: dict[str, deque[float]] = {}

    def allow(self, user_id: str, now: float | None = None) -> bool:
        moment = now if now is not None else time.monotonic()
        times = self.seen.pop(user_id, None) or deque()
        while times and times[0] <= moment - WINDOW_S:
            times.popleft()
        while len(self.seen) >= self.capacity:
            del self.seen[next(iter(self.seen))]
        self.seen[user_id] = times
        if len(times) >= self.per_minute:
            return False
        times.append(moment)
        return True
