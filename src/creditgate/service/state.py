"""Per-worker state: compiled deciders by policy version and the active snapshot in memory.

What is *active* lives in the database (so every worker and host agrees); each worker re-reads
it every ``state_refresh_s`` seconds and compiles or loads only when it changed. The entry
lookup is then a set membership test with no I/O, and a decision uses the active policy cut
at the active snapshot's cutoffs (``snapshot_decider``, as ``creditgate decide --snapshot``).

A snapshot is loaded only from the snapshot directory and only if its content still has the
hash it was registered with (``snapshot_files.read_registered``). A file that fails (swapped,
removed, unsafe) is not served: the worker logs an error (the snapshot id, no personal data),
keeps the snapshot it was serving (the last one that verified, possibly none) and reports
the refused id in ``snapshot_refused`` (``/healthz`` then says ``degraded``); it tries again
only when the file changes.

While a champion/challenger experiment runs (the ``active`` row ``experiment``), the worker
also holds the challenger's ``Live`` (its policy cut at its own snapshot's cutoffs), snapshot
and real-time answers (``RunningExperiment``); ``view(user_id)`` gives a user's arm. With no
experiment the champion path costs one attribute check more; with one, one hash more
(``creditgate.experiment.assign``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pyarrow.compute as pc

from creditgate.decider import Decider
from creditgate.experiment import Assignment
from creditgate.policy.loader import parse_policy
from creditgate.service.realtime import RealTimeAnswers
from creditgate.service.snapshot_files import (
    SnapshotChangedError,
    file_signature,
    map_profiles,
    read_registered,
)
from creditgate.snapshot import (
    OFFER,
    SERVICING,
    HeldInvitations,
    SnapshotError,
    SnapshotMeta,
    read_entries,
    read_meta,
)
from creditgate.snapshot_decider import cutoffs_used, matches, snapshot_decider
from creditgate.snapshot_profiles import ProfilesRef, SnapshotProfiles
from creditgate.store.catalog import Catalog
from creditgate.store.experiments import ACTIVE_KEY, Experiment, get
from creditgate.store.repo import DecisionLog

log = logging.getLogger("creditgate.service")


@dataclass
class ActiveSnapshot:
    snapshot_id: str
    meta: dict[str, Any]
    invited: frozenset[str]
    profiles: SnapshotProfiles | None = None  # the decided profiles, memory-mapped
    since_seq: int = 0  # decisions with its cutoffs come after this seq of the log
    servicing: frozenset[str] = frozenset()  # not invited, entry kept for a loan outstanding
    held: HeldInvitations | None = None  # invited users' (invited_since, limit_cny)

    def shows_entry(self, user_id: str) -> bool:
        return user_id in self.invited or user_id in self.servicing

    @property
    def parsed(self) -> SnapshotMeta:
        return SnapshotMeta.from_json(orjson.dumps(self.meta))


@dataclass(frozen=True, slots=True)
class Live:
    """What a decision is made with, swapped as one object so a request never mixes a policy
    with another policy's snapshot. ``snapshot`` (id and cutoffs, or None) is stored with the
    decision's inputs so that ``replay`` cuts at the same scores; ``cutoffs`` is the decision's
    ``"cutoffs"`` field (``snapshot_decider.cutoffs_used``), built once here for every decision
    made with it, stored or only shown."""

    key: tuple[str | None, str | None]  # (policy version, snapshot id) it was built for
    decider: Decider
    snapshot: dict[str, Any] | None
    cutoffs: dict[str, Any] = field(default_factory=lambda: cutoffs_used(None))


@dataclass(frozen=True, slots=True)
class ArmView:
    """What one user is decided and answered with: their arm's ``Live``, snapshot and
    real-time answers; ``experiment`` (``{"id", "arm"}``) is recorded with their decisions
    while an experiment runs, None otherwise."""

    live: Live
    snapshot: ActiveSnapshot | None
    realtime: RealTimeAnswers
    experiment: dict[str, str] | None


@dataclass
class RunningExperiment:
    """The running experiment and its challenger arm, built by ``refresh``."""

    experiment: Experiment
    live: Live  # the challenger's policy cut at the challenger snapshot's cutoffs
    snapshot: ActiveSnapshot
    realtime: RealTimeAnswers
    arm: Assignment = field(init=False)  # user id -> "champion" or "challenger"

    def __post_init__(self) -> None:
        self.arm = Assignment(self.experiment.salt, self.experiment.share)

    @property
    def champion_key(self) -> tuple[str, str]:
        return (self.experiment.champion_policy, self.experiment.champion_snapshot)


@dataclass
class ServiceState:
    catalog: Catalog
    snapshot_dir: Path  # snapshots are read only from here (``snapshot_files``)
    db_url: str  # whose files are never opened as a snapshot
    decision_log: DecisionLog  # the service's own: read each refresh for real-time answers
    deciders: dict[str, Decider] = field(default_factory=dict)
    policy_version: str | None = None
    snapshot: ActiveSnapshot | None = None
    withdrawn: frozenset[str] = frozenset()  # consent withdrawn: entry hidden at once
    lock: threading.RLock = field(default_factory=threading.RLock)
    current: Live | None = None
    snapshot_refused: str | None = None  # active snapshot id whose file failed its checks
    realtime: RealTimeAnswers = field(default_factory=lambda: RealTimeAnswers((None, None)))
    experiment: RunningExperiment | None = None  # the challenger arm, while one runs
    human_days: float = 90.0  # CREDITGATE_HUMAN_DECISION_DAYS (service/realtime.py)
    # called with a snapshot's id once this worker serves it as newly active (after the
    # switch): the app queues its review rows (``service/snapshot_reviews.py``)
    on_snapshot: Callable[[str], None] | None = None
    _refused_file: tuple[str, tuple[int, int, int, int] | None] | None = None
    _experiment_skipped: str | None = None  # running but not applicable here (logged once)

    def decider(self, version: str | None = None) -> Decider:
        """The compiled decider of ``version`` (default: the active one), cached."""
        version = version or self.policy_version
        if version is None:
            raise LookupError("no policy is active")
        found = self.deciders.get(version)
        if found is None:
            with self.lock:
                stored = self.catalog.policy(version)
                if stored is None:
                    raise LookupError(f"policy version {version} is not stored")
                found = Decider(parse_policy(stored["text"], f"<policy {version}>"))
                self.deciders[version] = found
        return found

    def live(self) -> Live:
        """The decider for new decisions: the active policy, cut at the active snapshot's
        cutoffs when that snapshot was made with this policy. Built by ``refresh`` (off the
        event loop), so a request only reads one attribute."""
        found = self.current
        if found is None:
            raise LookupError("no policy is active")
        return found

    def view(self, user_id: object) -> ArmView:
        """The arm ``user_id`` is in, and what that arm decides and answers with (the
        champion's, the active state, when no experiment runs or the id is not a string)."""
        live = self.live()
        running = self.experiment
        if running is None or not isinstance(user_id, str):
            return ArmView(live, self.snapshot, self.realtime, None)
        tag = {"id": running.experiment.experiment_id}
        if running.arm(user_id) == "challenger":
            return ArmView(
                running.live, running.snapshot, running.realtime, tag | {"arm": "challenger"}
            )
        return ArmView(live, self.snapshot, self.realtime, tag | {"arm": "champion"})

    def _build(self, version: str, snap: ActiveSnapshot | None) -> Live:
        key = (version, snap.snapshot_id if snap is not None else None)
        if self.current is not None and self.current.key == key:
            return self.current
        return self._live(version, snap)

    def _live(self, version: str, snap: ActiveSnapshot | None) -> Live:
        key = (version, snap.snapshot_id if snap is not None else None)
        base = self.decider(version)
        if snap is None:
            return Live(key, base, None)
        meta = snap.parsed
        if not matches(base, meta):  # e.g. a new policy went live before its batch ran
            log.warning(
                "active snapshot %s is of policy %s, not %s: deciding with the policy's cutoffs",
                snap.snapshot_id,
                meta.policy_version,
                version,
            )
            return Live(key, base, None)
        cut = snapshot_decider(base, meta, f"<snapshot {snap.snapshot_id}>")
        cutoffs = dict(meta.cutoffs)
        return Live(
            key,
            cut,
            {"snapshot_id": snap.snapshot_id, "cutoffs": cutoffs},
            cutoffs_used(snap.snapshot_id, meta.as_of, cutoffs),
        )

    def refresh(self) -> None:
        """Re-read what is active; recompile/reload only on change, then switch in one step."""
        self.withdrawn = self.catalog.withdrawn_users()
        live = self.catalog.active()
        with self.lock:
            version = live.get("policy", self.policy_version)
            snap = self.snapshot
            snap_id = live.get("snapshot")
            switched = None
            if snap_id is not None and (snap is None or snap.snapshot_id != snap_id):
                snap = self._load_snapshot(snap_id) or snap
                switched = snap_id if snap is not None and snap.snapshot_id == snap_id else None
            else:
                self.snapshot_refused = self._refused_file = None
            current = self._build(version, snap) if version is not None else None
            self.policy_version, self.snapshot, self.current = version, snap, current
            if current is not None and self.realtime.key != current.key:
                since = snap.since_seq if snap is not None else 0
                fresh = RealTimeAnswers(current.key, since, days=self.human_days)
                fresh.seed(self.decision_log, self.catalog)  # people's decisions in force
                self.realtime = fresh
            self.experiment = self._running(live.get(ACTIVE_KEY), current)
        self.realtime.catch_up(self.decision_log)
        running = self.experiment
        if running is not None:
            running.realtime.catch_up(self.decision_log)
        if switched is not None and self.on_snapshot is not None:
            self.on_snapshot(switched)

    def _running(self, experiment_id: str | None, current: Live | None) -> RunningExperiment | None:
        """The running experiment with its challenger built (kept while unchanged), or None
        when none runs or it cannot apply here: its champion is not what this worker serves,
        or the challenger's snapshot is refused (logged once, everyone is then champion)."""
        if experiment_id is None or current is None:
            self._experiment_skipped = None
            return None
        running = self.experiment
        if running is not None and running.experiment.experiment_id == experiment_id:
            return running
        if self._experiment_skipped == experiment_id:
            return None
        found = get(self.catalog.engine, experiment_id)
        snap = None
        if found is not None:
            try:
                snap = self._read_snapshot(found.challenger_snapshot)
            except SnapshotError:
                snap = None
        if (
            found is None
            or snap is None
            or current.key
            != (
                found.champion_policy,
                found.champion_snapshot,
            )
        ):
            log.error(
                "experiment %s not applied: its champion is not live here or its challenger "
                "snapshot is missing or refused; deciding everyone as champion",
                experiment_id,
            )
            self._experiment_skipped = experiment_id
            return None
        live = self._live(found.challenger_policy, snap)
        answers = RealTimeAnswers(live.key, snap.since_seq, days=self.human_days)
        answers.seed(self.decision_log, self.catalog)  # people's decisions in force
        return RunningExperiment(found, live, snap, answers)

    def _load_snapshot(self, snapshot_id: str) -> ActiveSnapshot | None:
        """The registered snapshot's ids, or None (logged, marked) when its file is refused."""
        stored = self.catalog.snapshot(snapshot_id)
        if stored is None:
            return None
        signature = file_signature(str(stored["path"]))
        if self._refused_file == (snapshot_id, signature):
            return None  # refused before and unchanged since: do not read it every second
        try:
            loaded = self._read_snapshot(snapshot_id, stored)
        except SnapshotError as exc:
            self.snapshot_refused, self._refused_file = snapshot_id, (snapshot_id, signature)
            problem = (
                "content changed since registration"
                if isinstance(exc, SnapshotChangedError)
                else "file refused or unreadable"
            )
            log.error(
                "snapshot %s not loaded: %s; serving the last good state", snapshot_id, problem
            )
            return None
        self.snapshot_refused = self._refused_file = None
        return loaded

    def _read_snapshot(
        self, snapshot_id: str, stored: dict[str, Any] | None = None
    ) -> ActiveSnapshot:
        """The registered snapshot read and checked (``SnapshotError`` when refused)."""
        stored = stored or self.catalog.snapshot(snapshot_id)
        if stored is None:
            raise SnapshotError(f"snapshot {snapshot_id} is not registered")
        file = read_registered(self.snapshot_dir, stored, self.db_url)
        table = read_entries(file.data)
        meta = read_meta(file.data)
        profiles = (
            map_profiles(file.path.parent, ProfilesRef.from_json(dict(meta.profiles)), self.db_url)
            if meta.profiles is not None  # beside it: checked when it was registered
            else None
        )
        offer = table.filter(pc.equal(table["entry"], OFFER))
        servicing = table.filter(pc.equal(table["entry"], SERVICING))
        return ActiveSnapshot(
            snapshot_id,
            orjson.loads(stored["meta"]),
            frozenset(offer.column("user_id").to_pylist()),
            profiles,
            int(stored.get("since_seq") or 0),
            frozenset(servicing.column("user_id").to_pylist()),
            HeldInvitations(offer),
        )
