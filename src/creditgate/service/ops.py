"""Operations shared by startup, the admin routes and the CLI: register a policy, load a
snapshot, bootstrap a fresh database."""

from __future__ import annotations

from pathlib import Path

from creditgate.decider import refuse_if_lint_errors
from creditgate.policy.loader import default_policy_path, parse_policy
from creditgate.population.regions import load_regions
from creditgate.service.settings import Settings
from creditgate.snapshot import read_invited, read_meta
from creditgate.store.canonical import sha256
from creditgate.store.catalog import Catalog
from creditgate.store.db import make_engine, migrate


def register_policy(catalog: Catalog, text: str, origin: str = "<upload>") -> str:
    """Parse, lint and store a policy text; returns its version. Raises ``PolicyError``."""
    policy = parse_policy(text, origin)
    refuse_if_lint_errors(policy, load_regions())
    catalog.add_policy(policy.version, policy.name, text)
    return policy.version


def load_snapshot(catalog: Catalog, path: Path) -> str:
    """Read a whitelist snapshot's metadata and ids (to check it) and record it; returns its id.

    The id is the file's SHA-256, so loading the same file twice is the same snapshot.
    """
    path = path.resolve()
    meta = read_meta(path)
    invited = read_invited(path).num_rows
    snapshot_id = sha256(path.read_bytes())[:32]
    catalog.add_snapshot(snapshot_id, str(path), meta.to_json().decode(), invited)
    return snapshot_id


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
            catalog.activate("snapshot", load_snapshot(catalog, Path(settings.snapshot_path)))
    finally:
        engine.dispose()
