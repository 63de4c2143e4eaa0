"""Several policies over one population: one read, one validation, one staged pass.

``evaluate`` reads and validates the population once (``batch.run.open_population``: the
batch's own contract typing, quarantine and duplicate rules), stages every policy's early
bindings in one pass (``batch.staging``: bindings the policies share are computed once),
then per policy derives its capacity and quota cutoffs exactly as ``batch`` does (one
``GROUP BY`` of the staged rows, ``whitelist.derive_cutoffs``) and defines its decided rows
over the staged table (the late bindings: a few CASEs a row, evaluated when read).

The decided tables read backend tables that live until ``Evaluation.close()`` (or the end of
a ``with evaluate(...) as ev:`` block): read them before that.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from types import TracebackType
from typing import Any

import ibis
import ibis.expr.types as ir

from creditgate.batch.backends import Backend
from creditgate.batch.decisions import with_reasons
from creditgate.batch.run import (
    BatchInputError,
    Step,
    decided,
    duplicates,
    open_population,
    ranking,
    valid_rows,
)
from creditgate.batch.staging import OUTCOME, stage_policies
from creditgate.batch.whitelist import Cutoffs, apply_cutoffs, derive_cutoffs
from creditgate.lab.funnel import FIRST, MASK, FunnelStep
from creditgate.lab.report import report_of, with_counts
from creditgate.policy.nodes import Policy
from creditgate.population.regions import RegionTable

DECIDED_COLUMNS = (
    "user_id",
    "region_class",
    "province",
    "city",
    "segment",
    "outcome",
    "reason_codes",
    "score",
    "pd",
    "limit_cny",
    "apr",
    "funnel_first",
    "funnel_mask",
)


class LabInputError(BatchInputError):
    """The population or the policies cannot be evaluated together (exit 2 in the CLI)."""


@dataclass
class PolicyRun:
    """One policy's evaluation: its cutoffs (as ``batch`` derives them) and decided rows.

    ``decided``: one row per decided user, columns ``DECIDED_COLUMNS`` (``funnel_first`` is
    the index in ``steps`` of the first step that stopped the user, NULL for the invited;
    ``funnel_mask`` has bit ``i`` set when step ``i`` failed) plus the outcome column, named
    as in the population, when one was given."""

    policy: Policy
    cutoffs: Cutoffs
    decided: ir.Table
    steps: tuple[FunnelStep, ...] = ()
    rows: ir.Table | None = field(default=None, repr=False)  # decided, reasons not joined
    lists: ir.Table | None = field(default=None, repr=False)


@dataclass
class Evaluation:
    input_rows: int
    decided: int
    quarantined: int
    duplicate_rows: int
    runs: list[PolicyRun]  # in the order the policies were given
    outcome_column: str | None
    backend: Backend | None = field(default=None, repr=False)
    regions: RegionTable | None = field(default=None, repr=False)
    staged: list[ir.Table] = field(default_factory=list, repr=False)
    as_of: date | None = None

    def report(self, run: PolicyRun) -> dict[str, Any]:
        """``run``'s report (``lab.report``) with this population's counts."""
        assert self.backend is not None and self.regions is not None and run.rows is not None
        assert self.as_of is not None
        body = report_of(
            self.backend, run.rows, run.steps, run.policy, run.cutoffs, self.regions, self.as_of
        )
        return with_counts(
            body, self.input_rows, self.decided, self.quarantined, self.duplicate_rows
        ) | {"outcome_column": self.outcome_column}

    def close(self) -> None:
        """Drop the staged tables the decided rows read (idempotent)."""
        if self.backend is not None:
            for table in self.staged:
                self.backend.release(table)
        self.staged = []

    def __enter__(self) -> Evaluation:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _noop(_: str) -> None:
    return None


def evaluate(
    backend: Backend,
    source: Path,
    policies: Sequence[Policy],
    regions: RegionTable,
    as_of: date,
    outcome_column: str | None = None,
    step: Step = _noop,
    previous: Path | None = None,
) -> Evaluation:
    """Every policy over ``source`` (module docstring); with ``previous`` (the snapshot in
    force) each user's held invitation is read from it, as ``batch --previous`` does.
    Raises ``LabInputError`` (a ``BatchInputError``) for an unusable input, an unknown
    outcome column or policies that disagree on what a valid row is
    (``regions.unknown_city``)."""
    if not policies:
        raise LabInputError("no policy to evaluate")
    first = policies[0]
    if any(p.unknown_city != first.unknown_city for p in policies):
        raise LabInputError(
            "the policies validate cities differently (regions.unknown_city): "
            "evaluate them in separate runs"
        )
    pop = open_population(backend, source, first, regions, as_of, step, previous)
    if outcome_column is not None:
        kind = pop.raw.schema().get(outcome_column)
        if kind is None:
            raise LabInputError(f"{source}: no outcome column {outcome_column!r}")
        if not (kind.is_boolean() or kind.is_integer() or kind.is_string()):
            raise LabInputError(
                f"{source}: outcome column {outcome_column!r} is {kind}, "
                "not boolean, integer or text"
            )
    step("deciding under the policies' own cutoffs" if len(policies) > 1 else "deciding")
    staged, parts = stage_policies(
        backend, pop.table, policies, regions, as_of, pop.raw_cities, pop.cities, outcome_column
    )
    ev = Evaluation(pop.input_rows, 0, 0, 0, [], outcome_column, backend, regions, [staged], as_of)
    try:
        step("finding duplicate user ids")
        ev.duplicate_rows, dups = duplicates(backend, parts[0].view, pop.raw)
        for k, part in enumerate(parts):
            step(f"ranking eligible users ({k + 1}/{len(parts)})")
            counted = ranking(backend, part.shape, part.view, dups)
            cutoffs = derive_cutoffs(counted.eligible, pop.input_rows, part.policy, regions)
            cut = apply_cutoffs(part.policy, cutoffs.by_class, by_city=cutoffs.by_city)
            final = part.shape.cut_at(cut)
            good = valid_rows(part.view, dups)
            rows, lists = decided(backend, final, good, as_of, counted.signatures, part.steps)
            if lists is not None:
                ev.staged.append(lists)
            if k == 0:
                ev.decided = counted.valid_rows
                ev.quarantined = pop.input_rows - counted.valid_rows
            table = public_columns(rows, lists, regions, outcome_column)
            ev.runs.append(PolicyRun(part.policy, cutoffs, table, part.steps, rows, lists))
    except BaseException:
        ev.close()
        raise
    return ev


def public_columns(
    rows: ir.Table,
    lists: ir.Table | None,
    regions: RegionTable,
    outcome_column: str | None,
) -> ir.Table:
    """``DECIDED_COLUMNS`` (and the outcome column) of ``batch.run.decided``'s rows."""
    full = rows if lists is None else with_reasons(rows, lists)
    provinces = ibis.memtable(
        {
            "_p_city": list(regions.cities),
            "_p_province": [c.province for c in regions.cities.values()],
        }
    )
    full = full.mutate(_city=full["city"].cast("string"))
    joined = full.left_join(provinces, full["_city"] == provinces["_p_city"])
    columns: dict[str, ir.Value] = {
        "user_id": joined["user_id"],
        "region_class": joined["region_class"].cast("string"),
        "province": joined["_p_province"],
        "city": joined["_city"],
        "segment": joined["segment"].cast("string"),
        "outcome": joined["outcome"].cast("string"),
        "reason_codes": joined["reason_codes"],
        "score": joined["score"],
        "pd": joined["pd"],
        "limit_cny": joined["limit_cny"],
        "apr": joined["apr"],
        "funnel_first": joined[FIRST],
        "funnel_mask": joined[MASK],
    }
    if outcome_column is not None:
        columns[outcome_column] = joined[OUTCOME]
    return joined.select(**columns)
