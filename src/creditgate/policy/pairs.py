"""Pairwise interaction tables: checking their text, one way for policies and artefacts.

A pair is written as two axes (a feature of the card, cut at its own ascending ``edges`` or
into ``categories`` groups) and a table of integer points with ``1 + bins`` rows and columns,
row and column 0 for a missing value (``nodes.ScorePair``). The policy loader and the
artefact loader both build pairs here, so they accept and refuse the same tables; each
problem is reported as (path inside the pair entry, message) for the caller's ``file:line``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from creditgate.policy.nodes import Bin, PairAxis

Where = tuple[str | int, ...]
Problem = tuple[Where, str]


def pair_axis(
    feature: str,
    field: str,
    kind: type | None,
    edges: Sequence[float] | None,
    categories: Sequence[Sequence[str]] | None,
    typed: Callable[[type | None, float | None], Any] = lambda _kind, v: v,
    special_values: tuple[float, ...] = (),
) -> tuple[PairAxis, list[Problem]]:
    """The axis and its problems: numeric fields take strictly ascending ``edges``,
    categorical ones ``categories`` (each value in one group), never both."""
    problems: list[Problem] = []
    categorical = kind is str
    if categorical:
        if edges is not None or not categories:
            problems.append(((), "a categorical feature's axis lists `categories:` groups"))
        groups = [tuple(str(c) for c in g) for g in categories or ()]
        seen: set[str] = set()
        for i, g in enumerate(groups):
            if not g:
                problems.append((("categories", i), "an empty category group"))
            for c in g:
                if c in seen:
                    problems.append((("categories", i), f"category {c!r} in two groups"))
                seen.add(c)
        bins = tuple(Bin(0, categories=g) for g in groups)
        return PairAxis(feature, field, bins), problems
    if categories is not None or edges is None:
        problems.append(((), "a numeric feature's axis lists ascending `edges:`"))
    cuts = [float(e) for e in edges or ()]
    for i in range(1, len(cuts)):
        if cuts[i] <= cuts[i - 1]:
            problems.append((("edges", i), f"edges must ascend: {cuts[i]} <= {cuts[i - 1]}"))
    bounds: list[Any] = [None, *(typed(kind, c) for c in cuts), None]
    bins = tuple(Bin(0, bounds[i], bounds[i + 1]) for i in range(len(cuts) + 1))
    return PairAxis(feature, field, bins, special_values), problems


def table_problems(points: Sequence[Sequence[Any]], rows: int, columns: int) -> list[Problem]:
    """Shape and type of a pair's points: ``1 + rows`` rows of ``1 + columns`` integers."""
    problems: list[Problem] = []
    if len(points) != rows + 1:
        problems.append(
            ((), f"{len(points)} rows; expected {rows + 1} (missing, then {rows} bins)")
        )
    for r, row in enumerate(points):
        if len(row) != columns + 1:
            problems.append(
                ((r,), f"{len(row)} points; expected {columns + 1} (missing, then {columns} bins)")
            )
        for c, value in enumerate(row):
            if isinstance(value, bool) or not isinstance(value, int):
                problems.append(((r, c), f"points must be integers, got {value!r}"))
    return problems
