"""Background comparisons for the console: a policy version against the live one, over the
population that made the active snapshot, as ``creditgate compare`` does it.

A job runs in a thread of the worker that was asked (one at a time per host, DuckDB with one
thread, so the service keeps answering) and writes everything to files under
``<snapshot directory>/console-jobs/<job id>/``: ``status.json`` (state, the step in progress,
who asked, when), then ``compare.json`` and ``compare.html`` (``lab.compare``). Every worker of
the host reads the same files, so the page that follows a job may be served by any of them. A
job whose status stops moving for ``STALE_S`` (its worker died) reads as failed.

The population is the active snapshot's decided profiles (``snapshot_profiles``: every valid
row the batch decided), copied once into the job's directory as Parquet, at the snapshot's
``as_of``: the comparison is made on the same users and day as the live whitelist.
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
import threading
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from creditgate.batch.backends import duckdb_backend
from creditgate.lab.compare import compare_tables, headline
from creditgate.lab.evaluate import evaluate
from creditgate.lab.html import write_compare_html
from creditgate.policy.nodes import Policy
from creditgate.population.regions import RegionTable
from creditgate.service.settings import Settings
from creditgate.service.snapshot_files import snapshot_directory
from creditgate.snapshot_profiles import SnapshotProfiles

STALE_S = 600.0  # a running job whose status has not moved for this long is dead
JOB_ID_BYTES = 12
_LOCK = threading.Lock()


def jobs_directory(settings: Settings) -> Path:
    return snapshot_directory(settings) / "console-jobs"


def job_directory(settings: Settings, job_id: str) -> Path | None:
    """The job's directory, or None for an id that is not one (never a path elsewhere)."""
    if len(job_id) != 2 * JOB_ID_BYTES or not all(c in "0123456789abcdef" for c in job_id):
        return None
    return jobs_directory(settings) / job_id


def _write_json(path: Path, data: dict[str, Any]) -> None:
    """Atomically: a reader sees the old or the new status, never half of one."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".status-", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as stream:
        json.dump(data, stream, ensure_ascii=False)
    os.chmod(temporary, 0o644)
    os.replace(temporary, path)


def status(settings: Settings, job_id: str) -> dict[str, Any] | None:
    """A job's status (``state``: running, done or failed), or None when there is no such job."""
    directory = job_directory(settings, job_id)
    if directory is None:
        return None
    try:
        data: dict[str, Any] = json.loads((directory / "status.json").read_text(encoding="utf-8"))
        moved = (directory / "status.json").stat().st_mtime
    except (OSError, ValueError):
        return None
    if data.get("state") == "running" and time.time() - moved > STALE_S:
        data = {**data, "state": "failed", "error": "abandoned: its worker stopped"}
    return data


def running_job(settings: Settings) -> str | None:
    """A job of this host still running, if any (one at a time)."""
    root = jobs_directory(settings)
    if not root.is_dir():
        return None
    for entry in root.iterdir():
        found = status(settings, entry.name)
        if found is not None and found.get("state") == "running":
            return entry.name
    return None


def start_compare(
    settings: Settings,
    champion: Policy,
    challenger: Policy,
    regions: RegionTable,
    profiles: SnapshotProfiles,
    as_of: date,
    by: str,
) -> str | None:
    """Start comparing ``challenger`` with ``champion``; the job's id, or None when another
    job of this host is still running."""
    with _LOCK:
        if running_job(settings) is not None:
            return None
        job_id = secrets.token_hex(JOB_ID_BYTES)
        directory = jobs_directory(settings) / job_id
        directory.mkdir(parents=True, mode=0o750)
        facts = {
            "job_id": job_id,
            "kind": "compare",
            "champion": champion.version,
            "challenger": challenger.version,
            "as_of": as_of.isoformat(),
            "by": by,
            "started_at": datetime.now(UTC).isoformat(),
        }
        _write_json(directory / "status.json", {**facts, "state": "running", "step": "starting"})
    worker = threading.Thread(
        target=_run,
        args=(directory, facts, champion, challenger, regions, profiles, as_of),
        name=f"console-job-{job_id}",
        daemon=True,
    )
    worker.start()
    return job_id


def _run(
    directory: Path,
    facts: dict[str, Any],
    champion: Policy,
    challenger: Policy,
    regions: RegionTable,
    profiles: SnapshotProfiles,
    as_of: date,
) -> None:
    def step(text: str) -> None:
        _write_json(directory / "status.json", {**facts, "state": "running", "step": text})

    try:
        step("copying the snapshot's population")
        population = directory / "population.parquet"
        write_population(profiles, population)
        backend = duckdb_backend("1GB", 1)
        with evaluate(backend, population, [champion, challenger], regions, as_of, step=step) as ev:
            reports = [ev.report(run) for run in ev.runs]
            step("comparing")
            a, b = ev.runs
            found = compare_tables(backend, a.decided, b.decided, None)
        population.unlink(missing_ok=True)
        body = {
            "format": "creditgate.lab.compare/1",
            "as_of": as_of.isoformat(),
            "population": "the active snapshot's decided profiles",
            "outcome_column": None,
            "champion": headline({**reports[0], "file": champion.version}),
            "challenger": headline({**reports[1], "file": challenger.version}),
        } | found
        (directory / "compare.json").write_text(
            json.dumps(body, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
        )
        write_compare_html(directory / "compare.html", body)
        done = {"state": "done", "finished_at": datetime.now(UTC).isoformat()}
        _write_json(directory / "status.json", {**facts, **done})
    except Exception as exc:
        failed = {"state": "failed", "error": type(exc).__name__ + ": " + str(exc)[:300]}
        _write_json(directory / "status.json", {**facts, **failed})


def write_population(profiles: SnapshotProfiles, target: Path) -> None:
    """The decided profiles as one Parquet file, batch by batch (never the whole population
    in memory)."""
    writer: pq.ParquetWriter | None = None
    try:
        for batch in profiles.batches():
            if writer is None:
                writer = pq.ParquetWriter(target, batch.schema)
            writer.write_table(pa.Table.from_batches([batch]))
    finally:
        if writer is not None:
            writer.close()


def result(settings: Settings, job_id: str) -> dict[str, Any] | None:
    """A finished job's ``compare.json``, or None."""
    directory = job_directory(settings, job_id)
    if directory is None:
        return None
    try:
        found: dict[str, Any] = json.loads((directory / "compare.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return found
