"""The console's review queue and experiments: ``/console/reviews`` (manual reviews and
appeals: claim, release, resolve) and ``/console/experiments`` (propose a challenger, read the
arms' comparison, propose stopping).

The actions call the service's own functions (``service.reviewing``, ``service.experiments``)
so the rules are the API's: operators and admins act, a claim held by someone else is
respected (409), starting and stopping an experiment are four-eyes changes approved under
``/console/changes``. Viewers see no action and are refused (403) if they post one anyway.
"""

from __future__ import annotations

from typing import Any

import anyio
import orjson
from fastapi import APIRouter, HTTPException, Request, Response

from creditgate.experiment_report import report
from creditgate.human import RESOLUTIONS
from creditgate.service import experiments, reviewing
from creditgate.service.console import pages
from creditgate.service.deps import Services, ServicesDep
from creditgate.service.routes.experiments import performance_of
from creditgate.store.experiments import all_experiments, get

router = APIRouter(prefix="/console", include_in_schema=False)
FLASH_FOR_STATUS = {404: "not_found", 403: "own", 409: "conflict", 422: "bad"}
QUEUE_LIMIT = 200


@router.get("/reviews")
def reviews_page(request: Request, services: ServicesDep) -> Response:
    """Open items oldest first (age, kind, reasons, who holds it), counts and the oldest age."""
    staff = pages.signed_in(request, services)
    if staff is None:
        return pages.to_sign_in()
    kind = request.query_params.get("kind")
    kind = kind if kind in RESOLUTIONS else None
    rows = services.catalog.reviews("open", QUEUE_LIMIT, kind)
    items = [_with_offers(services, reviewing.queue_item(services, r)) for r in rows]
    return pages.render(
        request, "reviews.html", 200, staff, services, items=items, kind=kind,
        summary=reviewing.summary(services), resolutions=RESOLUTIONS,
    )  # fmt: skip


def _with_offers(services: Services, item: dict[str, Any]) -> dict[str, Any]:
    """A queue item with the reviewed decision's product offers (None without a family)."""
    stored = services.log.get(str(item["decision_id"]))
    return {**item, "offers": stored.decision.get("offers") if stored is not None else None}


@router.post("/reviews/{review_id}/{action}")
async def review_action(
    request: Request, review_id: str, action: str, services: ServicesDep
) -> Response:
    """Claim, release or resolve (a resolution and an optional note) one item."""
    if action not in ("claim", "release", "resolve"):
        raise HTTPException(404)
    checked = await pages.posted(request, services, pages.WRITERS)
    if isinstance(checked, Response):
        return checked
    (_, principal), form = checked
    try:
        if action == "resolve":
            note = (form.get("note") or "").strip()[:2000] or None
            resolution = form.get("resolution") or ""
            await anyio.to_thread.run_sync(
                reviewing.resolve, services, principal, review_id, resolution, note
            )
        else:
            act = reviewing.claim if action == "claim" else reviewing.release
            await anyio.to_thread.run_sync(act, services, principal, review_id)
    except reviewing.ReviewError as exc:
        return pages.back("/console/reviews", FLASH_FOR_STATUS.get(exc.status, "bad"))
    flash = {"claim": "claimed", "release": "released", "resolve": "resolved"}[action]
    return pages.back("/console/reviews", flash)


@router.get("/experiments")
def experiments_page(request: Request, services: ServicesDep) -> Response:
    """Proposed, running and stopped experiments, and the form to propose one."""
    staff = pages.signed_in(request, services)
    if staff is None:
        return pages.to_sign_in()
    proposed = [
        experiments.proposed_view(c)
        for c in services.changes.list("proposed", 100)
        if c["kind"] == experiments.START
    ]
    started = [experiments.experiment_view(e) for e in all_experiments(services.engine)]
    live = services.catalog.active()
    choices = [
        {"snapshot_id": s["snapshot_id"], "policy": _policy_of(s)}
        for s in services.catalog.snapshots()
        if s["snapshot_id"] != live.get("snapshot")
    ]
    return pages.render(
        request, "experiments.html", 200, staff, services, proposed=proposed, started=started,
        choices=choices, live=live,
    )  # fmt: skip


def _policy_of(snapshot_row: dict[str, Any]) -> str:
    return str(orjson.loads(str(snapshot_row["meta"])).get("policy_version"))


@router.post("/experiments")
async def propose_experiment(request: Request, services: ServicesDep) -> Response:
    """Propose a challenger (its snapshot names its policy) on a share of users."""
    checked = await pages.posted(request, services, pages.WRITERS)
    if isinstance(checked, Response):
        return checked
    (_, principal), form = checked
    snapshot_id = form.get("snapshot_id") or ""
    row = services.catalog.snapshot(snapshot_id) if snapshot_id else None
    try:
        share = float(form.get("share_percent") or "") / 100
    except ValueError:
        return pages.back("/console/experiments", "bad")
    if row is None:
        return pages.back("/console/experiments", "not_found")
    try:
        experiments.propose_start(services, _policy_of(row), snapshot_id, share, principal)
    except HTTPException as exc:
        return pages.back("/console/experiments", FLASH_FOR_STATUS.get(exc.status_code, "bad"))
    return pages.back("/console/changes", "proposed")


@router.get("/experiments/{experiment_id}")
def experiment_page(request: Request, experiment_id: str, services: ServicesDep) -> Response:
    """One experiment: its arms and the comparison over its stored decisions."""
    staff = pages.signed_in(request, services)
    if staff is None:
        return pages.to_sign_in()
    found = get(services.engine, experiment_id) if len(experiment_id) <= 64 else None
    if found is None:
        return pages.render(request, "experiment.html", 404, staff, services, info=None)
    info = experiments.experiment_view(found)
    name = request.query_params.get("performance") or None
    outcomes, problem = None, None
    if name is not None:
        try:
            outcomes = performance_of(services, name)
        except HTTPException:
            problem = "performance"
    return pages.render(
        request, "experiment.html", 200, staff, services, info=info, performance=name,
        compared=report(services.engine, found, outcomes), problem=problem,
    )  # fmt: skip


@router.post("/experiments/{experiment_id}/stop")
async def stop_experiment(request: Request, experiment_id: str, services: ServicesDep) -> Response:
    """Propose stopping: everyone is champion again once another admin approves."""
    checked = await pages.posted(request, services, pages.WRITERS)
    if isinstance(checked, Response):
        return checked
    (_, principal), _ = checked
    try:
        experiments.propose_stop(services, experiment_id, principal)
    except HTTPException as exc:
        return pages.back(
            f"/console/experiments/{experiment_id}", FLASH_FOR_STATUS.get(exc.status_code, "bad")
        )
    return pages.back("/console/changes", "proposed")
