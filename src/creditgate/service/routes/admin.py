"""Operator routes under ``/v1/admin``: policies, snapshots, the review queue.

Reads need viewer, operator or admin; writes need operator or admin, and each successful write
is a line of the admin-action trail (``logs.audit_log``: actor, action, non-personal subject).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import orjson
from fastapi import APIRouter, HTTPException, Query

from creditgate.policy.lint import errors, lint
from creditgate.policy.loader import PolicyError, parse_policy
from creditgate.service.deps import AdminReader, AdminWriter, ServicesDep
from creditgate.service.logs import actor_name, audit_log
from creditgate.service.ops import load_snapshot, register_policy
from creditgate.service.schemas import (
    LintFinding,
    LintReport,
    PolicyDetail,
    PolicyInfo,
    PolicyText,
    ResolveRequest,
    Review,
    SnapshotInfo,
    SnapshotLoad,
)
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
def upload_policy(body: PolicyText, principal: AdminWriter, services: ServicesDep) -> PolicyInfo:
    """Store a new policy version (refused with its lint errors); activate it separately."""
    try:
        version = register_policy(services.catalog, body.text)
    except PolicyError as exc:
        raise _policy_error(exc) from None
    except ConflictError as exc:
        raise HTTPException(409, str(exc)) from None
    audit_log("policy.upload", actor_name(principal, services.secret), version)
    return list_one(services, version)


def list_one(services: ServicesDep, version: str) -> PolicyInfo:
    stored = services.catalog.policy(version)
    assert stored is not None
    stored.pop("text")
    return PolicyInfo(**stored, active=services.catalog.active().get("policy") == version)


@router.post("/policies/{version}/activate")
def activate_policy(version: str, principal: AdminWriter, services: ServicesDep) -> PolicyInfo:
    if services.catalog.policy(version) is None:
        raise HTTPException(404, "no such policy version")
    services.state.decider(version)  # compile before switching: a bad policy never goes live
    services.catalog.activate("policy", version)
    audit_log("policy.activate", actor_name(principal, services.secret), version)
    services.state.refresh()
    return list_one(services, version)


def _snapshot_info(row: dict[str, object], live: str | None) -> SnapshotInfo:
    return SnapshotInfo(
        **{**row, "meta": orjson.loads(str(row["meta"]))}, active=row["snapshot_id"] == live
    )


@router.get("/snapshots")
def list_snapshots(_: AdminReader, services: ServicesDep) -> list[SnapshotInfo]:
    live = services.catalog.active().get("snapshot")
    return [_snapshot_info(s, live) for s in services.catalog.snapshots()]


@router.post("/snapshots", status_code=201)
def load_snapshot_file(
    body: SnapshotLoad, principal: AdminWriter, services: ServicesDep
) -> SnapshotInfo:
    """Register a snapshot file that is on the server (restricted to CREDITGATE_SNAPSHOT_DIR
    when set)."""
    try:
        path = Path(body.path).resolve()
        allowed = services.settings.snapshot_dir
        if allowed and not path.is_relative_to(Path(allowed).resolve()):
            raise SnapshotError("outside the snapshot directory")
        snapshot_id = load_snapshot(services.catalog, path)
    except (SnapshotError, OSError, ValueError) as exc:
        raise HTTPException(
            422, [{"loc": ["body", "path"], "msg": str(exc).split(": ")[-1], "type": "snapshot"}]
        ) from None
    row = services.catalog.snapshot(snapshot_id)
    assert row is not None
    audit_log("snapshot.load", actor_name(principal, services.secret), snapshot_id)
    return _snapshot_info(row, services.catalog.active().get("snapshot"))


@router.post("/snapshots/{snapshot_id}/activate")
def activate_snapshot(
    snapshot_id: str, principal: AdminWriter, services: ServicesDep
) -> SnapshotInfo:
    row = services.catalog.snapshot(snapshot_id)
    if row is None:
        raise HTTPException(404, "no such snapshot")
    services.catalog.activate("snapshot", snapshot_id)
    audit_log("snapshot.activate", actor_name(principal, services.secret), snapshot_id)
    services.state.refresh()
    return _snapshot_info(row, snapshot_id)


@router.get("/reviews")
def list_reviews(
    _: AdminReader,
    services: ServicesDep,
    status: Annotated[str | None, Query(pattern="^(open|resolved)$")] = "open",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[Review]:
    return [Review(**r) for r in services.catalog.reviews(status, limit)]


@router.post("/reviews/{review_id}/resolve")
def resolve_review(
    review_id: str, body: ResolveRequest, principal: AdminWriter, services: ServicesDep
) -> dict[str, str]:
    if not services.catalog.resolve_review(review_id, body.resolution, body.note):
        raise HTTPException(404, "no open review with that id")
    actor = actor_name(principal, services.secret)
    audit_log("review.resolve", actor, review_id, resolution=body.resolution)
    return {"review_id": review_id, "status": "resolved", "resolution": body.resolution}
