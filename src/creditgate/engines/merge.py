"""Several programs as one: the bindings they share computed once.

The strategy lab evaluates candidate policies that differ in a few settings (cutoffs, a
capacity share, a gate's threshold) over the same rows. Their programs are renamed into one
namespace and a binding whose expression (its ``Ref``s renamed) equals one already merged is
not repeated: it maps to the existing name. The merged program then compiles to one
projection chain, so the derived fields, the gates and the scorecard points of four variants
of one policy are computed once, not four times.

Equality is on the expression's ``repr``: dataclass equality would call ``Literal(1)`` and
``Literal(True)`` equal (``1 == True`` in Python), the ``repr`` keeps them apart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from creditgate.policy import nodes as n
from creditgate.policy.lower import Binding, Program
from creditgate.policy.passes import transform


def renamed(expr: n.Expr, names: Mapping[str, str]) -> n.Expr:
    """``expr`` with every ``Ref`` renamed through ``names``."""
    return transform(
        expr,
        lambda e: n.Ref(names[e.name], e.type, e.nullable) if isinstance(e, n.Ref) else e,
    )


@dataclass(frozen=True)
class Merged:
    """The merged program and, per input program, its binding name -> merged name."""

    program: Program
    names: tuple[Mapping[str, str], ...]


def merge(programs: Sequence[Program]) -> Merged:
    """One program holding every binding of ``programs`` (in their order), shared bindings
    once. The first program keeps its names; a binding of program ``k`` that differs from
    every merged one is named ``p<k>:<name>``. The merged program has no reason slots: each
    input program's slots are read through its name map."""
    assert programs, "nothing to merge"
    bindings: list[Binding] = []
    by_expr: dict[str, str] = {}
    taken: set[str] = set()
    maps: list[dict[str, str]] = []
    for k, program in enumerate(programs):
        names: dict[str, str] = {}
        for b in program.bindings:
            expr = renamed(b.expr, names)
            key = repr(expr)
            if key in by_expr:
                names[b.name] = by_expr[key]
                continue
            name = b.name if k == 0 and b.name not in taken else f"p{k}:{b.name}"
            bindings.append(Binding(name, expr))
            by_expr[key] = name
            taken.add(name)
            names[b.name] = name
        maps.append(names)
    first = programs[0]
    return Merged(Program(first.policy, tuple(bindings), first.derived), tuple(maps))
