"""The batch run's report beside its snapshot: what the operator console shows.

``batch --snapshot`` writes the run's ``report.json`` document (``lab.report``: funnel,
regions with cutoffs and quotas, distributions, bad rates) beside the snapshot under its
content name ``report-<sha256[:32]>.json``, and the snapshot's metadata names it (``report``:
name and SHA-256), as it names its decided profiles. The service checks it at registration
and whenever it reads it, so the console's figures are the run's own, never a copy that
drifted.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def report_name(sha256: str) -> str:
    """The file name of the report with this content hash."""
    return f"report-{sha256[:32]}.json"


@dataclass(frozen=True)
class ReportRef:
    """What a snapshot's metadata says about its run report."""

    name: str
    sha256: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "sha256": self.sha256}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ReportRef:
        return cls(str(data["name"]), str(data["sha256"]))


def report_bytes(document: dict[str, Any]) -> bytes:
    """The stored form of a report document (one canonical spelling: same report, same name)."""
    return json.dumps(document, ensure_ascii=False, sort_keys=True).encode()


def write_run_report(directory: Path, document: dict[str, Any]) -> ReportRef:
    """Write ``document`` into ``directory`` under its content name (temporary file, synced,
    renamed: a reader never sees half a file)."""
    data = report_bytes(document)
    digest = hashlib.sha256(data).hexdigest()
    directory.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=directory, prefix=".report-", suffix=".json")
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, directory / report_name(digest))
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return ReportRef(report_name(digest), digest)
