"""Generated Python: the row engine, the reason list, gate recourse and message templates are
compiled once per policy into straight-line functions, because they run for every decision."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

# The key under which ``define`` keeps the source it ran, so it can be printed
# (``creditgate policy compile``, ``listing.python_source``).
SOURCE = "__source__"


def define(lines: Iterable[str], namespace: dict[str, Any], label: str) -> dict[str, Any]:
    """Run the function definitions in ``lines`` inside ``namespace`` (their globals) and
    return it; ``label`` names the generated code in tracebacks. The source is kept in the
    namespace under ``SOURCE``: the functions' ``__globals__`` lead a reader to it."""
    text = "\n".join(lines)
    namespace[SOURCE] = text
    exec(compile(text, f"<{label}>", "exec"), namespace)
    return namespace
