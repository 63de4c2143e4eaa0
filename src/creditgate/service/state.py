"""Per-worker state: compiled deciders by policy version and the active snapshot in memory.

What is *active* lives in the database (so every worker and host agrees); each worker re-reads
it every ``state_refresh_s`` seconds and compiles or loads only when it changed. The entry
lookup is then a set membership test with no I/O.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from creditgate.decider import Decider
from creditgate.policy.loader import parse_policy
from creditgate.snapshot import read_invited
from creditgate.store.catalog import Catalog


@dataclass
class ActiveSnapshot:
    snapshot_id: str
    meta: dict[str, Any]
    invited: frozenset[str]


@dataclass
class ServiceState:
    catalog: Catalog
    deciders: dict[str, Decider] = field(default_factory=dict)
    policy_version: str | None = None
    snapshot: ActiveSnapshot | None = None
    withdrawn: frozenset[str] = frozenset()  # consent withdrawn: entry hidden at once
    lock: threading.Lock = field(default_factory=threading.Lock)

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

    def refresh(self) -> None:
        """Re-read what is active; recompile/reload only on change."""
        self.withdrawn = self.catalog.withdrawn_users()
        live = self.catalog.active()
        version = live.get("policy")
        if version is not None and version != self.policy_version:
            self.decider(version)
            self.policy_version = version
        snap_id = live.get("snapshot")
        if snap_id is not None and (self.snapshot is None or self.snapshot.snapshot_id != snap_id):
            stored = self.catalog.snapshot(snap_id)
            if stored is not None:
                table = read_invited(Path(stored["path"]))
                self.snapshot = ActiveSnapshot(
                    snap_id,
                    orjson.loads(stored["meta"]),
                    frozenset(table.column("user_id").to_pylist()),
                )
