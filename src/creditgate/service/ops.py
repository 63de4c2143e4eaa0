"""Operations shared by startup, the admin routes and the CLI: register a policy, load a
snapshot, bootstrap a fresh database."""

from __future__ import annotations

from pathlib import Path

from creditgate.decider import refuse_if_lint_errors
from creditgate.policy.loader import default_policy_path, parse_policy
from creditgate.population.regions import load_regions
from creditgate.service.settings import Settings
from creditgate.service.snapshot_files import (
    SnapshotFile,
    copy_into,
    read_anywhere,
    read_in_directory,
    snapshot_directory,
)
from creditgate.snapshot import read_invited, read_meta
from creditgate.store.catalog import Catalog
from creditgate.store.db import make_engine, migrate


def register_policy(catalog: Catalog, text: str, origin: str = "<upload>") -> str:
    """Parse, lint and store a policy text; returns its version. Raises ``PolicyError``."""
    policy = parse_policy(text, origin)
    refuse_if_lint_errors(policy, load_regions())
    catalog.add_policy(policy.version, policy.name, text)
    return policy.version


def register_snapshot(catalog: Catalog, file: SnapshotFile) -> str:
    """Check a snapshot's metadata and ids (parsed from the bytes that were hashed) and record
    it with its content's SHA-256; returns its id (the same file twice is the same snapshot)."""
    meta = read_meta(file.data)
    invited = read_invited(file.data).num_rows
    catalog.add_snapshot(
        file.snapshot_id, str(file.path), meta.to_json().decode(), invited, file.sha256
    )
    return file.snapshot_id


def load_snapshot(catalog: Catalog, settings: Settings, requested: str) -> str:
    """Register the snapshot ``requested`` by an operator: a name inside the snapshot
    directory (``snapshot_files.read_in_directory``); returns its id."""
    directory = snapshot_directory(settings)
    return register_snapshot(catalog, read_in_directory(directory, requested, settings.db_url))


def load_startup_snapshot(catalog: Catalog, settings: Settings, path: Path) -> str:
    """``serve --snapshot FILE`` (the host owner's act): the file may be anywhere; it is
    copied into the snapshot directory as ``<id>.parquet`` and registered from there, so
    workers and later activations read the managed copy, never the original."""
    file = read_anywhere(path, settings.db_url)
    return register_snapshot(catalog, copy_into(snapshot_directory(settings), file))


def bootstrap(settings: Settings) -> None:
    """Migrate, register the configured (or default) policy and snapshot, activate them if
    nothing is active yet. Run once before workers start."""
    engine = make_engine(settings.db_url)
    try:
        migrate(engine)
        catalog = Catalog(engine)
        file = Path(settings.policy_path) if settings.policy_path else default_policy_path()
        version = register_policy(catalog, file.read_text(encoding="utf-8"), str(file))
        if settings.policy_path:
            catalog.activate("policy", version)
        else:
            catalog.set_default("policy", version)
        if settings.snapshot_path:
            snapshot_id = load_startup_snapshot(catalog, settings, Path(settings.snapshot_path))
            catalog.activate("snapshot", snapshot_id)
    finally:
        engine.dispose()
