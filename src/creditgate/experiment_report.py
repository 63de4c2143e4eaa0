"""Compare the arms of a champion/challenger experiment over its stored decisions.

The decisions of an experiment are those appended while it ran (log positions after its
``start_seq``, up to its ``stop_seq``) that record ``experiment.id`` = its id. Per arm:
decisions and their outcomes; users, each counted by their latest decision in the experiment;
the invited share of those users; the mean and median limit and the mean APR of the invited
ones. With a performance file (``user_id``, ``defaulted`` 0/1; Parquet or CSV) each arm's
invited users with a known outcome give a realised bad rate with its 95% Wilson interval, and
the difference challenger - champion its 95% interval (Newcombe's hybrid score method).

Used by ``creditgate experiment report`` and ``GET /v1/admin/experiments/{id}/report``.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from sqlalchemy import Engine, select

from creditgate.experiment import ARMS
from creditgate.policy.nodes import Outcome
from creditgate.store.experiments import Experiment
from creditgate.store.models import decisions

Z95 = 1.959963984540054
_PAGE = 10_000


class PerformanceError(ValueError):
    """A performance file that cannot be read as (user_id, defaulted 0/1)."""


@dataclass
class ArmTally:
    """What one arm's decisions add up to (``latest``: each user's last decision)."""

    decisions: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    latest: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, user_id: str, decision: dict[str, Any]) -> None:
        self.decisions += 1
        self.outcomes[str(decision.get("outcome"))] += 1
        self.latest[user_id] = decision


def wilson(bad: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion ``bad``/``n`` (n > 0)."""
    p = bad / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def difference(champion: tuple[int, int], challenger: tuple[int, int]) -> dict[str, float] | None:
    """Challenger minus champion bad rate, with Newcombe's 95% interval from the two Wilson
    intervals; None when an arm has no outcome. Arguments are (bad, n)."""
    if champion[1] == 0 or challenger[1] == 0:
        return None
    p1, p2 = champion[0] / champion[1], challenger[0] / challenger[1]
    (l1, u1), (l2, u2) = wilson(*champion), wilson(*challenger)
    d = p2 - p1
    return {
        "difference": d,
        "low": d - math.sqrt((p2 - l2) ** 2 + (u1 - p1) ** 2),
        "high": d + math.sqrt((u2 - p2) ** 2 + (p1 - l1) ** 2),
    }


def read_performance(path: Path) -> dict[str, int]:
    """``user_id`` -> ``defaulted`` (0 or 1) from a Parquet or CSV file."""
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            table = pq.read_table(path, columns=["user_id", "defaulted"])
        else:
            types = {"user_id": pa.string(), "defaulted": pa.int64()}
            table = pacsv.read_csv(
                path,
                convert_options=pacsv.ConvertOptions(
                    column_types=types, include_columns=["user_id", "defaulted"]
                ),
            )
    except (OSError, pa.ArrowException, KeyError) as exc:
        raise PerformanceError(
            f"{path.name}: not a table with columns user_id and defaulted ({type(exc).__name__})"
        ) from None
    ids = table.column("user_id").cast(pa.string())
    flags = table.column("defaulted")
    if ids.null_count or flags.null_count:
        raise PerformanceError(f"{path.name}: user_id and defaulted may not be empty")
    if not pc.all(pc.is_in(flags, pa.array([0, 1], flags.type))).as_py():
        raise PerformanceError(f"{path.name}: defaulted must be 0 or 1")
    found = dict(zip(ids.to_pylist(), (int(f) for f in flags.to_pylist()), strict=True))
    if len(found) != len(table):
        raise PerformanceError(f"{path.name}: a user_id appears more than once")
    return found


def tally(
    engine: Engine, experiment: Experiment, progress: Callable[[int], None] | None = None
) -> dict[str, ArmTally]:
    """Each arm's decisions in the experiment, read a page at a time (``progress`` gets the
    number of log rows read so far)."""
    arms: dict[str, ArmTally] = {arm: ArmTally() for arm in ARMS}
    versions = (experiment.champion_policy, experiment.challenger_policy)
    seq, read = experiment.start_seq, 0
    while True:
        query = (
            select(decisions.c.seq, decisions.c.user_id, decisions.c.decision)
            .where(decisions.c.seq > seq, decisions.c.policy_version.in_(versions))
            .order_by(decisions.c.seq)
            .limit(_PAGE)
        )
        if experiment.stop_seq is not None:
            query = query.where(decisions.c.seq <= experiment.stop_seq)
        with engine.connect() as conn:
            rows = conn.execute(query).all()
        for row in rows:
            decision = orjson.loads(row.decision)
            tag = decision.get("experiment")
            if isinstance(tag, dict) and tag.get("id") == experiment.experiment_id:
                arm = arms.get(str(tag.get("arm")))
                if arm is not None:
                    arm.add(row.user_id, decision)
        read += len(rows)
        if progress is not None:
            progress(read)
        if len(rows) < _PAGE:
            return arms
        seq = int(rows[-1].seq)


def _arm_report(
    tally_: ArmTally, policy: str, snapshot: str, performance: Mapping[str, int] | None
) -> dict[str, Any]:
    invited = {u: d for u, d in tally_.latest.items() if d.get("outcome") == Outcome.INVITED}
    limits = [int(d["limit_cny"]) for d in invited.values() if d.get("limit_cny") is not None]
    aprs = [Decimal(str(d["apr"])) for d in invited.values() if d.get("apr") is not None]
    users = len(tally_.latest)
    out: dict[str, Any] = {
        "policy_version": policy,
        "snapshot_id": snapshot,
        "decisions": tally_.decisions,
        "outcomes": dict(sorted(tally_.outcomes.items())),
        "users": users,
        "invited_users": len(invited),
        "invited_share": len(invited) / users if users else None,
        "limit_mean": statistics.fmean(limits) if limits else None,
        "limit_median": statistics.median(limits) if limits else None,
        "apr_mean": float(sum(aprs) / len(aprs)) if aprs else None,
        "bad_rate": None,
    }
    if performance is not None:
        known = [performance[u] for u in invited if u in performance]
        bad, n = sum(known), len(known)
        low, high = wilson(bad, n) if n else (None, None)
        out["bad_rate"] = {
            "with_outcome": n,
            "without_outcome": len(invited) - n,
            "defaulted": bad,
            "rate": bad / n if n else None,
            "low": low,
            "high": high,
        }
    return out


def report(
    engine: Engine,
    experiment: Experiment,
    performance: Mapping[str, int] | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """The comparison of the arms (see the module docstring), JSON-ready."""
    arms = tally(engine, experiment, progress)
    pairs = {
        "champion": (experiment.champion_policy, experiment.champion_snapshot),
        "challenger": (experiment.challenger_policy, experiment.challenger_snapshot),
    }
    out = {arm: _arm_report(arms[arm], *pairs[arm], performance) for arm in ARMS}
    diff = None
    if performance is not None:
        counts = [out[a]["bad_rate"] for a in ARMS]
        champion, challenger = ((c["defaulted"], c["with_outcome"]) for c in counts)
        diff = difference(champion, challenger)
    return {
        "experiment_id": experiment.experiment_id,
        "status": experiment.status,
        "share": experiment.share,
        "arms": out,
        "bad_rate_difference": diff,
    }
