"""One truth per user: what decides whether a user sees the loan entry, and why, right now.

In order, the first that applies:

1. **Consent withdrawn**: the entry is hidden (and nothing else is shown: the data is erased).
2. **A real-time decision** taken under what is live (the active policy, cut at the active
   snapshot's cutoffs) since that snapshot was registered: its answer, the latest one
   (``realtime.RealTimeAnswers``). A person's decision (a resolved review) comes first for
   ``CREDITGATE_HUMAN_DECISION_DAYS`` whatever is live, unless a later decision was taken on
   other data or fails a new gate or fraud rule (``realtime``: the same map holds it).
3. **The active snapshot**: invited users see the entry (and users it keeps on a
   servicing-only entry because a loan is outstanding); a refused user's reasons and recourse
   come from deciding their profile, as the batch read it (``snapshot_profiles``), again with
   the snapshot's cutoffs at the snapshot's ``as_of``: the batch's own decision (the parity
   suite and ``benchmarks/agreement.py`` check it).
4. **Nothing known** (joined after the batch, or quarantined by it): the entry is hidden and
   the answer says the user has not been assessed yet.

While a champion/challenger experiment runs, "the active snapshot" and "what is live" are
the user's arm's (``state.view``): a challenger user is answered from the challenger's
snapshot and their decisions under the challenger's policy and snapshot.

The entry lookup (``entry_visible``), the self-check page and a stored decision all read this
module, so they cannot disagree. Nothing here writes, except ``materialise``: a person can only
review a stored decision, so asking for a review of a snapshot answer stores it first (the same
decision, ``decide_and_store`` with the same profile, ``as_of`` and cutoffs).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

import orjson

from creditgate.profile import validate_profile
from creditgate.service.deciding import decide_and_store, public
from creditgate.service.deps import Services
from creditgate.service.state import ActiveSnapshot, ServiceState
from creditgate.snapshot_decider import cutoffs_for

Source = Literal["withdrawn", "decision", "snapshot", "none"]
SELF_CHECK = "self-check"  # the caller name of decisions the page stores (``materialise``)


@dataclass(frozen=True, slots=True)
class Answer:
    """A user's answer. ``decision`` is the public decision JSON (both languages) when one
    explains it; ``decision_id`` is set when that decision is stored (source ``decision``)."""

    user_id: str
    entry_visible: bool
    source: Source
    decision: dict[str, Any] | None
    decision_id: str | None
    profile: dict[str, Any] | None  # the inputs the decision used, as JSON values
    as_of: date | None
    policy_version: str | None
    snapshot_id: str | None
    snapshot_as_of: str | None


def entry_visible(state: ServiceState, user_id: str) -> bool:
    """The entry lookup's answer: rules 1-4 without building the explanation (no I/O)."""
    return entry_lookup(state, user_id)[0]


def entry_lookup(state: ServiceState, user_id: str) -> tuple[bool, ActiveSnapshot | None]:
    """``entry_visible`` and the snapshot of the user's arm (the active one when no
    experiment runs): set lookups only, and one hash more while an experiment runs."""
    running = state.experiment
    snap: ActiveSnapshot | None
    if running is not None and running.arm(user_id) == "challenger":
        realtime, snap = running.realtime, running.snapshot
    else:
        realtime, snap = state.realtime, state.snapshot
    if user_id in state.withdrawn:
        return False, snap
    latest = realtime.by_user.get(user_id)
    if latest is not None:
        return latest.entry_visible, snap
    return snap is not None and snap.shows_entry(user_id), snap


def answer(services: Services, user_id: str) -> Answer:
    """The user's answer with its explanation (rules 1-4)."""
    state = services.state
    view = state.view(user_id) if state.current is not None else None
    live = view.live if view is not None else None
    snap = view.snapshot if view is not None else state.snapshot
    facts: dict[str, Any] = {
        "policy_version": live.key[0] if live is not None else state.policy_version,
        "snapshot_id": snap.snapshot_id if snap is not None else None,
        "snapshot_as_of": snap.meta.get("as_of") if snap is not None else None,
    }
    if user_id in state.withdrawn:
        return Answer(user_id, False, "withdrawn", None, None, None, None, **facts)
    realtime = view.realtime if view is not None else state.realtime
    latest = realtime.by_user.get(user_id)
    stored = services.log.get(latest.decision_id) if latest is not None else None
    if latest is not None and stored is not None:
        inputs = stored.inputs or {}
        profile = inputs.get("profile") if isinstance(inputs.get("profile"), dict) else None
        return Answer(
            user_id,
            latest.entry_visible,
            "decision",
            public(stored.decision),
            stored.decision_id,
            profile,
            date.fromisoformat(stored.decision["as_of"]),
            **facts,
        )
    visible = snap is not None and snap.shows_entry(user_id)
    row = snap.profiles.get(user_id) if snap is not None and snap.profiles is not None else None
    if snap is None or live is None or row is None:
        source: Source = "snapshot" if visible else "none"
        return Answer(user_id, visible, source, None, None, None, None, **facts)
    as_of = date.fromisoformat(str(snap.meta["as_of"]))
    cutoffs = cutoffs_for(live.cutoffs, live.decider, row)
    decided = unstored(live.decider.decide(row, as_of).to_dict(), cutoffs)
    return Answer(
        user_id,
        visible,
        "snapshot",
        public(decided),
        None,
        jsonable_profile(row),
        as_of,
        **facts,
    )


def jsonable_profile(row: Mapping[str, Any]) -> dict[str, Any]:
    """A typed profile row as the JSON a client would send (dates ISO, money as strings)."""
    return dict(orjson.loads(orjson.dumps(dict(row), default=str)))


def what_if(services: Services, found: Answer, changes: Mapping[str, Any]) -> dict[str, Any]:
    """The decision the engine would give ``found``'s profile with ``changes`` applied, at the
    same ``as_of`` and cutoffs: not stored, not a new decision. ``ProfileError`` names a bad
    field. Only for answers with a profile."""
    if found.profile is None or found.as_of is None:
        raise LookupError("no profile to try changes on")
    live = services.state.view(found.user_id).live
    decider = live.decider
    profile = {**found.profile, **changes, "user_id": found.user_id}
    row = validate_profile(orjson.dumps(profile), found.as_of, decider.policy, decider.regions)
    cutoffs = cutoffs_for(live.cutoffs, decider, row)
    return public(unstored(decider.decide(row, found.as_of).to_dict(), cutoffs))


def unstored(decided: dict[str, Any], cutoffs: dict[str, Any]) -> dict[str, Any]:
    """A decision made to be shown, not stored: it has no id (none was ever recorded, so
    none may be quoted), and says which cutoffs it used, as a stored one does."""
    decided["decision_id"] = None
    decided["review"] = {**decided["review"], "decision_id": None}
    decided["cutoffs"] = cutoffs
    return decided


async def materialise(services: Services, found: Answer) -> str:
    """The stored decision id of ``found``: a snapshot answer is stored first (once: the same
    request is idempotent), with the same profile, ``as_of`` and cutoffs."""
    if found.decision_id is not None:
        return found.decision_id
    if found.profile is None or found.as_of is None:
        raise LookupError("nothing decided to store")
    key = f"{found.snapshot_id}:{found.user_id}"
    stored, _ = await decide_and_store(
        services, found.profile, found.as_of, key, SELF_CHECK, hold=False
    )
    return stored.decision_id
