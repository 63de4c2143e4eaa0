"""A clean input's decided profiles, written by a second DuckDB while the run goes on
(``batch.profiles.ProfilesBeside``): the same file as the run's own, the run's own when the
attempt cannot be used, nothing left behind by a run that fails."""

from __future__ import annotations

import threading
import time
from collections.abc import Generator, Iterable
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from batch_runs import AS_OF, run_into
from profile_streams import spy_beside, spy_streams

from creditgate.batch import backends, profiles, run
from creditgate.batch.backends import duckdb_backend
from creditgate.batch.profiles import write_sorted_profiles
from creditgate.batch.run import BatchOutputError, read_input
from creditgate.batch.validate import typed_profiles
from creditgate.population.synth import write_parquet
from creditgate.snapshot import read_meta
from creditgate.snapshot_profiles import ProfilesRef

WRITER = "creditgate-profiles"  # the writer thread's name


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "users.parquet"
    write_parquet(path, 2_000, seed=5, as_of=AS_OF, chunk_size=500)
    return path


def written(out: Path) -> ProfilesRef:
    return ProfilesRef.from_json(dict(read_meta(out / "snapshot.parquet").profiles or {}))


def in_writer(raise_: BaseException, monkeypatch: pytest.MonkeyPatch) -> None:
    """``write_profiles`` raises ``raise_`` in the writer thread only."""
    write = profiles.write_profiles

    def failing(directory: Path, batches: Iterable[pa.RecordBatch]) -> ProfilesRef:
        if threading.current_thread().name == WRITER:
            raise raise_
        return write(directory, batches)

    monkeypatch.setattr(profiles, "write_profiles", failing)


def test_the_file_written_beside_is_the_one_the_run_would_write_itself(
    tmp_path: Path, source: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = duckdb_backend("512MB", 2)
    streamed = spy_streams(backend, monkeypatch)
    made = spy_beside(monkeypatch)
    report = run_into(backend, source, tmp_path / "run")
    assert len(made) == 1 and streamed == []  # the run streamed no profile row itself
    own = write_sorted_profiles(
        backend, tmp_path / "own", typed_profiles(read_input(backend, source, AS_OF))
    )
    assert written(tmp_path / "run") == own and own.rows == report.decided == 2_000
    assert (tmp_path / "run" / own.name).read_bytes() == (tmp_path / "own" / own.name).read_bytes()
    assert not [t for t in threading.enumerate() if t.name == WRITER]


def test_a_shuffled_input_is_sorted_by_the_run_once_the_attempt_beside_meets_an_id_out_of_order(
    tmp_path: Path, source: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sorted_run = run_into(duckdb_backend("512MB", 2), source, tmp_path / "sorted")
    rows = pq.read_table(source)
    shuffled = tmp_path / "shuffled.parquet"
    pq.write_table(rows.take(pa.array([*range(1_000, 2_000), *range(1_000)])), shuffled)
    backend = duckdb_backend("512MB", 2)
    streamed = spy_streams(backend, monkeypatch)
    made = spy_beside(monkeypatch)
    run_into(backend, shuffled, tmp_path / "run")
    assert made[0].unordered
    assert streamed == [True]  # sorted at once: the input's order is known not to serve
    assert written(tmp_path / "run") == written(tmp_path / "sorted")
    assert sorted_run.decided == 2_000
    assert not list((tmp_path / "run").glob(".profiles-*"))  # the attempt left nothing


def test_the_run_writes_the_profiles_itself_when_the_side_database_is_short_of_memory(
    tmp_path: Path, source: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = written_by_a_plain_run(tmp_path / "plain", source)
    in_writer(duckdb.OutOfMemoryException("could not allocate"), monkeypatch)
    backend = duckdb_backend("512MB", 2)
    streamed = spy_streams(backend, monkeypatch)
    run_into(backend, source, tmp_path / "run")
    assert streamed == [False]  # the input's order, still worth trying
    assert written(tmp_path / "run") == expected


def written_by_a_plain_run(out: Path, source: Path) -> ProfilesRef:
    run_into(duckdb_backend("512MB", 2), source, out)
    return written(out)


def test_an_error_writing_beside_ends_the_run_with_it(
    tmp_path: Path, source: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    in_writer(OSError(28, "No space left on device"), monkeypatch)
    with pytest.raises(OSError, match="No space left"):
        run_into(duckdb_backend("512MB", 2), source, tmp_path / "run")
    assert not (tmp_path / "run" / "snapshot.parquet").exists()


@pytest.mark.parametrize("interrupted", [None, OSError("INTERRUPT Error: Interrupted!")])
def test_a_run_that_fails_stops_the_writer_and_leaves_no_profiles(
    tmp_path: Path,
    source: Path,
    monkeypatch: pytest.MonkeyPatch,
    interrupted: BaseException | None,
) -> None:
    """``interrupted``: what the stream raises once the writer is stopped, as the Arrow reader
    does when DuckDB's query is interrupted mid-batch (an ``OSError``); None: the stop is seen
    between batches."""
    monkeypatch.setattr(backends, "BATCH_ROWS", 10)  # 200 batches...
    write = profiles.write_profiles
    made = spy_beside(monkeypatch)

    def slow(directory: Path, batches: Iterable[pa.RecordBatch]) -> ProfilesRef:
        def slowed() -> Generator[pa.RecordBatch, None, None]:
            for batch in batches:
                time.sleep(0.01)  # ...of 10 ms each: two seconds the run will not give it
                if interrupted is not None and made[0].stopped:
                    raise interrupted
                yield batch

        return write(directory, slowed())

    monkeypatch.setattr(profiles, "write_profiles", slow)

    def refused(*_: Any, **__: Any) -> None:
        raise BatchOutputError("decisions.parquet: cannot write: permission denied")

    monkeypatch.setattr(run, "write_output", refused)
    with pytest.raises(BatchOutputError):
        run_into(duckdb_backend("512MB", 2), source, tmp_path / "run")
    assert len(made) == 1 and made[0].stopped
    assert made[0].result() is None  # stopped, not finished, and no error of its own
    assert not [t for t in threading.enumerate() if t.name == WRITER]
    assert not list((tmp_path / "run").glob("*profiles-*"))  # no file, no temporary
