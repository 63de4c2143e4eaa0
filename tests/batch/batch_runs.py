"""One batch run as the tests make it: a policy (the packaged one by default) at ``AS_OF``, the
decisions and the snapshot written into one directory."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from creditgate.batch.backends import Backend
from creditgate.batch.run import BatchReport, run_batch
from creditgate.decider import Decider

AS_OF = date(2025, 6, 30)


def run_into(
    backend: Backend, source: Path, out: Path, decider: Decider | None = None
) -> BatchReport:
    """``run_batch`` of ``source`` into ``out`` (``decisions.parquet``, ``snapshot.parquet``
    and what they bring: offers, quarantine, report, decided profiles)."""
    decider = decider or Decider()
    out.mkdir(exist_ok=True)
    return run_batch(
        backend,
        source,
        out / "decisions.parquet",
        decider.policy,
        decider.regions,
        AS_OF,
        snapshot=out / "snapshot.parquet",
    )
