"""Group commit: one writer thread per process appends whatever requests are waiting in one
transaction, so N concurrent decisions cost one lock hand-over, one chain-head update and one
commit instead of N. A request is acknowledged only after its batch committed.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass, field

from creditgate.store.repo import DecisionLog, Pending, Stored

MAX_BATCH = 64


@dataclass
class _Ticket:
    pending: Pending
    done: threading.Event = field(default_factory=threading.Event)
    result: tuple[Stored, bool] | None = None
    error: BaseException | None = None


class GroupWriter:
    def __init__(self, log: DecisionLog) -> None:
        self.log = log
        self.queue: queue.Queue[_Ticket] = queue.Queue()
        self.thread = threading.Thread(target=self._run, name="creditgate-writer", daemon=True)
        self.thread.start()

    def submit(self, pending: Pending) -> tuple[Stored, bool]:
        """Block until ``pending`` is committed (or its batch failed: the error is re-raised)."""
        ticket = _Ticket(pending)
        self.queue.put(ticket)
        ticket.done.wait()
        if ticket.error is not None:
            raise ticket.error
        assert ticket.result is not None
        return ticket.result

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
                for ticket, result in zip(batch, results, strict=True):
                    ticket.result = result
            except BaseException as exc:  # every waiter learns it failed; the writer lives on
                for ticket in batch:
                    ticket.error = exc
            for ticket in batch:
                ticket.done.set()
