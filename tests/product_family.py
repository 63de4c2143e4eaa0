"""The products tests' family: the default policy plus ``products/family.yaml``."""

from __future__ import annotations

from pathlib import Path

from creditgate.policy.loader import default_policy_path, parse_policy
from creditgate.policy.nodes import Policy

FAMILY = (Path(__file__).parent / "products" / "family.yaml").read_text(encoding="utf-8")


def family_text(extra: str = FAMILY) -> str:
    """The default policy's text with ``extra`` (a ``products:`` section) appended."""
    return default_policy_path().read_text(encoding="utf-8") + extra


def family_policy(extra: str = FAMILY) -> Policy:
    return parse_policy(family_text(extra), "family.yaml")
