"""The decided profiles are sorted by DuckDB only when the input's own order is not sorted."""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pytest
from batch_runs import AS_OF, run_into
from profile_streams import spy_beside, spy_streams

from creditgate import snapshot_profiles
from creditgate.batch import backends
from creditgate.batch.backends import duckdb_backend
from creditgate.batch.profiles import write_sorted_profiles
from creditgate.population.synth import write_parquet
from creditgate.schema import PROFILE_FIELDS
from creditgate.snapshot import read_meta
from creditgate.snapshot_profiles import ProfilesRef


def profile_rows(ids: list[str]) -> ir.Table:
    """Profile columns with ``user_id`` and a score that follows it, the rest NULL."""
    columns = {name: pa.nulls(len(ids), pa.string()) for name in PROFILE_FIELDS}
    columns["user_id"] = pa.array(ids)
    columns["pay_score"] = pa.array([int(i[1:]) for i in ids], pa.int64())
    return ibis.memtable(pa.table(columns))


@pytest.mark.parametrize("batch_rows", [7, 1_000])
def test_the_input_order_is_used_when_sorted_and_sorted_otherwise_to_the_same_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, batch_rows: int
) -> None:
    monkeypatch.setattr(snapshot_profiles, "FILE_BATCH_ROWS", 64)
    monkeypatch.setattr(backends, "BATCH_ROWS", batch_rows)
    backend = duckdb_backend("256MB", 2)
    streamed: list[bool] = []  # whether each stream asked DuckDB for a sort
    batches = backend.batches

    def spied(expr: ir.Table) -> Generator[pa.RecordBatch, None, None]:
        streamed.append("ORDER BY" in backend.compile(expr))
        return batches(expr)

    monkeypatch.setattr(backend, "batches", spied)
    ids = [f"u{i:04d}" for i in range(300)]
    in_order = write_sorted_profiles(backend, tmp_path / "sorted", profile_rows(ids))
    assert streamed == [False]  # an input sorted by id is written as it is read
    streamed.clear()
    shuffled = ids[150:] + ids[:150]
    resorted = write_sorted_profiles(backend, tmp_path / "shuffled", profile_rows(shuffled))
    assert streamed == [False, True]  # the first id out of order: streamed again, sorted
    assert resorted == in_order and in_order.rows == 300  # the same rows: the same file
    written = pa.ipc.open_file(tmp_path / "shuffled" / resorted.name).read_all()
    assert written["user_id"].to_pylist() == ids
    assert not list((tmp_path / "shuffled").glob(".profiles-*"))  # the dropped attempt
    # the abandoned stream was closed: the connection runs the next query
    assert backend.scalar(profile_rows(ids).count()) == 300


@pytest.mark.parametrize(("dirty", "streams"), [(0.0, []), (0.05, [True])])
def test_a_dirty_inputs_profiles_are_sorted_at_once_a_clean_ones_written_beside(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dirty: float, streams: list[bool]
) -> None:
    """The validated rows of a dirty input lose the input's order (the validity test's joins):
    an attempt in input order would fail there after most of a pass, so the run sorts them at
    once; a clean input's typed rows keep it, and a second DuckDB writes them as read while the
    run writes its other outputs (``batch.profiles.ProfilesBeside``): the run streams none."""
    source = tmp_path / "users.parquet"
    write_parquet(source, 2_000, seed=3, as_of=AS_OF, dirty_fraction=dirty, chunk_size=500)
    backend = duckdb_backend("512MB", 2)
    streamed = spy_streams(backend, monkeypatch)
    beside = spy_beside(monkeypatch)
    report = run_into(backend, source, tmp_path)
    assert (report.quarantined > 0) == (dirty > 0)
    assert streamed == streams
    assert len(beside) == (dirty == 0)
    ref = ProfilesRef.from_json(dict(read_meta(tmp_path / "snapshot.parquet").profiles or {}))
    ids = pa.ipc.open_file(tmp_path / ref.name).read_all()["user_id"].to_pylist()
    assert ids == sorted(ids) and len(ids) == report.decided
