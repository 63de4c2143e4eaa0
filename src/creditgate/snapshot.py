"""Whitelist snapshots: the population decision that real-time lookups and decisions read.

A snapshot is one Parquet file: a row per user who sees the entry (``user_id``,
``region_class``, ``score``, ``limit_cny``, ``apr``, ``entry`` and ``invited_since``): invited
users (``entry`` ``offer``, with the date their invitation began) and users kept on a
servicing-only entry because a loan is outstanding (``servicing``); snapshots written before
stable entries have neither column and hold invited users only, as from their ``as_of``.
Users the batch sent to manual review (outcome ``manual_review``, entry hidden) have a row of
their own (``review``: score and region class, no limit, APR or start), which never shows the
entry: the service queues them for review when the snapshot is activated
(``service/snapshot_reviews.py``). Snapshots written before that hold no such rows.

The file's key-value metadata (``creditgate.snapshot``) holds the facts that make it
reproducible: policy name and version, the evaluation date, the score cutoff per region class
that filled the capacity and quotas (and, in partly open classes, per city: ``city_cutoffs``,
absent from older snapshots, which then read as none), the capacity, an input fingerprint and
the counts. Written by the batch engine, loaded by ``decide --snapshot`` and by the service
(entry lookups, snapshot activation).
"""

from __future__ import annotations

import hashlib
import json
from bisect import bisect_left
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute
import pyarrow.parquet as pq

from creditgate.snapshot_profiles import SortedIds

METADATA_KEY = b"creditgate.snapshot"
ID_HEX_DIGITS = 32
SCHEMA = pa.schema(
    [
        pa.field("user_id", pa.string(), nullable=False),
        pa.field("region_class", pa.string(), nullable=False),
        pa.field("score", pa.int32(), nullable=True),
        pa.field("limit_cny", pa.int64(), nullable=True),
        pa.field("apr", pa.string(), nullable=True),
        pa.field("entry", pa.string(), nullable=True),
        pa.field("invited_since", pa.date32(), nullable=True),
    ]
)
OFFER, SERVICING, REVIEW = "offer", "servicing", "review"


class SnapshotError(ValueError):
    """A snapshot file that is missing, unreadable or not a creditgate snapshot."""


@dataclass(frozen=True)
class SnapshotMeta:
    policy_name: str
    policy_version: str
    as_of: date
    cutoffs: Mapping[str, int]  # region class -> score cutoff that filled its quota
    capacity_share: float
    input_fingerprint: str
    created_at: datetime
    counts: Mapping[str, int] = field(default_factory=dict)  # e.g. input, invited, quarantined
    # The decided profiles (``snapshot_profiles``): file name, SHA-256, rows; None before they
    # were written (a refused user then has no explanation, only the invitation state).
    profiles: Mapping[str, Any] | None = None
    # Partly open classes' per-city cutoffs (class -> canonical city -> score): a city's own
    # comes first, ``cutoffs`` holds the rest. Empty in snapshots written before city quotas.
    city_cutoffs: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    # The batch run's report beside it (``snapshot_report``): name and SHA-256; None before
    # reports were kept with snapshots.
    report: Mapping[str, Any] | None = None

    def to_json(self) -> bytes:
        data = asdict(self)
        data["as_of"] = self.as_of.isoformat()
        data["created_at"] = self.created_at.isoformat()
        data["cutoffs"] = dict(self.cutoffs)
        data["counts"] = dict(self.counts)
        data["city_cutoffs"] = {c: dict(xs) for c, xs in self.city_cutoffs.items()}
        if self.profiles is None:
            del data["profiles"]
        else:
            data["profiles"] = dict(self.profiles)
        if self.report is None:
            del data["report"]
        else:
            data["report"] = dict(self.report)
        return json.dumps(data, ensure_ascii=False, sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> SnapshotMeta:
        data: dict[str, Any] = json.loads(raw)
        return cls(
            policy_name=data["policy_name"],
            policy_version=data["policy_version"],
            as_of=date.fromisoformat(data["as_of"]),
            cutoffs=dict(data["cutoffs"]),
            capacity_share=float(data["capacity_share"]),
            input_fingerprint=data["input_fingerprint"],
            created_at=datetime.fromisoformat(data["created_at"]),
            counts=dict(data.get("counts", {})),
            profiles=data.get("profiles"),
            city_cutoffs={c: dict(xs) for c, xs in data.get("city_cutoffs", {}).items()},
            report=data.get("report"),
        )


def write_snapshot(
    path: Path, meta: SnapshotMeta, invited: pa.Table | Iterable[pa.RecordBatch]
) -> None:
    """Write ``invited`` (columns as ``SCHEMA``, already in snapshot order) with ``meta`` into
    one Parquet file. Record batches are written as they come, so a population's tens of
    millions of invited users never sit in memory at once. Rows without ``entry`` and
    ``invited_since`` are invitations beginning at ``meta.as_of`` (``with_entry_columns``)."""
    schema = SCHEMA.with_metadata({METADATA_KEY: meta.to_json()})
    parts = (
        [invited]
        if isinstance(invited, pa.Table)
        else (pa.Table.from_batches([b]) for b in invited)
    )
    with pq.ParquetWriter(path, schema) as writer:
        for part in parts:
            part = with_entry_columns(part, meta.as_of)
            writer.write_table(
                part.select(SCHEMA.names).cast(SCHEMA).replace_schema_metadata(schema.metadata)
            )


def with_entry_columns(table: pa.Table, as_of: date) -> pa.Table:
    """``table`` with ``entry`` and ``invited_since`` where it lacks them: rows of a list of
    invited users (``offer``) whose invitations begin on ``as_of``."""
    if "entry" not in table.column_names:
        table = table.append_column("entry", pa.array([OFFER] * table.num_rows, pa.string()))
    if "invited_since" not in table.column_names:
        since = pa.array([as_of] * table.num_rows, pa.date32())
        table = table.append_column("invited_since", since)
    return table


def _opened(source: Path | bytes) -> tuple[Path | pa.BufferReader, str]:
    """Parquet's input and a name for errors: a path, or bytes already read (and hashed) by
    the caller, so what is parsed is exactly what was verified."""
    if isinstance(source, bytes):
        return pa.BufferReader(source), "<snapshot>"
    return source, str(source)


def read_meta(source: Path | bytes) -> SnapshotMeta:
    where, name = _opened(source)
    try:
        metadata = pq.read_schema(where).metadata or {}
    except (OSError, pa.ArrowInvalid) as exc:
        raise SnapshotError(f"{name}: cannot read snapshot: {exc}") from exc
    if METADATA_KEY not in metadata:
        raise SnapshotError(f"{name}: not a creditgate snapshot (no {METADATA_KEY.decode()})")
    return SnapshotMeta.from_json(metadata[METADATA_KEY])


def read_entries(source: Path | bytes) -> pa.Table:
    """Every row, as ``SCHEMA``: an older snapshot's rows read as invited (``offer``) since
    its ``as_of``. Rows of every ``entry``, ``review`` included: filter by it."""
    where, name = _opened(source)
    try:
        table = pq.read_table(where)
    except (OSError, pa.ArrowInvalid) as exc:
        raise SnapshotError(f"{name}: cannot read snapshot: {exc}") from exc
    if "entry" not in table.column_names or "invited_since" not in table.column_names:
        table = with_entry_columns(table, read_meta(source).as_of)
    try:
        return table.select(SCHEMA.names).cast(SCHEMA)
    except (KeyError, pa.ArrowInvalid) as exc:
        raise SnapshotError(f"{name}: not a snapshot's columns: {exc}") from exc


def read_invited(source: Path | bytes) -> pa.Table:
    """The invited users' rows (``entry`` ``offer``)."""
    table = read_entries(source)
    return table.filter(pa.compute.equal(table["entry"], OFFER))


def read_servicing(source: Path | bytes) -> pa.Table:
    """The rows kept on a servicing-only entry (a loan outstanding, not invited)."""
    table = read_entries(source)
    return table.filter(pa.compute.equal(table["entry"], SERVICING))


def read_review(source: Path | bytes) -> pa.Table:
    """The rows of users the batch sent to manual review (no entry; queued at activation)."""
    table = read_entries(source)
    return table.filter(pa.compute.equal(table["entry"], REVIEW))


class HeldInvitations:
    """The invitations a snapshot holds, by ``user_id``: (``invited_since``, ``limit_cny``).
    What a real-time decision reads as the user's held invitation (the service fills the
    profile's optional fields from it); a binary search over the sorted id column, so a
    worker keeps Arrow buffers, not a dict of millions of entries."""

    def __init__(self, invited: pa.Table) -> None:
        table = invited.select(["user_id", "invited_since", "limit_cny"]).sort_by("user_id")
        table = table.combine_chunks()
        self._ids = SortedIds(table.column("user_id").chunk(0)) if table.num_rows else None
        self._since = table.column("invited_since")
        self._limit = table.column("limit_cny")

    def get(self, user_id: str) -> tuple[date, int | None] | None:
        ids = self._ids
        if ids is None:
            return None
        i = bisect_left(ids, user_id)
        if i == len(ids) or ids[i] != user_id:
            return None
        return self._since[i].as_py(), self._limit[i].as_py()


def snapshot_id(digest: str) -> str:
    """A snapshot's id: the first 32 hex digits of its content's SHA-256 (same bytes, same
    id), whether the service registered the file or ``decide --snapshot`` read it."""
    return digest[:ID_HEX_DIGITS]


def file_snapshot_id(path: Path) -> str:
    """The id of the snapshot file at ``path`` (hashed in chunks: a file can be large)."""
    try:
        with path.open("rb") as f:
            return snapshot_id(hashlib.file_digest(f, "sha256").hexdigest())
    except OSError as exc:
        raise SnapshotError(f"{path}: cannot read snapshot: {exc.strerror}") from exc
