"""The batch's ``manual_review`` users queued when their snapshot is activated.

A snapshot holds those users as ``review`` rows (``snapshot.read_review``). A review item must
name a stored decision (the reviewer reads its reasons, the resolution chains to it), and the
batch's decisions are not in the decision log; so each user's snapshot answer is stored first,
as asking for a review on the page does (``answers.materialise``): the same profile (the
decided-profiles file), ``as_of`` and cutoffs, under the caller ``snapshot-review`` and the
idempotency key ``<snapshot id>:<user id>``; the stored ``manual_review`` decision is then
queued (``review_queue.queue_manual_review``, a review id fixed by the decision id).

When: a worker that switches to a newly active snapshot (an approved change, a routine
refresh, start-up, or its periodic state refresh noticing another worker's activation) starts
one background thread for it (``SnapshotReviewJobs``): the activating request never waits.
Once: the idempotency key and the review id make a second run, on this worker or another, or
after a crash halfway, store and queue nothing new; a finished run records the audit event
``snapshot_reviews_queued`` (counts only), and a worker that finds it does not run again.

Skipped (counted, not queued): users whose answer is no longer the snapshot's (consent
withdrawn, a real-time decision or a person's decision since: a ``manual_review`` one queued
itself when stored), users of an experiment's challenger arm, rows without a decided profile,
and users with an open manual review already (queued from an earlier snapshot: a refresh
does not queue the same person twice while a reviewer has not answered).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import Counter
from typing import Any

from creditgate.service.answers import answer
from creditgate.service.deciding import decide_and_store
from creditgate.service.deps import Services
from creditgate.service.logs import audit_log, report_error
from creditgate.service.review_queue import MANUAL, queue_manual_review
from creditgate.service.snapshot_files import read_registered, snapshot_directory
from creditgate.snapshot import read_review

CALLER = "snapshot-review"  # the caller name of the decisions stored here
EVENT = "snapshot_reviews_queued"
CONCURRENCY = 64  # decisions in flight: the group writer commits them together
log = logging.getLogger("creditgate.service")


def review_users(services: Services, snapshot_id: str) -> list[str]:
    """The ids of the snapshot's ``review`` rows, read from its verified file."""
    stored = services.catalog.snapshot(snapshot_id)
    if stored is None:
        return []
    settings = services.settings
    file = read_registered(snapshot_directory(settings), stored, settings.db_url)
    return [str(u) for u in read_review(file.data).column("user_id").to_pylist()]


def already_queued(services: Services, snapshot_id: str) -> bool:
    """Whether a run for ``snapshot_id`` finished before (its audit event exists)."""
    return any(e.subject == snapshot_id for e in services.events.events(EVENT))


def open_manual_review(services: Services, user_id: str) -> bool:
    """Whether ``user_id`` has an open manual review (one item per user at a time)."""
    return any(
        r["kind"] == MANUAL and r["status"] == "open"
        for r in services.catalog.user_reviews(user_id)
    )


async def queue_user(services: Services, snapshot_id: str, user_id: str) -> str:
    """Store ``user_id``'s snapshot answer and queue it; returns what happened (a count key)."""
    found = await asyncio.to_thread(answer, services, user_id)
    if found.source != "snapshot" or found.snapshot_id != snapshot_id:
        return "answered_otherwise"  # withdrawn, decided since, another arm or snapshot
    if found.profile is None or found.as_of is None or found.decision is None:
        return "no_profile"
    if found.decision.get("outcome") != MANUAL:
        return "not_manual_review"  # e.g. a snapshot whose policy is not the live one
    if await asyncio.to_thread(open_manual_review, services, user_id):
        return "already_open"  # queued by an earlier snapshot (a refresh), not yet resolved
    key = f"{snapshot_id}:{user_id}"
    stored, _ = await decide_and_store(
        services, found.profile, found.as_of, key, CALLER, hold=False
    )
    if stored.decision.get("outcome") != MANUAL:
        return "not_manual_review"
    # decide_and_store queued a new one; a decision stored by an earlier, interrupted run
    # is queued here (idempotent either way)
    await asyncio.to_thread(queue_manual_review, services, stored)
    return "queued"


async def queue_snapshot_reviews(services: Services, snapshot_id: str) -> dict[str, Any]:
    """Queue the review rows of ``snapshot_id`` (the active snapshot); returns the counts
    (also recorded as the ``snapshot_reviews_queued`` event and logged)."""
    started = time.perf_counter()
    users = await asyncio.to_thread(review_users, services, snapshot_id)
    counts: Counter[str] = Counter()
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(user_id: str) -> None:
        async with gate:
            counts[await queue_user(services, snapshot_id, user_id)] += 1

    await asyncio.gather(*(one(u) for u in users))
    body: dict[str, Any] = {
        "snapshot_id": snapshot_id,
        "review_rows": len(users),
        **{k: counts[k] for k in sorted(counts)},
        "ms": round((time.perf_counter() - started) * 1000),
    }
    await asyncio.to_thread(services.events.record, EVENT, "engine", snapshot_id, body)
    if users:  # a snapshot without manual reviews has nothing for the trail (the event marks it)
        fields = {k: v for k, v in body.items() if k != "snapshot_id"}
        audit_log("review.queue_snapshot", "engine", snapshot_id, **fields)
    return body


class SnapshotReviewJobs:
    """One background thread per newly active snapshot on this worker (``start``, given to
    ``ServiceState.on_snapshot``); ``join`` waits for them (shutdown, tests)."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.lock = threading.Lock()
        self.started: set[str] = set()
        self.threads: list[threading.Thread] = []
        self.results: dict[str, dict[str, Any]] = {}

    def start(self, snapshot_id: str) -> None:
        with self.lock:
            if snapshot_id in self.started:
                return
            self.started.add(snapshot_id)
            thread = threading.Thread(
                target=self.run,
                args=(snapshot_id,),
                name="creditgate-snapshot-reviews",
                daemon=True,
            )
            self.threads.append(thread)
        thread.start()

    def run(self, snapshot_id: str) -> None:
        try:
            if already_queued(self.services, snapshot_id):
                return
            self.results[snapshot_id] = asyncio.run(
                queue_snapshot_reviews(self.services, snapshot_id)
            )
        except Exception as exc:  # the next activation or restart of this snapshot retries
            with self.lock:
                self.started.discard(snapshot_id)
            report_error(log, "queuing a snapshot's manual reviews failed", exc)

    def join(self, timeout: float | None = None) -> None:
        with self.lock:
            threads = list(self.threads)
        for thread in threads:
            thread.join(timeout)
