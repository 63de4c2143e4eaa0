"""The decided profiles file: a lookup finds exactly the users written, across batches."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from creditgate import snapshot_profiles
from creditgate.schema import PROFILE_FIELDS
from creditgate.service.snapshot_files import (
    SnapshotChangedError,
    SnapshotRefusedError,
    map_profiles,
)
from creditgate.snapshot_profiles import (
    ProfilesOrderError,
    ProfilesRef,
    SnapshotProfiles,
    column_reader,
    file_sha256,
    write_profiles,
)

IDS = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x9FFF, exclude_categories=("Cs",)),
    min_size=1,
    max_size=12,
)


def table(ids: list[str]) -> pa.Table:
    """Profiles with only ``user_id`` meaningful (the other columns are carried as given)."""
    columns = {name: pa.nulls(len(ids), pa.string()) for name in PROFILE_FIELDS}
    columns["user_id"] = pa.array(ids, pa.string())
    return pa.table(columns)


@settings(max_examples=60, deadline=None)
@given(ids=st.sets(IDS, max_size=60), probes=st.lists(IDS, max_size=20), chunk=st.integers(1, 7))
def test_get_finds_exactly_the_written_users(
    tmp_path_factory: pytest.TempPathFactory, ids: set[str], probes: list[str], chunk: int
) -> None:
    directory = tmp_path_factory.mktemp("profiles")
    ordered = sorted(ids)  # code point order: the order DuckDB and Spark sort UTF-8 strings in
    ref = write_profiles(directory, table(ordered).to_batches(max_chunksize=chunk))
    assert ref.rows == len(ordered) and ref.sha256 == file_sha256(directory / ref.name)
    found = SnapshotProfiles((directory / ref.name).read_bytes())
    for user in ordered + probes:
        row = found.get(user)
        assert (row is not None) == (user in ids)
        assert row is None or row["user_id"] == user


def test_unsorted_or_repeated_ids_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="sorted"):
        write_profiles(tmp_path, table(["b", "a"]).to_batches(max_chunksize=1))
    with pytest.raises(ValueError, match="sorted"):
        write_profiles(tmp_path, table(["a", "a"]).to_batches(max_chunksize=1))
    assert not list(tmp_path.glob("*.arrow"))  # nothing half-written is left


def test_an_id_out_of_order_inside_one_batch_is_refused(tmp_path: Path) -> None:
    # The order is checked in every batch, not only between batches: a stream whose blocks
    # are each sorted but interleaved (DuckDB may return an unordered scan so) is refused.
    for ids in (["a", "c", "b"], ["a", "b", "b"]):
        with pytest.raises(ProfilesOrderError, match="sorted"):
            write_profiles(tmp_path, table(ids).to_batches())
    assert not list(tmp_path.glob("*.arrow")) and not list(tmp_path.glob(".profiles-*"))


def test_the_service_maps_only_the_named_intact_file(tmp_path: Path) -> None:
    ref = write_profiles(tmp_path, table(["a", "b"]).to_batches())
    mapped = map_profiles(tmp_path, ref, "sqlite://")
    assert mapped.get("b") is not None and len(mapped) == 2
    path = tmp_path / ref.name
    data = bytearray(path.read_bytes())
    data[-12] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(SnapshotChangedError):
        map_profiles(tmp_path, ref, "sqlite://")
    with pytest.raises(SnapshotRefusedError):  # a name that is not the content's
        map_profiles(tmp_path, ProfilesRef("../x.arrow", ref.sha256, 2), "sqlite://")
    path.unlink()
    other = tmp_path / "elsewhere.arrow"
    other.write_bytes(b"x")
    path.symlink_to(other)
    with pytest.raises(SnapshotRefusedError):  # never followed
        map_profiles(tmp_path, ref, "sqlite://")


COLUMNS = {  # the Arrow types the batch writes profile columns in, with values to draw
    pa.string(): st.text(max_size=8),
    pa.bool_(): st.booleans(),
    pa.int64(): st.integers(-(2**63), 2**63 - 1),
    pa.int32(): st.integers(-(2**31), 2**31 - 1),
    pa.float64(): st.floats(allow_nan=False),
    pa.date32(): st.dates(),
    pa.decimal128(14, 2): st.decimals(
        min_value=-(10**11), max_value=10**11, places=2, allow_nan=False, allow_infinity=False
    ),
}


@settings(max_examples=40, deadline=None)
@given(data=st.data(), kind=st.sampled_from(list(COLUMNS)), start=st.integers(0, 5))
def test_a_column_read_from_its_buffers_equals_arrows_own_values(
    data: st.DataObject, kind: pa.DataType, start: int
) -> None:
    values = data.draw(st.lists(st.none() | COLUMNS[kind], max_size=40))
    column = pa.array(values, kind).slice(start)  # an offset into the buffers, as slices have
    read = column_reader(column)
    assert [read(i) for i in range(len(column))] == column.to_pylist()


def with_stale_values(column: pa.Array, stale: pa.Array) -> pa.Array:
    """``column`` whose NULL slots hold ``stale``'s values, as an engine's reused memory
    leaves them (the validity bitmap says NULL, the value buffer says otherwise)."""
    validity = column.buffers()[0]
    return pa.Array.from_buffers(
        column.type, len(column), [validity, *stale.buffers()[1:]], column.null_count
    )


def test_the_same_rows_give_the_same_bytes_however_streamed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The file is named by its hash: the same rows must give the same file whether the engine
    # streamed them sorted (DuckDB's sort: 122,880-row batches) or in input order (its
    # scan: row groups), and whatever its memory held under the NULLs.
    monkeypatch.setattr(snapshot_profiles, "FILE_BATCH_ROWS", 8)
    n = 30
    rows = table([f"u{i:03}" for i in range(n)])
    scores = pa.array([None if i % 3 else i for i in range(n)], pa.int64())
    flags = pa.array([None if i % 4 else True for i in range(n)], pa.bool_())
    rows = rows.set_column(rows.schema.get_field_index("pay_score"), "pay_score", scores)
    rows = rows.set_column(rows.schema.get_field_index("blacklist_hit"), "blacklist_hit", flags)
    clean = write_profiles(tmp_path / "a", rows.to_batches(max_chunksize=n))
    stale = rows.set_column(
        rows.schema.get_field_index("pay_score"),
        "pay_score",
        with_stale_values(scores, pa.array([i if i % 3 == 0 else 10**6 + i for i in range(n)])),
    )
    stale = stale.set_column(
        stale.schema.get_field_index("blacklist_hit"),
        "blacklist_hit",
        with_stale_values(flags, pa.array([True] * n)),
    )
    assert stale.equals(rows)  # the same rows: only the bytes under the NULLs differ
    for chunk in (3, 7, 8, 13):
        ref = write_profiles(tmp_path / str(chunk), stale.to_batches(max_chunksize=chunk))
        assert ref == clean
    written = pa.ipc.open_file(tmp_path / "a" / clean.name)
    sizes = [written.get_batch(i).num_rows for i in range(written.num_record_batches)]
    assert sizes == [8, 8, 8, 6]
    assert written.read_all().equals(rows)
