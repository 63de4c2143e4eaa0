"""``audit verify`` in full: both chains, the catalog against the event chain, the anchors.

The chains prove the records are linked; the event chain proves who registered and activated
what, so a policy text, a snapshot row or the active setting changed in the database without
an event is named; the anchors (``store/anchors``) prove the chains were not rewritten,
truncated or wiped since they were signed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from creditgate.store.anchors import check_anchors
from creditgate.store.canonical import sha256
from creditgate.store.catalog import Catalog
from creditgate.store.events import Event, verify_events
from creditgate.store.repo import DecisionLog, erased_by_events, verify

ACTIVATIONS = ("activated", "host_activation")


@dataclass
class AuditReport:
    decisions: int = 0
    events: int = 0
    anchors: int = 0
    problems: list[str] = field(default_factory=list)


def verify_all(
    engine: Engine, anchor_path: Path | None = None, keys: dict[str, bytes] | None = None
) -> AuditReport:
    """Every check; each problem names the record, row or anchor at fault."""
    report = AuditReport()
    log = DecisionLog(engine)
    report.events, problem = verify_events(log.events)
    if problem is not None:
        report.problems.append(problem)
    events = log.events.events()
    report.decisions, problem = verify(log, erased_by_events(log.events))
    if problem is not None:
        report.problems.append(problem)
    report.problems += catalog_problems(Catalog(engine), events)
    if anchor_path is not None:
        report.anchors, found = check_anchors(engine, anchor_path, keys or {})
        report.problems += found
    return report


def catalog_problems(catalog: Catalog, events: list[Event]) -> list[str]:
    """Policy texts, snapshot rows and active settings that no event accounts for."""
    problems = []
    registered = {
        (e.body.get("version"), e.body.get("sha256"))
        for e in events
        if e.kind == "policy_registered"
    }
    for row in catalog.policies():
        version = row["version"]
        stored = catalog.policy(version)
        assert stored is not None
        if sha256(stored["text"].encode()) != stored["sha256"]:
            problems.append(f"policy {version}: its text no longer hashes to its sha256")
        elif (version, stored["sha256"]) not in registered:
            problems.append(f"policy {version}: no policy_registered event for this text")
    snapshots: dict[str, list[Event]] = {}
    for e in events:
        if e.kind == "snapshot_registered":
            snapshots.setdefault(str(e.body.get("snapshot_id")), []).append(e)
    for row in catalog.snapshots():
        problem = _snapshot_problem(row, snapshots.get(row["snapshot_id"], []))
        if problem is not None:
            problems.append(f"snapshot {row['snapshot_id']}: {problem}")
    latest = {str(e.body.get("key")): e for e in events if e.kind in ACTIVATIONS}
    for key, value in catalog.active().items():
        event = latest.get(key)
        if event is None or event.body.get("value") != value:
            problems.append(f"active {key} = {value}: not what the last activation event set")
    return problems


def _snapshot_problem(row: dict[str, object], registered: list[Event]) -> str | None:
    if not registered:
        return "no snapshot_registered event"
    observed = {
        "invited": row["invited"],
        "path": row["path"],
        "meta_sha256": sha256(str(row["meta"]).encode()),
    }
    for event in registered:
        if all(event.body.get(k) == v for k, v in observed.items()):
            return None
    last = registered[-1].body
    differing = sorted(k for k, v in observed.items() if last.get(k) != v)
    return "catalog row differs from its snapshot_registered event in " + ", ".join(differing)
