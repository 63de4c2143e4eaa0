"""The console's policy versions and four-eyes changes: ``/console/policies`` (versions, a
version's text and lint, the diff of two versions, proposing one for activation) and
``/console/changes`` (the proposals with their effect; approve, reject).

The actions call the same functions as the API (``service.approvals``), so the rules are the
API's: operators and admins propose and reject, only an admin who did not propose a change
approves it, a policy with lint errors cannot be proposed. Viewers see no action and are
refused (403) if they post one anyway.
"""

from __future__ import annotations

import difflib
from datetime import date
from typing import Any

import orjson
from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from creditgate.policy.lint import lint
from creditgate.policy.loader import PolicyError, parse_policy
from creditgate.service import approvals
from creditgate.service.console import jobs, pages
from creditgate.service.deps import ServicesDep
from creditgate.service.logs import audit_log
from creditgate.service.web.render import SECURITY_HEADERS

router = APIRouter(prefix="/console", include_in_schema=False)
MAX_VERSION = 64
FLASH_FOR_STATUS = {404: "not_found", 403: "own", 409: "conflict", 422: "lint"}
# the lab's report carries its own inline stylesheet and no script
REPORT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


def _version_ok(version: str) -> bool:
    return 0 < len(version) <= MAX_VERSION and version.isprintable() and "/" not in version


@router.get("/policies")
def policies_page(request: Request, services: ServicesDep) -> Response:
    """Every stored version (the live one marked), the snapshots made for each, a diff form."""
    staff = pages.signed_in(request, services)
    if staff is None:
        return pages.to_sign_in()
    live = services.catalog.active()
    snapshots: dict[str, list[dict[str, Any]]] = {}
    for row in services.catalog.snapshots():
        meta = orjson.loads(str(row["meta"]))
        version = str(meta.get("policy_version"))
        snapshots.setdefault(version, []).append(
            {
                "snapshot_id": row["snapshot_id"],
                "as_of": meta.get("as_of"),
                "invited": row["invited"],
            }
        )
    versions = [
        {
            **p,
            "active": p["version"] == live.get("policy"),
            "snapshots": snapshots.get(p["version"], []),
        }
        for p in services.catalog.policies()
    ]
    return pages.render(
        request, "policies.html", 200, staff, services, versions=versions,
        live_snapshot=live.get("snapshot"),
    )  # fmt: skip


@router.get("/policies/diff")
def diff_page(request: Request, services: ServicesDep) -> Response:
    """The unified diff of two stored versions' texts (``?a=`` old, ``?b=`` new)."""
    staff = pages.signed_in(request, services)
    if staff is None:
        return pages.to_sign_in()
    a, b = request.query_params.get("a", ""), request.query_params.get("b", "")
    old = services.catalog.policy(a) if _version_ok(a) else None
    new = services.catalog.policy(b) if _version_ok(b) else None
    if old is None or new is None:
        return pages.render(request, "diff.html", 404, staff, services, lines=None, a=None, b=None)
    lines = list(
        difflib.unified_diff(
            str(old["text"]).splitlines(), str(new["text"]).splitlines(), a, b, lineterm="", n=3
        )
    )
    return pages.render(request, "diff.html", 200, staff, services, lines=lines, a=a, b=b)


@router.get("/policies/{version}")
def policy_page(request: Request, version: str, services: ServicesDep) -> Response:
    """A version's text with its lint findings (errors block a proposal)."""
    staff = pages.signed_in(request, services)
    if staff is None:
        return pages.to_sign_in()
    stored = services.catalog.policy(version) if _version_ok(version) else None
    if stored is None:
        return pages.render(request, "policy.html", 404, staff, services, stored=None)
    try:
        policy = parse_policy(str(stored["text"]), f"<policy {version}>")
        findings = [
            {"level": f.level.value, "check": f.check, "line": f.line, "message": f.message}
            for f in lint(policy)
        ]
    except PolicyError as exc:
        findings = [
            {"level": "error", "check": "load", "line": 0, "message": str(i)} for i in exc.issues
        ]
    return pages.render(
        request, "policy.html", 200, staff, services, stored=stored, findings=findings,
        active=services.catalog.active().get("policy") == version,
    )  # fmt: skip


@router.post("/policies/{version}/propose")
async def propose_policy(request: Request, version: str, services: ServicesDep) -> Response:
    """Propose ``version`` (with the snapshot chosen in the form, if any) for activation."""
    checked = await pages.posted(request, services, pages.WRITERS)
    if isinstance(checked, Response):
        return checked
    (_, principal), form = checked
    snapshot_id = form.get("snapshot_id") or None
    try:
        change = approvals.propose(services, "policy", version, principal, snapshot_id)
    except HTTPException as exc:
        return pages.back("/console/policies", FLASH_FOR_STATUS.get(exc.status_code, "bad"))
    return pages.back("/console/changes", "proposed" if change["status"] == "proposed" else "live")


@router.post("/policies/{version}/compare")
async def compare_policy(request: Request, version: str, services: ServicesDep) -> Response:
    """Compare ``version`` with the live policy over the active snapshot's population, in
    the background (``console.jobs``); 303 to the job's page."""
    checked = await pages.posted(request, services, pages.WRITERS)
    if isinstance(checked, Response):
        return checked
    (_, principal), _ = checked
    state = services.state
    snap, live = state.snapshot, state.current
    stored = services.catalog.policy(version) if _version_ok(version) else None
    if stored is None or snap is None or snap.profiles is None or live is None:
        return pages.back("/console/policies", "not_found")
    try:
        challenger = parse_policy(str(stored["text"]), f"<policy {version}>")
    except PolicyError:
        return pages.back("/console/policies", "lint")
    champion = live.decider.policy
    as_of = date.fromisoformat(str(snap.meta["as_of"]))
    job_id = jobs.start_compare(
        services.settings, champion, challenger, live.decider.regions, snap.profiles, as_of,
        principal.name,
    )  # fmt: skip
    if job_id is None:
        return pages.back("/console/policies", "busy")
    audit_log("console.compare", principal.name, version, job=job_id)
    return RedirectResponse(f"/console/jobs/{job_id}", status_code=303)


@router.get("/jobs/{job_id}")
def job_page(request: Request, job_id: str, services: ServicesDep) -> Response:
    """A comparison's progress (the page reloads itself while it runs), then its swap set."""
    staff = pages.signed_in(request, services)
    if staff is None:
        return pages.to_sign_in()
    found = jobs.status(services.settings, job_id)
    if found is None:
        return pages.render(request, "job.html", 404, staff, services, job=None, body=None)
    body = jobs.result(services.settings, job_id) if found["state"] == "done" else None
    return pages.render(request, "job.html", 200, staff, services, job=found, body=body)


@router.get("/jobs/{job_id}/compare.html")
def job_report(request: Request, job_id: str, services: ServicesDep) -> Response:
    """The comparison's full report (``lab.html``: self-contained, no script)."""
    if pages.signed_in(request, services) is None:
        return pages.to_sign_in()
    directory = jobs.job_directory(services.settings, job_id)
    path = directory / "compare.html" if directory is not None else None
    if path is None or not path.is_file():
        raise HTTPException(404)
    headers = {**SECURITY_HEADERS, "Content-Security-Policy": REPORT_CSP}
    return HTMLResponse(path.read_text(encoding="utf-8"), headers=headers)


@router.get("/changes")
def changes_page(request: Request, services: ServicesDep) -> Response:
    """Open proposals with their effect, and the latest decided ones."""
    staff = pages.signed_in(request, services)
    if staff is None:
        return pages.to_sign_in()
    proposed = services.changes.list("proposed", 100)
    decided = [c for status in ("approved", "rejected") for c in services.changes.list(status, 20)]
    decided.sort(key=lambda c: str(c.get("decided_at") or ""), reverse=True)
    return pages.render(
        request, "changes.html", 200, staff, services, proposed=proposed, decided=decided[:20]
    )


@router.post("/changes/{change_id}/{verdict}")
async def decide_change(
    request: Request, change_id: str, verdict: str, services: ServicesDep
) -> Response:
    """Approve (an admin, not the proposer) or reject (an operator or admin) a proposal."""
    if verdict not in ("approve", "reject"):
        raise HTTPException(404)
    roles = pages.APPROVERS if verdict == "approve" else pages.WRITERS
    checked = await pages.posted(request, services, roles)
    if isinstance(checked, Response):
        return checked
    (_, principal), form = checked
    note = (form.get("note") or "").strip()[:2000] or None
    act = approvals.approve if verdict == "approve" else approvals.reject
    try:
        act(services, change_id, principal, note)
    except HTTPException as exc:
        return pages.back("/console/changes", FLASH_FOR_STATUS.get(exc.status_code, "bad"))
    return pages.back("/console/changes", "approved" if verdict == "approve" else "rejected")
