"""Group commit: one writer thread per process appends whatever requests are waiting in one
transaction, so N concurrent decisions cost one lock hand-over, one chain-head update and one
commit instead of N. A request is acknowledged only after its batch committed. The thread
keeps one connection open (no pool check-out and ping per batch) and replaces it after an
error, which it logs by type and frames only (a database error's message may hold a user id).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from contextlib import suppress
from dataclasses import dataclass

from sqlalchemy import Connection

from creditgate.service.logs import report_error
from creditgate.store.repo import Appended, DecisionLog, Pending

MAX_BATCH = 64
log = logging.getLogger("creditgate.writer")


@dataclass(slots=True)
class _Ticket:
    pending: Pending
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Appended]


Outcome = tuple["asyncio.Future[Appended]", Appended, BaseException | None]


def _settle(outcomes: list[Outcome]) -> None:
    for future, result, error in outcomes:
        if future.done():  # the request was cancelled (client went away)
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)


class GroupWriter:
    def __init__(self, log: DecisionLog) -> None:
        self.log = log
        self.conn: Connection | None = None  # kept open between batches, replaced on error
        self.queue: queue.Queue[_Ticket] = queue.Queue()
        self.thread = threading.Thread(target=self._run, name="creditgate-writer", daemon=True)
        self.thread.start()

    async def submit(self, pending: Pending) -> Appended:
        """Wait (without blocking the event loop) until ``pending`` is committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Appended] = loop.create_future()
        self.queue.put(_Ticket(pending, loop, future))
        return await future

    def reset(self) -> None:
        """Drop the connection after a failure: the next batch starts on a fresh one."""
        conn, self.conn = self.conn, None
        if conn is not None:
            with suppress(Exception):
                conn.invalidate()
                conn.close()

    def _run(self) -> None:
        while True:
            batch = [self.queue.get()]
            while len(batch) < MAX_BATCH:
                try:
                    batch.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            try:
                if self.conn is None:
                    self.conn = self.log.engine.connect()
                results = self.log.append_many([t.pending for t in batch], self.conn)
            except BaseException as exc:  # every waiter learns it failed; the writer lives on
                report_error(log, "decision batch failed", exc, batch=len(batch))
                self.reset()
                self.notify(batch, [None] * len(batch), exc)
                continue
            self.notify(batch, results, None)

    @staticmethod
    def notify(batch: list[_Ticket], results: list[Appended], error: BaseException | None) -> None:
        """Wake each event loop once per batch, not once per request (each wake-up is a
        write to the loop's self-pipe and a GIL hand-over)."""
        by_loop: dict[asyncio.AbstractEventLoop, list[Outcome]] = {}
        for ticket, result in zip(batch, results, strict=True):
            by_loop.setdefault(ticket.loop, []).append((ticket.future, result, error))
        for loop, outcomes in by_loop.items():
            with suppress(RuntimeError):  # that loop was closed meanwhile
                loop.call_soon_threadsafe(_settle, outcomes)
