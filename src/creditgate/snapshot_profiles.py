"""The profiles a snapshot was decided from: how the service answers a user the batch refused.

A whitelist snapshot lists the invited users only; a refused user's answer needs the reasons,
with observed and required values, and the recourse, which come from the user's profile. So a
batch run that writes a snapshot also writes this file: every *decided* input row (valid, not
a duplicate) as contract-typed profile columns, sorted by ``user_id``, in one uncompressed
Arrow IPC file named after its content hash (``profiles-<sha256[:32]>.arrow``), which the
snapshot's metadata names with its full SHA-256 and row count.

The service memory-maps it: a lookup is a binary search over the ``user_id`` column and one
row read from the buffers (tens of microseconds on a quiet machine), the resident cost is the
pages touched, and a worker loads 10M users in the time it takes to hash the file. The row is
decided again by the row engine with the snapshot's cutoffs at the snapshot's ``as_of``: the
parity suite makes that the batch's own decision, and ``benchmarks/agreement.py`` checks it
user by user.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.compute as pc

from creditgate.schema import PROFILE_FIELDS

_CHUNK = 1 << 20
# Rows per record batch of the file: what DuckDB's sort streamed, so files keep their bytes.
FILE_BATCH_ROWS = 122_880


def profiles_name(sha256: str) -> str:
    """The file name of the profiles with this content hash."""
    return f"profiles-{sha256[:32]}.arrow"


@dataclass(frozen=True)
class ProfilesRef:
    """What a snapshot's metadata says about its profiles file."""

    name: str
    sha256: str
    rows: int

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "sha256": self.sha256, "rows": self.rows}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ProfilesRef:
        return cls(str(data["name"]), str(data["sha256"]), int(data["rows"]))


class ProfilesOrderError(ValueError):
    """The batches given to ``write_profiles`` are not in strictly increasing ``user_id``
    order (nothing is left written)."""


def _disordered(ids: pa.Array) -> bool:
    """Whether some id of one batch is not below the next (byte order, as Python's
    ``str`` order of the same text): one vectorised comparison, not a loop in Python."""
    n = len(ids)
    return n > 1 and bool(pc.any(pc.greater_equal(ids.slice(0, n - 1), ids.slice(1))).as_py())


class IdOrder:
    """Ids checked in strictly increasing order across a stream of arrays (``follows``):
    what the profiles file needs, and proof that no id repeats (``batch.run.duplicates``)."""

    def __init__(self) -> None:
        self._last: str | None = None

    def follows(self, ids: pa.Array) -> bool:
        """Whether ``ids`` (no NULLs among them) rise strictly, from above the last seen."""
        if len(ids) == 0:
            return True
        if (self._last is not None and ids[0].as_py() <= self._last) or _disordered(ids):
            return False
        self._last = ids[-1].as_py()
        return True


def write_profiles(directory: Path, batches: Iterable[pa.RecordBatch]) -> ProfilesRef:
    """Write ``batches`` (profile columns, already sorted by ``user_id``) into ``directory``
    under their content name; written to a temporary file, synced and renamed, so a reader
    never sees half a file. Batches are streamed: the population never sits in memory.
    Raises ``ProfilesOrderError`` at the first id out of order.

    The bytes are a function of the rows alone (``settled``): the file is cut into batches of
    ``FILE_BATCH_ROWS`` whatever sizes the engine streamed, and the values under NULLs, which
    engines leave as whatever their memory held, are written as zeros. So the same rows give
    the same file, hence the same name, from any engine and in any run."""
    directory.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=directory, prefix=".profiles-", suffix=".arrow")
    os.fchmod(fd, 0o644)  # as any file the batch writes (mkstemp makes it owner-only)
    hashed = hashlib.sha256()
    ordered = _InOrder(batches)
    try:
        with os.fdopen(fd, "wb") as stream:
            sink = pa.PythonFile(_Digesting(stream, hashed), mode="w")
            writer: pa.ipc.RecordBatchFileWriter | None = None
            for batch in settled(ordered, FILE_BATCH_ROWS):
                if writer is None:
                    writer = pa.ipc.new_file(sink, batch.schema)
                writer.write_batch(batch)
            if writer is None:
                writer = pa.ipc.new_file(sink, _empty_schema())
            writer.close()
            stream.flush()
            os.fsync(stream.fileno())
        digest = hashed.hexdigest()  # of the bytes as written: the file is not read back
        target = directory / profiles_name(digest)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return ProfilesRef(target.name, digest, ordered.rows)


class _InOrder:
    """The profile columns of ``batches``, checked in strictly increasing ``user_id`` order
    (within and across batches) as they pass; ``rows`` counts them."""

    def __init__(self, batches: Iterable[pa.RecordBatch]) -> None:
        self._batches, self.rows = batches, 0

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        order = IdOrder()
        for batch in self._batches:
            if batch.num_rows == 0:
                continue
            batch = batch.select(list(PROFILE_FIELDS))
            if not order.follows(batch.column("user_id")):
                raise ProfilesOrderError(
                    "profiles must be written sorted by user_id, without repeats"
                )
            self.rows += batch.num_rows
            yield batch


def settled(batches: Iterable[pa.RecordBatch], size: int) -> Iterator[pa.RecordBatch]:
    """``batches`` cut again into batches of ``size`` rows (the last may be shorter), every
    column with NULLs rebuilt with zeros under them (``_zeroed``): the file's bytes then
    depend on the rows, not on how the engine chunked them or what its memory held.

    A batch of exactly ``size`` rows whose buffers are its own (``_tight``) passes through;
    any other is copied into batches of their own: Arrow's IPC writer pads a sliced column's
    buffers (to 64 bytes) with the bytes that follow the slice in its parent, so a slice
    would write its neighbours' values."""
    pending: list[pa.RecordBatch] = []
    held = 0
    for batch in batches:
        if held == 0 and batch.num_rows == size and all(map(_tight, batch.columns)):
            yield _own(batch, batch.columns)  # as DuckDB's sort streams them: no copy
            continue
        while batch.num_rows:
            part = batch.slice(0, size - held)
            pending.append(part)
            held += part.num_rows
            batch = batch.slice(part.num_rows)
            if held == size:
                yield _joined(pending)
                pending, held = [], 0
    if pending:
        yield _joined(pending)


def _joined(parts: list[pa.RecordBatch]) -> pa.RecordBatch:
    """``parts`` as one batch of buffers of its own (each column copied once)."""
    columns = [pa.concat_arrays([p.column(i) for p in parts]) for i in range(parts[0].num_columns)]
    return _own(parts[0], columns)


def _own(like: pa.RecordBatch, columns: list[pa.Array]) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays([_zeroed(c) for c in columns], schema=like.schema)


def _tight(column: pa.Array) -> bool:
    """Whether ``column``'s buffers hold its values and nothing more (no offset into them,
    none longer than its rows need), so the IPC writer writes its bytes alone."""
    n, kind = len(column), column.type
    validity, *values = column.buffers()
    bits = (n + 7) // 8
    if column.offset or (validity is not None and validity.size != bits):
        return False
    if pa.types.is_string(kind):
        offsets, data = values
        end = memoryview(offsets).cast("i")[n] if n else 0
        return bool(offsets.size == 4 * (n + 1) and (data.size if data else 0) == end)
    if pa.types.is_boolean(kind):
        return bool(values[0].size == bits)
    if pa.types.is_primitive(kind) or pa.types.is_decimal(kind):
        return bool(values[0].size == n * kind.bit_width // 8)
    return False


def _zeroed(column: pa.Array) -> pa.Array:
    """``column`` with zeros (empty strings, false) under its NULLs and a validity bitmap of
    its own (no stray bits past its end). A column without NULLs is written without a bitmap
    and is returned as it is."""
    kind = column.type
    zero = _zero_of(kind)
    if column.null_count == 0 or zero is None:
        return column
    values = pc.fill_null(column, zero)
    validity = pc.is_valid(column).buffers()[1]
    return pa.Array.from_buffers(
        kind, len(column), [validity, *values.buffers()[1:]], column.null_count
    )


def _zero_of(kind: pa.DataType) -> pa.Scalar | None:
    """The zero of the types the batch writes profile columns in (None: written as it comes)."""
    for test, value in _ZEROS:
        if test(kind):
            return pa.scalar(value, kind)
    return None


_ZEROS: tuple[tuple[Callable[[pa.DataType], bool], object], ...] = (
    (pa.types.is_string, ""),
    (pa.types.is_boolean, False),
    (pa.types.is_integer, 0),
    (pa.types.is_floating, 0.0),
    (pa.types.is_decimal, Decimal(0)),
    (pa.types.is_date32, date(1970, 1, 1)),
)


class _Digesting(io.RawIOBase):
    """A binary file that hashes every byte written to it on the way through, so a file of
    gigabytes is not read back to be hashed (at 10M users that read cost 1.5 CPU-s)."""

    def __init__(self, stream: BinaryIO, digest: Any) -> None:
        super().__init__()
        self._stream, self._digest = stream, digest

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self._digest.update(data)
        return self._stream.write(data)

    def tell(self) -> int:
        return self._stream.tell()

    def flush(self) -> None:
        self._stream.flush()


def _empty_schema() -> pa.Schema:
    return pa.schema([pa.field(name, pa.string()) for name in PROFILE_FIELDS])


def file_sha256(path: Path) -> str:
    with path.open("rb") as f:
        return stream_sha256(f.fileno())


def stream_sha256(fd: int) -> str:
    """The SHA-256 of an open file, read from its start in 1 MiB chunks."""
    digest = hashlib.sha256()
    offset = 0
    while chunk := os.pread(fd, _CHUNK, offset):
        digest.update(chunk)
        offset += len(chunk)
    return digest.hexdigest()


Reader = Callable[[int], Any]
_EPOCH = date(1970, 1, 1).toordinal()


def column_reader(column: pa.Array) -> Reader:
    """Row ``i`` of ``column`` as a Python value, read from its buffers: Arrow's per-scalar
    ``as_py`` costs microseconds a value (a profile of 24 fields took 120-330 us), this about
    a tenth of that. Types other than those the batch writes fall back to ``as_py``."""
    kind, offset = column.type, column.offset
    validity, *buffers = column.buffers()
    bits = memoryview(validity) if validity is not None else None  # indexing gives ints

    def valid(i: int) -> bool:
        j = i + offset
        return bits is None or bool((bits[j >> 3] >> (j & 7)) & 1)

    read: Reader
    if pa.types.is_string(kind):
        ends = memoryview(buffers[0]).cast("i")
        data = memoryview(buffers[1]) if buffers[1] is not None else memoryview(b"")

        def read(i: int) -> Any:
            j = i + offset
            return str(data[ends[j] : ends[j + 1]], "utf-8")
    elif pa.types.is_boolean(kind):
        values = memoryview(buffers[0])

        def read(i: int) -> Any:
            j = i + offset
            return bool((values[j >> 3] >> (j & 7)) & 1)
    elif pa.types.is_int64(kind) or pa.types.is_int32(kind):
        ints = memoryview(buffers[0]).cast("q" if pa.types.is_int64(kind) else "i")

        def read(i: int) -> Any:
            return ints[i + offset]
    elif pa.types.is_float64(kind):
        floats = memoryview(buffers[0]).cast("d")

        def read(i: int) -> Any:
            return floats[i + offset]
    elif pa.types.is_date32(kind):
        days = memoryview(buffers[0]).cast("i")

        def read(i: int) -> Any:
            return date.fromordinal(_EPOCH + days[i + offset])
    elif pa.types.is_decimal128(kind):
        raw, scale = memoryview(buffers[0]), -kind.scale

        def read(i: int) -> Any:
            j = 16 * (i + offset)
            return Decimal(int.from_bytes(raw[j : j + 16], "little", signed=True)).scaleb(scale)
    else:

        def read(i: int) -> Any:
            return column[i].as_py()

    if bits is None or column.null_count == 0:
        return read
    return lambda i: read(i) if valid(i) else None


class SortedIds:
    """A batch's ``user_id`` column as a sequence for ``bisect`` (no copy of the column)."""

    def __init__(self, column: pa.Array) -> None:
        self.read, self.size = column_reader(column), len(column)

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, i: int) -> str:
        return str(self.read(i))


class SnapshotProfiles:
    """Profiles by ``user_id`` over an Arrow IPC buffer (a memory map in the service)."""

    def __init__(self, buffer: Any) -> None:
        reader = pa.ipc.open_file(pa.py_buffer(buffer))
        self._batches = [reader.get_batch(i) for i in range(reader.num_record_batches)]
        self._rows = [
            [(name, column_reader(b.column(name))) for name in b.schema.names]
            for b in self._batches
        ]
        self._ids = [SortedIds(b.column("user_id")) for b in self._batches]
        self._firsts = [ids[0] for ids in self._ids]
        self._buffer = buffer  # the map must outlive the batches that point into it
        self.rows: int = sum(int(b.num_rows) for b in self._batches)

    def get(self, user_id: str) -> dict[str, Any] | None:
        """The user's profile (contract types: ``date``, ``Decimal``...), or None."""
        at = bisect_left(self._firsts, user_id)
        if at < len(self._firsts) and self._firsts[at] == user_id:
            return self._row(at, 0)
        if at == 0:
            return None
        ids = self._ids[at - 1]
        i = bisect_left(ids, user_id)
        if i < len(ids) and ids[i] == user_id:
            return self._row(at - 1, i)
        return None

    def _row(self, batch: int, i: int) -> dict[str, Any]:
        return {name: read(i) for name, read in self._rows[batch]}

    def batches(self) -> Iterator[pa.RecordBatch]:
        """The profiles as the file's record batches (sorted by ``user_id``)."""
        yield from self._batches

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for batch in self._batches:
            yield from batch.to_pylist()

    def __len__(self) -> int:
        return self.rows
