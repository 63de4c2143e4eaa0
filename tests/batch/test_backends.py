"""DuckDB staging and streaming: a sorted result streamed out every row, in order, in bounded
batches, the connection's settings left as the batch run set them, and a staged table freed
when released."""

from __future__ import annotations

import ibis
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from creditgate.batch import backends
from creditgate.batch.backends import duckdb_backend


def setting(backend: backends.Backend) -> bool:
    [(value,)] = backend.con.con.execute(
        "SELECT current_setting('preserve_insertion_order')"
    ).fetchall()
    return bool(value)


@settings(max_examples=25, deadline=None)
@given(
    scores=st.lists(st.integers(300, 900), min_size=1, max_size=400),
    batch_rows=st.integers(1, 50),
)
def test_batches_are_every_row_in_sort_order_and_restore_the_setting(
    scores: list[int], batch_rows: int
) -> None:
    backend = duckdb_backend("256MB", 2)
    assert setting(backend) is False  # the batch engine runs unordered
    ids = [f"u{i:05d}" for i in range(len(scores))]
    table = ibis.memtable(pa.table({"user_id": ids, "score": scores}))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(backends, "BATCH_ROWS", batch_rows)
        got = list(backend.batches(table.order_by([ibis.desc("score"), ibis.asc("user_id")])))
    assert all(b.num_rows <= batch_rows for b in got)
    rows = pa.Table.from_batches(got).to_pylist()
    assert rows == sorted(
        ({"user_id": u, "score": s} for u, s in zip(ids, scores, strict=True)),
        key=lambda r: (-r["score"], r["user_id"]),
    )
    assert setting(backend) is False


def test_a_batch_stream_abandoned_half_read_leaves_the_connection_usable() -> None:
    backend = duckdb_backend("256MB", 1)
    table = ibis.memtable(pa.table({"n": list(range(10_000))}))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(backends, "BATCH_ROWS", 100)
        stream = backend.batches(table.order_by("n"))
        assert next(stream).num_rows == 100
        stream.close()
    assert setting(backend) is False
    assert backend.scalar(table.count()) == 10_000


def test_a_released_staged_table_is_dropped_and_its_memory_freed() -> None:
    backend = duckdb_backend("256MB", 2)
    con = backend.con.con
    staged = backend.stage(
        ibis.memtable(pa.table({"user_id": [f"u{i:07d}" for i in range(200_000)]}))
    )
    [(held,)] = con.execute("SELECT sum(memory_usage_bytes) FROM duckdb_memory()").fetchall()
    assert con.execute("SELECT count(*) FROM duckdb_tables()").fetchall() == [(1,)]
    backend.release(staged)
    assert con.execute("SELECT count(*) FROM duckdb_tables()").fetchall() == [(0,)]
    [(left,)] = con.execute("SELECT sum(memory_usage_bytes) FROM duckdb_memory()").fetchall()
    assert left < held / 4  # the table's blocks are gone, not kept until the connection closes
