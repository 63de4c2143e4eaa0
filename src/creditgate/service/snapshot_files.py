"""Snapshot files: read only from the snapshot directory, only regular files, never the database.

Why so careful: on Linux, closing *any* descriptor of the SQLite database file in the server
process drops that process's POSIX locks on it; the next process that opens the database then
removes the live WAL, and decisions already acknowledged are lost on a crash. So a requested
name is resolved (symlinks included) and must lie inside the directory, and it is compared by
(device, inode) with the database's files *before* anything is opened. It is then opened
component by component from the directory without following symlinks (a symlink swapped in
after the check fails instead of being followed) and without blocking (a FIFO cannot hang a
worker thread), and the descriptor is checked again. Every refusal has one message, so the
answer does not tell whether a path exists.

The bytes are read once: they are hashed and parsed from memory, so what is registered or
activated is exactly what was hashed (``verify`` compares with the registered hash).
"""

from __future__ import annotations

import hashlib
import json
import mmap
import os
import shutil
import stat
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
from sqlalchemy.engine import make_url

from creditgate.service.settings import Settings
from creditgate.snapshot import SnapshotError
from creditgate.snapshot import snapshot_id as id_of_digest
from creditgate.snapshot_profiles import (
    ProfilesRef,
    SnapshotProfiles,
    profiles_name,
    stream_sha256,
)
from creditgate.snapshot_report import ReportRef, report_name

REFUSED = "no regular snapshot file by that name in the snapshot directory"
_DATABASE_SUFFIXES = ("", "-wal", "-shm", "-journal", ".writelock")
_READ = os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW


class SnapshotRefusedError(SnapshotError):
    """Missing, outside the directory, not a regular file, or one of the database's files."""

    def __init__(self) -> None:
        super().__init__(REFUSED)


class SnapshotChangedError(SnapshotError):
    """The file's content is not the content registered under its snapshot id."""


@dataclass(frozen=True)
class SnapshotFile:
    path: Path  # resolved
    data: bytes
    sha256: str

    @property
    def snapshot_id(self) -> str:
        """The id is the content's SHA-256 (its first 32 hex digits): same bytes, same id."""
        return id_of_digest(self.sha256)


def snapshot_directory(settings: Settings) -> Path:
    """``CREDITGATE_SNAPSHOT_DIR``, else ``snapshots/`` beside the SQLite database file, else
    (PostgreSQL, in-memory SQLite) ``./snapshots`` in the working directory; absolute."""
    if settings.snapshot_dir:
        return Path(settings.snapshot_dir).expanduser().absolute()
    database = _sqlite_file(settings.db_url)
    base = Path(database).absolute().parent if database else Path.cwd()
    return base / "snapshots"


def database_files(db_url: str) -> list[Path]:
    """The SQLite database file and its side files (none for PostgreSQL or in-memory)."""
    database = _sqlite_file(db_url)
    return [Path(database + suffix) for suffix in _DATABASE_SUFFIXES] if database else []


def _sqlite_file(db_url: str) -> str | None:
    url = make_url(db_url)
    database = url.database
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    return database.removeprefix("file:") if url.query.get("uri") else database


def _identities(paths: Iterable[Path]) -> frozenset[tuple[int, int]]:
    found = set()
    for path in paths:
        try:
            st = os.stat(path)  # stat opens nothing
        except OSError:
            continue
        found.add((st.st_dev, st.st_ino))
    return frozenset(found)


def read_in_directory(directory: Path, requested: str, db_url: str) -> SnapshotFile:
    """Read the snapshot ``requested`` (a name or path relative to ``directory``, or an
    absolute path inside it). Raises ``SnapshotRefusedError`` with one message for every case."""
    try:
        root = Path(os.path.realpath(directory, strict=True))
        target = Path(os.path.realpath(root / requested, strict=True))
    except (OSError, ValueError):  # missing, a loop, a NUL byte
        raise SnapshotRefusedError() from None
    if target == root or not target.is_relative_to(root):
        raise SnapshotRefusedError()
    *dirs, name = target.relative_to(root).parts
    return _read_checked(root, dirs, name, _identities(database_files(db_url)), target)


def read_anywhere(path: Path, db_url: str) -> SnapshotFile:
    """Read a snapshot the host owner named (``serve --snapshot``): any directory, but still a
    regular file that is not one of the database's files."""
    try:
        target = Path(os.path.realpath(path, strict=True))
    except (OSError, ValueError):
        raise SnapshotRefusedError() from None
    forbidden = _identities(database_files(db_url))
    return _read_checked(target.parent, [], target.name, forbidden, target)


def _read_checked(
    root: Path, dirs: list[str], name: str, forbidden: frozenset[tuple[int, int]], target: Path
) -> SnapshotFile:
    fd = _open_checked(root, dirs, name, forbidden)
    try:
        with os.fdopen(fd, "rb", closefd=False) as stream:
            data = stream.read()
    except OSError:
        raise SnapshotRefusedError() from None
    finally:
        os.close(fd)
    return SnapshotFile(target, data, hashlib.sha256(data).hexdigest())


def _open_checked(
    root: Path, dirs: list[str], name: str, forbidden: frozenset[tuple[int, int]]
) -> int:
    """A read-only descriptor of ``root/dirs/name``: a regular file, none of ``forbidden``,
    reached without following a symlink and opened without blocking."""
    try:
        parent = os.open(root, _READ | os.O_DIRECTORY)
    except OSError:
        raise SnapshotRefusedError() from None
    try:
        for part in dirs:
            inner = os.open(part, _READ | os.O_DIRECTORY, dir_fd=parent)
            os.close(parent)
            parent = inner
        before = os.stat(name, dir_fd=parent, follow_symlinks=False)
        identity = (before.st_dev, before.st_ino)
        if not stat.S_ISREG(before.st_mode) or identity in forbidden:
            raise SnapshotRefusedError()
        fd = os.open(name, _READ | os.O_NONBLOCK, dir_fd=parent)
    except OSError:
        raise SnapshotRefusedError() from None
    finally:
        os.close(parent)
    try:
        after = os.fstat(fd)
        if not stat.S_ISREG(after.st_mode) or (after.st_dev, after.st_ino) != identity:
            raise SnapshotRefusedError()
    except BaseException:
        os.close(fd)
        raise
    return fd


def map_profiles(directory: Path, ref: ProfilesRef, db_url: str) -> SnapshotProfiles:
    """The snapshot's decided profiles (``snapshot_profiles``), memory-mapped from the
    snapshot directory after the same checks as a snapshot and a full hash of the descriptor
    that is then mapped. ``SnapshotChangedError`` when the content is not the one named."""
    if "/" in ref.name or ref.name != profiles_name(ref.sha256):
        raise SnapshotRefusedError()
    try:
        root = Path(os.path.realpath(directory, strict=True))
    except (OSError, ValueError):
        raise SnapshotRefusedError() from None
    fd = _open_checked(root, [], ref.name, _identities(database_files(db_url)))
    try:
        digest = stream_sha256(fd)
        mapped = mmap.mmap(fd, 0, access=mmap.ACCESS_READ) if digest == ref.sha256 else None
    except (OSError, ValueError):  # ValueError: an empty file cannot be mapped
        raise SnapshotRefusedError() from None
    finally:
        os.close(fd)
    if mapped is None:
        raise SnapshotChangedError(f"profiles {ref.name}: content changed since written")
    try:
        return SnapshotProfiles(mapped)
    except (pa.ArrowInvalid, KeyError) as exc:
        raise SnapshotChangedError(f"profiles {ref.name}: not a profiles file") from exc


def verify(file: SnapshotFile, registered: Mapping[str, Any]) -> None:
    """Raise ``SnapshotChangedError`` unless ``file`` holds the content registered in the catalog
    row ``registered`` (its full SHA-256; rows from before it was stored: the id)."""
    expected = registered.get("sha256")
    ok = file.sha256 == expected if expected else file.snapshot_id == registered["snapshot_id"]
    if not ok:
        raise SnapshotChangedError(
            f"snapshot {registered['snapshot_id']}: the file's content changed since it was"
            " registered"
        )


def copy_into(directory: Path, file: SnapshotFile) -> SnapshotFile:
    """Store ``file`` in ``directory`` as ``<snapshot id>.parquet`` (written to a temporary
    file, synced, then renamed, so a reader never sees half a file)."""
    directory.mkdir(mode=0o750, parents=True, exist_ok=True)
    target = Path(os.path.realpath(directory)) / f"{file.snapshot_id}.parquet"
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".incoming-", suffix=".parquet")
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(file.data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return SnapshotFile(target, file.data, file.sha256)


def copy_profiles(source_dir: Path, directory: Path, ref: ProfilesRef) -> None:
    """Copy a snapshot's profiles file from beside the host owner's snapshot into the snapshot
    directory (streamed: it holds the whole population), unless it is there already."""
    if "/" in ref.name or ref.name != profiles_name(ref.sha256):
        raise SnapshotRefusedError()
    _copy_beside(source_dir, directory, ref.name)


def copy_report(source_dir: Path, directory: Path, ref: ReportRef) -> None:
    """Copy a snapshot's run report from beside the host owner's snapshot likewise."""
    if "/" in ref.name or ref.name != report_name(ref.sha256):
        raise SnapshotRefusedError()
    _copy_beside(source_dir, directory, ref.name)


def _copy_beside(source_dir: Path, directory: Path, name: str) -> None:
    """Copy ``source_dir/name`` into ``directory`` (content-named: present means done)."""
    directory.mkdir(mode=0o750, parents=True, exist_ok=True)
    target = Path(os.path.realpath(directory)) / name
    if target.exists():
        return
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".incoming-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, (source_dir / name).open("rb") as src:
            shutil.copyfileobj(src, out, 1 << 20)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    except FileNotFoundError:
        Path(temporary).unlink(missing_ok=True)
        raise SnapshotRefusedError() from None
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def read_report(directory: Path, ref: ReportRef, db_url: str) -> dict[str, Any]:
    """A snapshot's run report (``snapshot_report``) from the snapshot directory, after the
    same checks as a snapshot; ``SnapshotChangedError`` when its content is not the one the
    snapshot names."""
    if "/" in ref.name or ref.name != report_name(ref.sha256):
        raise SnapshotRefusedError()
    try:
        root = Path(os.path.realpath(directory, strict=True))
    except (OSError, ValueError):
        raise SnapshotRefusedError() from None
    file = _read_checked(root, [], ref.name, _identities(database_files(db_url)), root / ref.name)
    if file.sha256 != ref.sha256:
        raise SnapshotChangedError(f"report {ref.name}: content changed since written")
    try:
        document: dict[str, Any] = json.loads(file.data)
    except ValueError as exc:
        raise SnapshotChangedError(f"report {ref.name}: not a report") from exc
    return document


def read_registered(directory: Path, registered: Mapping[str, Any], db_url: str) -> SnapshotFile:
    """Read a registered snapshot's file (through ``read_in_directory``) and ``verify`` it:
    on activation and whenever a worker loads it."""
    file = read_in_directory(directory, str(registered["path"]), db_url)
    verify(file, registered)
    return file


def file_signature(path: str) -> tuple[int, int, int, int] | None:
    """(device, inode, size, mtime) by ``stat`` (which opens nothing): a refused file is read
    again only after it changed."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
