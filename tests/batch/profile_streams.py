"""Spies on how a batch run writes its decided profiles: the streams of profile rows through
the run's own backend, and the writers started beside it (``batch.profiles.ProfilesBeside``)."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import ibis.expr.types as ir
import pyarrow as pa
import pytest

from creditgate.batch import run
from creditgate.batch.backends import Backend
from creditgate.batch.profiles import ProfilesBeside


def spy_streams(backend: Backend, monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Per stream of profile rows through ``backend``: whether it asked DuckDB for a sort."""
    streamed: list[bool] = []
    batches = backend.batches

    def spied(expr: ir.Table) -> Generator[pa.RecordBatch, None, None]:
        if "birth_date" in expr.columns:
            streamed.append("ORDER BY" in backend.compile(expr))
        return batches(expr)

    monkeypatch.setattr(backend, "batches", spied)
    return streamed


def spy_beside(monkeypatch: pytest.MonkeyPatch) -> list[ProfilesBeside]:
    """The writers the runs start beside them, in order."""
    made: list[ProfilesBeside] = []
    start = run.profiles_beside

    def started(*args: Any) -> ProfilesBeside:
        made.append(start(*args))
        return made[-1]

    monkeypatch.setattr(run, "profiles_beside", started)
    return made
