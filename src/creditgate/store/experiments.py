"""The ``experiments`` table: plain functions over an engine or an open connection.

A row is written when the approval of an ``experiment_start`` change commits, and completed
when the approval of its ``experiment_stop`` commits, each inside that approval's transaction
(``ChangeLog.decide``'s ``write``), so an experiment is never running without its approval. What
runs is the ``active`` row ``"experiment"`` (its id), set and removed in the same transactions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from creditgate.store.models import chain_head, experiments
from creditgate.store.repo import now_iso

ACTIVE_KEY = "experiment"  # the ``active`` row naming the running experiment


@dataclass(frozen=True, slots=True)
class Experiment:
    experiment_id: str
    champion_policy: str
    champion_snapshot: str
    challenger_policy: str
    challenger_snapshot: str
    share: float
    salt: str
    proposed_by: str
    started_by: str
    started_at: str
    start_seq: int
    stopped_by: str | None = None
    stopped_at: str | None = None
    stop_seq: int | None = None

    @property
    def status(self) -> str:
        return "stopped" if self.stopped_at is not None else "running"

    @classmethod
    def from_row(cls, row: Any) -> Experiment:
        values = dict(row._mapping)
        values["share"] = float(values["share"])
        return cls(**values)


def _head(conn: Connection) -> int:
    return int(conn.execute(select(chain_head.c.seq)).scalar() or 0)


def record_start(conn: Connection, plan: dict[str, Any], by: str) -> None:
    """Insert the experiment ``plan`` (an ``experiment_start`` change's effect ``experiment``
    and its ``proposed_by``) as started by ``by`` now."""
    conn.execute(
        insert(experiments).values(
            **plan, started_by=by, started_at=now_iso(), start_seq=_head(conn)
        )
    )


def record_stop(conn: Connection, experiment_id: str, by: str) -> None:
    conn.execute(
        update(experiments)
        .where(experiments.c.experiment_id == experiment_id, experiments.c.stopped_at.is_(None))
        .values(stopped_by=by, stopped_at=now_iso(), stop_seq=_head(conn))
    )


def get(engine: Engine, experiment_id: str) -> Experiment | None:
    with engine.connect() as conn:
        row = conn.execute(
            select(experiments).where(experiments.c.experiment_id == experiment_id)
        ).first()
    return Experiment.from_row(row) if row is not None else None


def all_experiments(engine: Engine) -> list[Experiment]:
    """Every started experiment, the latest first."""
    with engine.connect() as conn:
        rows = conn.execute(select(experiments).order_by(experiments.c.started_at.desc())).all()
    return [Experiment.from_row(r) for r in rows]
