"""The decided profiles a batch writes beside its snapshot (``snapshot_profiles``): which
stream they are read from, and, for a clean input on DuckDB, written while the run writes its
other outputs.

Writing them is the run's least parallel step: the hash, the file write and the ``fsync`` run
on one thread, and DuckDB waits between batches (10M users, 2026-12-01: 4.7 s of a 40 s run
with one core mostly idle). A clean input's profiles are its own rows contract-typed, which no
decision changes, so ``ProfilesBeside`` reads them on a second, small DuckDB in a thread of
their own while the decisions and offers are written, and the run only waits for the file
before it writes the snapshot that names it. The bytes are those of the serial path: the file
is a function of its rows (``snapshot_profiles.write_profiles``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import closing
from pathlib import Path

import duckdb
import ibis.expr.types as ir
import pyarrow as pa

from creditgate.batch.backends import Backend
from creditgate.snapshot_profiles import ProfilesOrderError, ProfilesRef, write_profiles


def write_sorted_profiles(
    backend: Backend, directory: Path, expr: ir.Table, try_input_order: bool = True
) -> ProfilesRef:
    """``write_profiles`` of ``expr`` sorted by ``user_id``, sorting only when it must.

    DuckDB streams the rows in the input's order first: an input already sorted by id (as
    exports often are) is written without a sort, which cost most of this step and grows
    faster than the rows (at 10M users the sorted stream took 12.8 CPU-s, the unsorted 5.2).
    At the first id out of order that attempt is dropped, nothing written, and the rows are
    streamed sorted: a shuffled input pays a batch more, one sorted but for its end a read
    more. Spark collects a result before its first batch, so it sorts at once, and so does
    ``try_input_order=False``, for an ``expr`` known not to keep the input's order (a dirty
    input's validated rows: the attempt failed there after most of a pass, 1M users with 2 %
    bad rows 1.2 -> 2.2 s).
    """
    if try_input_order and backend.name != "spark":
        with closing(backend.batches(expr)) as in_input_order:
            try:
                return write_profiles(directory, in_input_order)
            except ProfilesOrderError:
                pass
    with closing(backend.batches(expr.order_by("user_id"))) as in_id_order:
        return write_profiles(directory, in_id_order)


class _StoppedError(Exception):
    """The run no longer wants the file (it failed): the writer leaves nothing behind."""


class ProfilesBeside:
    """``expr`` (profile columns, on ``side``, a DuckDB of its own: ``backends.duckdb_beside``)
    written in the input's order into ``directory`` by a thread started now.

    ``result`` waits for the file: its ``ProfilesRef``, or None when the run must write it
    itself: ``unordered`` (an id out of order: the input is not sorted by id, so the run sorts
    at once) or the side database's small cap was not enough. ``close`` stops a writer still
    running (its temporary file is removed) and frees the side database; call it in every case.
    """

    def __init__(self, side: Backend, expr: ir.Table, directory: Path) -> None:
        self.unordered = False
        self._side, self._directory = side, directory
        self._sql = side.compile(expr)  # compiled here: the thread runs SQL, never Ibis
        self._stop = threading.Event()
        self._ref: ProfilesRef | None = None
        self._error: BaseException | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._write, name="creditgate-profiles")
        self._thread.start()

    def result(self) -> ProfilesRef | None:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._ref

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._thread.is_alive():
            self._stop.set()
            self._side.con.con.interrupt()  # a query still running ends at once
        self._thread.join()
        self._side.con.disconnect()

    def _write(self) -> None:
        try:
            with closing(self._side.stream_sql(self._sql)) as stream:
                self._ref = write_profiles(self._directory, self._until_stopped(stream))
        except ProfilesOrderError:
            self.unordered = True
        except duckdb.OutOfMemoryException:
            pass  # rows wider than its cap allows: the run writes them under its own
        except BaseException as exc:
            # Stopped: whatever the interrupted stream raised is moot (the Arrow reader turns
            # DuckDB's interrupt into an ``OSError``). Else raised in the run's thread by
            # ``result``.
            if not self.stopped:
                self._error = exc

    @property
    def stopped(self) -> bool:
        """Whether ``close`` asked a writer still running to stop."""
        return self._stop.is_set()

    def _until_stopped(self, batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            if self.stopped:
                raise _StoppedError
            yield batch
