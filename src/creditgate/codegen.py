"""Generated Python: the row engine, the reason list, gate recourse and message templates are
compiled once per policy into straight-line functions, because they run for every decision."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def define(lines: Iterable[str], namespace: dict[str, Any], label: str) -> dict[str, Any]:
    """Run the function definitions in ``lines`` inside ``namespace`` (their globals) and
    return it; ``label`` names the generated code in tracebacks."""
    exec(compile("\n".join(lines), f"<{label}>", "exec"), namespace)
    return namespace
