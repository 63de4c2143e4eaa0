"""Operator routes under ``/v1/admin``: policies, snapshots, the review queue.

Reads need viewer, operator or admin; writes need operator or admin, and each successful write
is a line of the admin-action trail (``logs.audit_log``: actor, action, non-personal subject).
"""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, HTTPException, Query

from creditgate.policy.lint import errors, lint
from creditgate.policy.loader import PolicyError, parse_policy
from creditgate.service import approvals, reviewing
from creditgate.service.deps import AdminReader, AdminWriter, ServicesDep
from creditgate.service.logs import actor_name, audit_log
from creditgate.service.ops import load_snapshot, register_policy
from creditgate.service.schemas import (
    ChangeInfo,
    LintFinding,
    LintReport,
    PolicyActivation,
    PolicyDetail,
    PolicyInfo,
    PolicyText,
    QueuedReview,
    ResolvedReview,
    ResolveRequest,
    ReviewSummary,
    SnapshotInfo,
    SnapshotLoad,
)
from creditgate.service.security import Principal
from creditgate.service.snapshot_files import SnapshotRefusedError
from creditgate.snapshot import SnapshotError
from creditgate.store.catalog import ConflictError

router = APIRouter(prefix="/v1/admin", tags=["admin"])


def _policy_error(exc: PolicyError) -> HTTPException:
    return HTTPException(
        422, [{"loc": ["body", "text"], "msg": str(i), "type": "policy"} for i in exc.issues]
    )


@router.get("/policies")
def list_policies(_: AdminReader, services: ServicesDep) -> list[PolicyInfo]:
    live = services.catalog.active().get("policy")
    return [PolicyInfo(**p, active=p["version"] == live) for p in services.catalog.policies()]


@router.get("/policies/{version}")
def show_policy(version: str, _: AdminReader, services: ServicesDep) -> PolicyDetail:
    stored = services.catalog.policy(version)
    if stored is None:
        raise HTTPException(404, "no such policy version")
    live = services.catalog.active().get("policy")
    return PolicyDetail(**stored, active=version == live)


@router.post("/policies/lint")
def lint_policy(body: PolicyText, _: AdminReader) -> LintReport:
    """Check a policy text without storing it (a read: viewers may lint)."""
    try:
        policy = parse_policy(body.text, "<upload>")
    except PolicyError as exc:
        raise _policy_error(exc) from None
    found = lint(policy)
    return LintReport(
        errors=len(errors(found)),
        findings=[
            LintFinding(level=f.level.value, check=f.check, line=f.line, message=f.message)
            for f in found
        ],
    )


@router.post("/policies", status_code=201)
def upload_policy(body: PolicyText, caller: AdminWriter, services: ServicesDep) -> PolicyInfo:
    """Store a new policy version (refused with its lint errors); activate it separately."""
    try:
        version = register_policy(
            services.catalog, body.text, events=services.events, actor=_actor(caller, services)
        )
    except PolicyError as exc:
        raise _policy_error(exc) from None
    except ConflictError as exc:
        raise HTTPException(409, str(exc)) from None
    audit_log("policy.upload", _actor(caller, services), version)
    return list_one(services, version)


def _actor(caller: Principal, services: ServicesDep) -> str:
    return actor_name(caller, services.secret)


def list_one(services: ServicesDep, version: str) -> PolicyInfo:
    stored = services.catalog.policy(version)
    assert stored is not None
    stored.pop("text")
    return PolicyInfo(**stored, active=services.catalog.active().get("policy") == version)


@router.post("/policies/{version}/activate", status_code=202)
def activate_policy(
    version: str,
    caller: AdminWriter,
    services: ServicesDep,
    body: PolicyActivation | None = None,
) -> ChangeInfo:
    """Propose the version for activation, with ``snapshot_id`` (a snapshot made for this
    version) going live with it; it goes live when another person (an admin) approves it
    under ``/v1/admin/changes`` (see ``service/approvals.py``). While a snapshot is active,
    a policy without a snapshot of its own is refused (409)."""
    if services.catalog.policy(version) is None:
        raise HTTPException(404, "no such policy version")
    snapshot_id = body.snapshot_id if body is not None else None
    return ChangeInfo(**approvals.propose(services, "policy", version, caller, snapshot_id))


def _snapshot_info(row: dict[str, object], live: str | None) -> SnapshotInfo:
    return SnapshotInfo(
        **{**row, "meta": orjson.loads(str(row["meta"]))}, active=row["snapshot_id"] == live
    )


@router.get("/snapshots")
def list_snapshots(_: AdminReader, services: ServicesDep) -> list[SnapshotInfo]:
    live = services.catalog.active().get("snapshot")
    return [_snapshot_info(s, live) for s in services.catalog.snapshots()]


def _refused(exc: Exception) -> HTTPException:
    """422 naming no path and, for the file checks, one message whatever the reason."""
    refused = isinstance(exc, SnapshotRefusedError)
    msg = str(exc) if refused else "not a readable creditgate snapshot"
    return HTTPException(422, [{"loc": ["body", "path"], "msg": msg, "type": "snapshot"}])


@router.post("/snapshots", status_code=201)
def load_snapshot_file(
    body: SnapshotLoad, caller: AdminWriter, services: ServicesDep
) -> SnapshotInfo:
    """Register a snapshot file from the snapshot directory (``CREDITGATE_SNAPSHOT_DIR``,
    default ``snapshots/`` beside the SQLite database): a name or relative path in it."""
    try:
        snapshot_id = load_snapshot(
            services.catalog,
            services.settings,
            body.path,
            services.events,
            _actor(caller, services),
        )
    except (SnapshotError, ValueError, KeyError) as exc:  # malformed metadata included
        raise _refused(exc) from None
    row = services.catalog.snapshot(snapshot_id)
    assert row is not None
    audit_log("snapshot.load", _actor(caller, services), snapshot_id)
    return _snapshot_info(row, services.catalog.active().get("snapshot"))


@router.post("/snapshots/{snapshot_id}/activate", status_code=202)
def activate_snapshot(snapshot_id: str, caller: AdminWriter, services: ServicesDep) -> ChangeInfo:
    """Propose the snapshot for activation; a routine refresh goes live at once, anything
    else when another person approves it (see ``service/approvals.py``). A snapshot made for
    another policy than the active one is refused (409): it goes with its policy's proposal."""
    if services.catalog.snapshot(snapshot_id) is None:
        raise HTTPException(404, "no such snapshot")
    return ChangeInfo(**approvals.propose(services, "snapshot", snapshot_id, caller))


def _review_error(exc: reviewing.ReviewError) -> HTTPException:
    return HTTPException(exc.status, str(exc))


@router.get("/reviews")
def list_reviews(
    _: AdminReader,
    services: ServicesDep,
    status: Annotated[str | None, Query(pattern="^(open|resolved)$")] = "open",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    kind: Annotated[str | None, Query(pattern="^(appeal|manual_review)$")] = None,
) -> list[QueuedReview]:
    """The queue, oldest first (``kind``: appeal or manual_review)."""
    rows = services.catalog.reviews(status, limit, kind)
    return [QueuedReview(**reviewing.queue_item(services, r)) for r in rows]


@router.get("/reviews/summary")
def review_summary(_: AdminReader, services: ServicesDep) -> ReviewSummary:
    return ReviewSummary(**reviewing.summary(services))


@router.get("/reviews/{review_id}")
def show_review(review_id: str, _: AdminReader, services: ServicesDep) -> QueuedReview:
    found = services.catalog.review(review_id)
    if found is None:
        raise HTTPException(404, "no such review")
    return QueuedReview(**reviewing.queue_item(services, found))


@router.post("/reviews/{review_id}/claim")
def claim_review(review_id: str, caller: AdminWriter, services: ServicesDep) -> QueuedReview:
    """Hold the review for ``CREDITGATE_REVIEW_CLAIM_S`` seconds (claiming again extends
    it); 409 while another operator holds it."""
    try:
        found = reviewing.claim(services, caller, review_id)
    except reviewing.ReviewError as exc:
        raise _review_error(exc) from None
    return QueuedReview(**reviewing.queue_item(services, found))


@router.post("/reviews/{review_id}/release")
def release_review(review_id: str, caller: AdminWriter, services: ServicesDep) -> QueuedReview:
    """Give the review back to the queue (409 unless the caller holds it)."""
    try:
        found = reviewing.release(services, caller, review_id)
    except reviewing.ReviewError as exc:
        raise _review_error(exc) from None
    return QueuedReview(**reviewing.queue_item(services, found))


@router.post("/reviews/{review_id}/resolve")
def resolve_review(
    review_id: str, body: ResolveRequest, caller: AdminWriter, services: ServicesDep
) -> ResolvedReview:
    """Resolve a review the caller holds, or claim and resolve it in one step when nobody
    does (409 while another operator holds it): records the person's decision in the
    decision log (``service/reviewing.py``), which is the user's answer at once."""
    try:
        closed = reviewing.resolve(services, caller, review_id, body.resolution, body.note)
    except reviewing.ReviewError as exc:
        raise _review_error(exc) from None
    return ResolvedReview(
        review_id=review_id,
        status="resolved",
        resolution=body.resolution,
        decision_id=closed["human_decision_id"],
    )
