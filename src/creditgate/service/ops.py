"""Operations shared by startup, the admin routes and the CLI: register a policy, load a
snapshot, bootstrap a fresh database."""

from __future__ import annotations

from pathlib import Path

from creditgate.decider import refuse_if_lint_errors
from creditgate.policy.loader import default_policy_path, parse_policy
from creditgate.population.regions import load_regions
from creditgate.service.pairing import Activation, PairingError, refusal
from creditgate.service.settings import Settings
from creditgate.service.snapshot_files import (
    SnapshotFile,
    copy_into,
    copy_profiles,
    copy_report,
    map_profiles,
    read_anywhere,
    read_in_directory,
    read_report,
    snapshot_directory,
)
from creditgate.snapshot import read_invited, read_meta
from creditgate.snapshot_profiles import ProfilesRef
from creditgate.snapshot_report import ReportRef
from creditgate.store.canonical import sha256
from creditgate.store.catalog import Catalog
from creditgate.store.db import make_engine, migrate
from creditgate.store.events import EventLog

HOST = "host"  # the actor of what start-up does: the host owner's act


def register_policy(
    catalog: Catalog,
    text: str,
    origin: str = "<upload>",
    events: EventLog | None = None,
    actor: str = HOST,
) -> str:
    """Parse, lint and store a policy text; returns its version. Raises ``PolicyError``.

    A new text is first recorded as a ``policy_registered`` event (an event without its row,
    after a crash in between, is harmless; a row without its event fails ``audit verify``)."""
    policy = parse_policy(text, origin)
    refuse_if_lint_errors(policy, load_regions())
    if catalog.policy(policy.version) is None:
        body = {"version": policy.version, "name": policy.name, "sha256": sha256(text.encode())}
        (events or EventLog(catalog.engine)).record("policy_registered", actor, None, body)
    catalog.add_policy(policy.version, policy.name, text)
    return policy.version


def register_snapshot(
    catalog: Catalog,
    file: SnapshotFile,
    db_url: str,
    events: EventLog | None = None,
    actor: str = HOST,
) -> str:
    """Check a snapshot's metadata and ids (parsed from the bytes that were hashed) and record
    it with its content's SHA-256, event first as for policies; returns its id (the same file
    twice is the same snapshot). A snapshot that names its decided profiles
    (``snapshot_profiles``) or its run report (``snapshot_report``) is refused unless that
    file lies beside it with that content."""
    meta = read_meta(file.data)
    invited = read_invited(file.data).num_rows
    if meta.profiles is not None:  # its refused users' answers: present and intact, or refused
        map_profiles(file.path.parent, ProfilesRef.from_json(dict(meta.profiles)), db_url)
    if meta.report is not None:  # the console's figures: present and intact, or refused
        read_report(file.path.parent, ReportRef.from_json(dict(meta.report)), db_url)
    meta_json = meta.to_json().decode()
    body = {
        "snapshot_id": file.snapshot_id,
        "sha256": file.sha256,
        "invited": invited,
        "path": str(file.path),
        "meta_sha256": sha256(meta_json.encode()),
    }
    (events or EventLog(catalog.engine)).record("snapshot_registered", actor, None, body)
    catalog.add_snapshot(file.snapshot_id, str(file.path), meta_json, invited, file.sha256)
    return file.snapshot_id


def load_snapshot(
    catalog: Catalog,
    settings: Settings,
    requested: str,
    events: EventLog | None = None,
    actor: str = HOST,
) -> str:
    """Register the snapshot ``requested`` by an operator: a name inside the snapshot
    directory (``snapshot_files.read_in_directory``); returns its id."""
    directory = snapshot_directory(settings)
    file = read_in_directory(directory, requested, settings.db_url)
    return register_snapshot(catalog, file, settings.db_url, events, actor)


def load_startup_snapshot(
    catalog: Catalog, settings: Settings, path: Path, events: EventLog | None = None
) -> str:
    """``serve --snapshot FILE`` (the host owner's act): the file may be anywhere; it is
    copied into the snapshot directory as ``<id>.parquet`` and registered from there, so
    workers and later activations read the managed copy, never the original."""
    file = read_anywhere(path, settings.db_url)
    directory = snapshot_directory(settings)
    meta = read_meta(file.data)
    if meta.profiles is not None:
        copy_profiles(path.parent, directory, ProfilesRef.from_json(dict(meta.profiles)))
    if meta.report is not None:
        copy_report(path.parent, directory, ReportRef.from_json(dict(meta.report)))
    copied = copy_into(directory, file)
    return register_snapshot(catalog, copied, settings.db_url, events)


def record_activations(events: EventLog, before: dict[str, str], after: dict[str, str]) -> None:
    """A ``host_activation`` event for each active setting that start-up changed."""
    for key, value in sorted(after.items()):
        if before.get(key) != value:
            events.record("host_activation", HOST, None, {"key": key, "value": value})


def bootstrap(settings: Settings) -> None:
    """Migrate, register the configured (or default) policy and snapshot, activate them (the
    default policy only if none is active yet). Run once before workers start.

    Raises ``PairingError`` (nothing activated) when the configured policy and snapshot, or
    the configured policy and the snapshot that would stay active, were not made for each
    other (``service/pairing.py``)."""
    engine = make_engine(settings.db_url)
    try:
        migrate(engine)
        catalog, events = Catalog(engine), EventLog(engine)
        before = catalog.active()
        file = Path(settings.policy_path) if settings.policy_path else default_policy_path()
        version = register_policy(catalog, file.read_text(encoding="utf-8"), str(file), events)
        snapshot_id = None
        if settings.snapshot_path:
            snapshot_id = load_startup_snapshot(
                catalog, settings, Path(settings.snapshot_path), events
            )
        chosen = version if settings.policy_path else None
        default = version if chosen is None and "policy" not in before else None
        going = Activation(chosen or default, snapshot_id)
        problem = refusal(catalog, before, going, name_it="--snapshot") if going.values() else None
        if problem is not None:
            raise PairingError(f"not started: {problem}")
        if default is not None:
            catalog.set_default("policy", default)  # first start (two processes may race)
        together = Activation(chosen, snapshot_id).values()
        if together:
            catalog.activate_together(together)
        record_activations(events, before, catalog.active())
    finally:
        engine.dispose()
