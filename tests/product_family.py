"""The products tests' family: the packaged default policy declares it (its ``products:``
section, last in the file); ``products/family.yaml`` is the same section, which tests vary
and append to the default cut before it (``single_text``: the cash loan alone)."""

from __future__ import annotations

from pathlib import Path

from creditgate.policy.loader import default_policy_path, parse_policy
from creditgate.policy.nodes import Policy

FAMILY = (Path(__file__).parent / "products" / "family.yaml").read_text(encoding="utf-8")
SECTION = "\nproducts:\n"


def single_text() -> str:
    """The default policy's text without its product family: the cash loan alone."""
    text = default_policy_path().read_text(encoding="utf-8")
    at = text.find(SECTION)
    if at < 0:
        return text
    start = text.rfind("\n\n", 0, at)  # the section's comment goes with it
    return text[: start + 1 if start >= 0 else at + 1]


def single_policy() -> Policy:
    return parse_policy(single_text(), "default.yaml (cash loan alone)")


def family_text(extra: str = FAMILY) -> str:
    """The default policy's cash loan with ``extra`` (a ``products:`` section) appended."""
    return single_text() + extra


def family_policy(extra: str = FAMILY) -> Policy:
    return parse_policy(family_text(extra), "family.yaml")
