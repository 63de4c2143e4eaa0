"""One batch run: read, validate, rank, decide, write decisions, quarantine and snapshot.

Counts reconcile by construction and are checked: every input row is either decided (one
output row) or quarantined (one quarantine row with its reason).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from creditgate.batch.backends import Backend
from creditgate.batch.decisions import decision_columns
from creditgate.batch.validate import (
    BAD_COLUMN,
    checked,
    city_rules,
    duplicate_ids,
    missing_columns,
    profiles,
    quarantined,
    valid_profiles,
)
from creditgate.batch.whitelist import Cutoffs, Eligible, apply_cutoffs, derive_cutoffs
from creditgate.engines.ibis import IbisCompiler
from creditgate.policy.lower import lower, slice_program
from creditgate.policy.nodes import Policy
from creditgate.population.regions import RegionTable
from creditgate.snapshot import SnapshotMeta, write_snapshot

Step = Callable[[str], None]


class BatchInputError(ValueError):
    """The input cannot be used at all (missing file, missing contract columns)."""


@dataclass
class BatchReport:
    input_rows: int
    decided: int
    quarantined: int
    duplicate_rows: int
    outcomes: dict[str, int]
    cutoffs: Cutoffs
    quarantine_path: Path
    snapshot_path: Path | None = None
    reasons: dict[str, int] = field(default_factory=dict)

    @property
    def reconciles(self) -> bool:
        return self.input_rows == self.decided + self.quarantined


def quarantine_path(out: Path) -> Path:
    """``decisions.parquet`` -> ``decisions.quarantine.parquet`` (next to the output)."""
    return out.with_name(out.name.removesuffix(".parquet") + ".quarantine.parquet")


def fingerprint(path: Path) -> str:
    """Cheap and stable: sizes and names of the input files, plus their first megabyte."""
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for p in files:
        digest.update(f"{p.name}:{p.stat().st_size}".encode())
        with p.open("rb") as f:
            digest.update(f.read(1 << 20))
    return "sha256:" + digest.hexdigest()[:32]


def run_batch(
    backend: Backend,
    source: Path,
    out: Path,
    policy: Policy,
    regions: RegionTable,
    as_of: date,
    snapshot: Path | None = None,
    step: Step = lambda _: None,
) -> BatchReport:
    if not source.exists():
        raise BatchInputError(f"{source}: no such file or directory")
    step("reading input")
    try:
        raw = backend.read(source)
    except Exception as exc:  # the backends raise their own types for unreadable files
        raise BatchInputError(f"{source}: cannot read as Parquet: {exc}") from exc
    missing = missing_columns(raw)
    if missing:
        raise BatchInputError(f"{source}: missing profile columns: {', '.join(missing)}")
    input_rows = int(backend.scalar(raw.count()))
    cities = city_rules(
        backend.fetch(raw.select("city").distinct())["city"].to_pylist(), policy, regions
    )
    step("finding duplicate user ids")
    dups = backend.fetch(duplicate_ids(raw))
    duplicate_rows = int(pa.compute.sum(dups["_dup_count"]).as_py() or 0)
    table = checked(raw, as_of, cities, ibis.memtable(dups) if dups.num_rows else None)

    step("ranking eligible users")
    eligible, bad_rows = eligible_counts(backend, profiles(table), policy, regions, as_of)
    cutoffs = derive_cutoffs(eligible, input_rows, policy, regions)
    step("deciding")
    program = lower(apply_cutoffs(policy, cutoffs.by_class), regions)
    good = valid_profiles(table)
    backend.write(decision_columns(program, good, as_of, extra=("region_class",)), out)
    step("writing quarantine")
    q_path = quarantine_path(out)
    bad = quarantined(table)
    # The ranking pass counted the bad rows: a clean file needs no second validating scan.
    backend.write(bad if bad_rows else bad.limit(0), q_path)

    step("counting")
    decided_t = backend.read(out)
    outcomes = {
        r["outcome"]: int(r["n"])
        for r in backend.fetch(decided_t.group_by("outcome").agg(n=decided_t.count())).to_pylist()
    }
    report = BatchReport(
        input_rows=input_rows,
        decided=sum(outcomes.values()),
        quarantined=int(backend.scalar(backend.read(q_path).count())),
        duplicate_rows=duplicate_rows,
        outcomes=outcomes,
        cutoffs=cutoffs,
        quarantine_path=q_path,
    )
    if snapshot is not None:
        step("writing snapshot")
        invited = decided_t.filter(decided_t["outcome"] == "invited")
        rows = backend.fetch(invited.select("user_id", "region_class", "score", "limit_cny", "apr"))
        rows = rows.sort_by([("score", "descending"), ("user_id", "ascending")])
        meta = SnapshotMeta(
            policy_name=policy.name,
            policy_version=policy.version,
            as_of=as_of,
            cutoffs=dict(cutoffs.by_class),
            capacity_share=policy.capacity_share,
            input_fingerprint=fingerprint(source),
            created_at=datetime.now(UTC),
            counts={
                "input": report.input_rows,
                "decided": report.decided,
                "quarantined": report.quarantined,
                "invited": outcomes.get("invited", 0),
                "capacity": cutoffs.capacity,
            },
        )
        write_snapshot(snapshot, meta, rows)
        report.snapshot_path = snapshot
    return report


def eligible_counts(
    backend: Backend, rows: ir.Table, policy: Policy, regions: RegionTable, as_of: date
) -> tuple[list[Eligible], int]:
    """Users invited under the policy's own cutoffs, counted by (class, city, score), and the
    number of bad rows: one scan of ``rows`` (``validate.profiles``: every row, flagged)."""
    # Only what the ranking reads: no offer, no reason keys.
    program = slice_program(lower(policy, regions), ["outcome", "score", "region_class"])
    compiler = IbisCompiler(program, rows, as_of)
    cols = compiler.compile()
    t = compiler.table
    bad = t[BAD_COLUMN]
    t = t.mutate(
        _bad=bad,
        _class=ibis.ifelse(bad, ibis.null("string"), cols["region_class"]),
        _city=ibis.ifelse(bad, ibis.null("string"), t["city"]),
        _score=ibis.ifelse(bad, ibis.null("int64"), cols["score"].cast("int64")),
        _invited=cols["outcome"] == "invited",
    )
    t = t.filter(t["_bad"] | t["_invited"])
    agg = t.group_by(bad=t["_bad"], region_class=t["_class"], city=t["_city"], score=t["_score"])
    eligible: list[Eligible] = []
    bad_rows = 0
    for r in backend.fetch(agg.agg(n=t.count())).to_pylist():
        if r["bad"]:
            bad_rows += int(r["n"])
        else:
            eligible.append(Eligible(r["region_class"], r["city"], int(r["score"]), int(r["n"])))
    return eligible, bad_rows
