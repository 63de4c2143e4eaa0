"""Where batch data lives: a local path or a Hadoop file system URI (``hdfs://nn:8020/x``,
``s3a://bucket/x``, ``file:///x``).

A URI is kept as text: ``pathlib.Path`` folds ``//`` and would turn ``s3a://bucket/x`` into
``s3a:/bucket/x``, a path with no bucket. ``file://`` URIs are local paths in disguise and are
treated as such (probed, fingerprinted, readable by DuckDB).
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urlparse

Location = str | Path
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_uri(location: Location) -> bool:
    return isinstance(location, str) and SCHEME.match(location) is not None


def local_path(location: Location) -> Path | None:
    """The local path ``location`` names: itself, or a ``file://`` URI's path; None for any
    other scheme (the engine's file system resolves it)."""
    if isinstance(location, Path):
        return location
    if not is_uri(location):
        return Path(location)
    parsed = urlparse(location)
    if parsed.scheme.lower() != "file" or parsed.netloc not in ("", "localhost"):
        return None
    return Path(unquote(parsed.path))


def is_remote(location: Location) -> bool:
    """True for a URI of a file system other than the local one (``hdfs://``, ``s3a://``)."""
    return local_path(location) is None


def location_of(text: str) -> Location:
    """A command-line value as a location: a URI stays text, anything else is a Path."""
    return text if is_uri(text) else Path(text)


def text_of(location: Location) -> str:
    return location if isinstance(location, str) else str(location)


def sibling(location: Location, suffix: str) -> Location:
    """``.../decisions.parquet`` -> ``.../decisions<suffix>`` beside it, for paths and URIs."""
    if isinstance(location, Path):
        return location.with_name(location.name.removesuffix(".parquet") + suffix)
    head, _, name = location.rstrip("/").rpartition("/")
    return f"{head}/{name.removesuffix('.parquet')}{suffix}"
