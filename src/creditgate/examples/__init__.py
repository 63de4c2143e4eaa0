"""Bundled example profiles, written for evaluation date ``EXAMPLES_AS_OF``."""

from __future__ import annotations

from datetime import date
from importlib import resources

EXAMPLES_AS_OF = date(2026, 11, 28)


def example_profiles() -> list[tuple[str, bytes]]:
    """(name, JSON bytes) of every bundled profile, in file order."""
    folder = resources.files("creditgate.examples")
    files = sorted((p for p in folder.iterdir() if p.name.endswith(".json")), key=lambda p: p.name)
    return [(p.name.removesuffix(".json"), p.read_bytes()) for p in files]
