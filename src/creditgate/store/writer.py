"""Group commit: one writer thread per process appends whatever requests are waiting in one
transaction, so N concurrent decisions cost one lock hand-over, one chain-head update and one
commit instead of N. A request is acknowledged only after its batch committed.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass

from creditgate.store.repo import Appended, DecisionLog, Pending

MAX_BATCH = 64


@dataclass
class _Ticket:
    pending: Pending
    notify: Callable[[Appended, BaseException | None], object]


class GroupWriter:
    def __init__(self, log: DecisionLog) -> None:
        self.log = log
        self.queue: queue.Queue[_Ticket] = queue.Queue()
        self.thread = threading.Thread(target=self._run, name="creditgate-writer", daemon=True)
        self.thread.start()

    async def submit(self, pending: Pending) -> Appended:
        """Wait (without blocking the event loop) until ``pending`` is committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Appended] = loop.create_future()

        def settle(result: Appended, error: BaseException | None) -> None:
            if not future.done():
                if error is not None:
                    future.set_exception(error)
                else:
                    future.set_result(result)

        self.queue.put(_Ticket(pending, lambda r, e: loop.call_soon_threadsafe(settle, r, e)))
        return await future

    def _run(self) -> None:
        while True:
            batch = [self.queue.get()]
            while len(batch) < MAX_BATCH:
                try:
                    batch.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            try:
                results = self.log.append_many([t.pending for t in batch])
            except BaseException as exc:  # every waiter learns it failed; the writer lives on
                for ticket in batch:
                    ticket.notify(None, exc)
                continue
            for ticket, result in zip(batch, results, strict=True):
                ticket.notify(result, None)
