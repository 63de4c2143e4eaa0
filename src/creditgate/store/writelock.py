"""A cross-process write lock for SQLite files.

SQLite serialises writers itself, but a writer that finds the database locked sleeps in
growing steps (its busy handler), which gives p99 latencies of hundreds of milliseconds with
several uvicorn workers. An ``flock`` on a side file hands the lock over immediately instead.
PostgreSQL needs none of this (its row lock on ``chain_head`` queues waiters), so there the
lock only serialises threads of one process, which costs nothing measurable.
"""

from __future__ import annotations

import fcntl
import os
import threading
import weakref
from types import TracebackType

from sqlalchemy import Engine


class WriteLock:
    def __init__(self, engine: Engine) -> None:
        self.thread_lock = threading.Lock()
        self.fd: int | None = None
        database = engine.url.database
        if engine.url.get_backend_name() == "sqlite" and database and database != ":memory:":
            self.fd = os.open(database + ".writelock", os.O_RDWR | os.O_CREAT, 0o600)
            # a short-lived store (a CLI command, an operation) must not leak its descriptor
            weakref.finalize(self, os.close, self.fd)

    def __enter__(self) -> None:
        self.thread_lock.acquire()
        if self.fd is not None:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX)
            except BaseException:
                self.thread_lock.release()
                raise

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
        self.thread_lock.release()
