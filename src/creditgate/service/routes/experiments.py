"""Champion/challenger experiments under ``/v1/admin/experiments``: propose a start or a stop
(operators and admins; approved by another admin under ``/v1/admin/changes``), list them, and
compare their arms (viewers too).

The report may read a performance file (``user_id``, ``defaulted``), named by ``performance``:
a file name (``.csv`` or ``.parquet``) in the snapshot directory, never a path elsewhere.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from creditgate.experiment_report import PerformanceError, read_performance, report
from creditgate.service import experiments
from creditgate.service.deps import AdminReader, AdminWriter, Services, ServicesDep
from creditgate.service.schemas import (
    ChangeInfo,
    ExperimentInfo,
    ExperimentProposal,
    ExperimentReport,
)
from creditgate.service.snapshot_files import snapshot_directory
from creditgate.store.experiments import all_experiments, get

router = APIRouter(prefix="/v1/admin/experiments", tags=["admin"])
_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}\.(csv|parquet)")


@router.get("")
def list_experiments(_: AdminReader, services: ServicesDep) -> list[ExperimentInfo]:
    """Proposed starts (awaiting approval) first, then started experiments, latest first."""
    proposed = [
        experiments.proposed_view(c)
        for c in services.changes.list("proposed", 1000)
        if c["kind"] == experiments.START
    ]
    started = [experiments.experiment_view(e) for e in all_experiments(services.engine)]
    return [ExperimentInfo(**e) for e in proposed + started]


@router.post("", status_code=202)
def propose_experiment(
    body: ExperimentProposal, caller: AdminWriter, services: ServicesDep
) -> ChangeInfo:
    """Propose starting an experiment against the active policy and snapshot (the champion);
    it starts when another admin approves the change (``/v1/admin/changes/{id}/approve``)."""
    change = experiments.propose_start(
        services, body.challenger_policy, body.challenger_snapshot, body.share, caller
    )
    return ChangeInfo(**change)


@router.get("/{experiment_id}")
def show_experiment(experiment_id: str, _: AdminReader, services: ServicesDep) -> ExperimentInfo:
    found = get(services.engine, experiment_id)
    if found is None:
        raise HTTPException(404, "no such experiment")
    return ExperimentInfo(**experiments.experiment_view(found))


@router.post("/{experiment_id}/stop", status_code=202)
def stop_experiment(experiment_id: str, caller: AdminWriter, services: ServicesDep) -> ChangeInfo:
    """Propose stopping the running experiment; on approval everyone is champion again."""
    return ChangeInfo(**experiments.propose_stop(services, experiment_id, caller))


@router.get("/{experiment_id}/report")
def experiment_report(
    experiment_id: str,
    _: AdminReader,
    services: ServicesDep,
    performance: Annotated[str | None, Query(max_length=140)] = None,
) -> ExperimentReport:
    """The arms compared over the experiment's stored decisions; with ``performance`` (a
    file in the snapshot directory), the invited users' bad rate per arm with 95% intervals."""
    found = get(services.engine, experiment_id)
    if found is None:
        raise HTTPException(404, "no such experiment")
    outcomes = None if performance is None else performance_of(services, performance)
    return ExperimentReport(**report(services.engine, found, outcomes))


def performance_of(services: Services, name: str) -> dict[str, int]:
    """The outcomes in the performance file ``name`` of the snapshot directory (the API and
    the console read it alike); ``HTTPException`` 422 for a bad name or content."""
    path = _performance_file(snapshot_directory(services.settings), name)
    try:
        return read_performance(path)
    except PerformanceError:
        raise HTTPException(422, "performance: not a user_id, defaulted (0/1) table") from None


def _performance_file(directory: Path, name: str) -> Path:
    refused = HTTPException(422, "performance: no such .csv or .parquet file name in the directory")
    if _FILE_NAME.fullmatch(name) is None:
        raise refused
    try:
        root = Path(os.path.realpath(directory, strict=True))
        target = Path(os.path.realpath(root / name, strict=True))
    except (OSError, ValueError):
        raise refused from None
    if target.parent != root or not target.is_file():
        raise refused
    return target
