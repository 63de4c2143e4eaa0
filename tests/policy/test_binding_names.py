"""Binding names are rendered in one module (``policy.bindings``) and nowhere else.

Every other module addresses a binding by its typed key (``GateFailed(gate.id)``,
``Fixed.CAPACITY_CUTOFF``, ``program.at(key)``); a string literal that spells a binding name
(``"fail.score"``, ``f"bin.{name}"``, ``startswith("reason.")``) is a second home for the
name and fails here. Names that are also the decision's output columns (``score``,
``outcome``, ``limit_cny``...) are not checked: the contract names those columns itself.
"""

from __future__ import annotations

import ast
from pathlib import Path

import creditgate
from creditgate.policy import bindings
from creditgate.policy.bindings import (
    BinIndex,
    Fixed,
    FraudFired,
    GateFailed,
    Points,
    ProductGateFailed,
    ReasonKey,
    ReasonOrder,
    ReasonRank,
)

SRC = Path(creditgate.__file__).parent
DEFINING = Path(bindings.__file__).resolve()


def _family_prefixes() -> set[str]:
    """``fail.``, ``bin.``, ``reason.``...: each parametrised key rendered without its
    parameter (a family's names all start so)."""
    keys = (GateFailed(""), FraudFired(""), BinIndex(""), Points(""), ReasonOrder(""))
    prefixes = {k.column for k in keys} | {ReasonRank("").column}
    prefixes.add(ReasonKey(0).column.removesuffix("0"))
    prefixes.add(ProductGateFailed("", "").column.partition(".")[0] + ".")  # the family's
    return prefixes


# The fixed names that cannot be mistaken for a decision column: those with a dot in them.
PREFIXES = tuple(sorted(_family_prefixes() | {k.column for k in Fixed if "." in k.column}))


def binding_literals(source: str) -> list[tuple[int, str]]:
    """(line, text) of every string literal, or literal part of an f-string, that starts
    with a binding name or a family prefix."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        text = node.value if isinstance(node, ast.Constant) else None
        if isinstance(text, str) and text.startswith(PREFIXES):
            found.append((node.lineno, text))
    return found


def test_the_prefixes_cover_every_family() -> None:
    assert {
        "fail.",
        "fraud.",
        "bin.",
        "points.",
        "reason.",
        "reason.order.",
        "reason.rank.",
        "product.",
    } <= set(PREFIXES)
    assert "cutoff.capacity" in PREFIXES and "outcome.policy" in PREFIXES


def test_the_check_sees_built_and_parsed_names() -> None:
    source = (
        'a = f"bin.{name}"\n'
        'b = names["cutoff.capacity"]\n'
        'c = n.startswith("reason.")\n'
        'd = "review.claim"\n'  # an audit event, not a binding
    )
    assert [line for line, _ in binding_literals(source)] == [1, 2, 3]


def test_no_binding_name_is_spelled_outside_its_module() -> None:
    offenders = [
        f"{path.relative_to(SRC)}:{line}: {text!r}"
        for path in sorted(SRC.rglob("*.py"))
        if path.resolve() != DEFINING
        for line, text in binding_literals(path.read_text(encoding="utf-8"))
    ]
    assert offenders == [], "binding names spelled as strings:\n" + "\n".join(offenders)
