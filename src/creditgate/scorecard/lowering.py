"""A trained card -> the same primitive expression nodes a policy lowers to.

The card reads arbitrary columns (German Credit's ``duration_in_month``, a bank's
``utilisation``...), not the profile contract, so it lowers to its own small program: per
feature ``bin.<name>`` (index; -1 missing or unseen category, -2 special value) and
``points.<name>``, then ``score`` and ``pd``. Any engine that compiles a policy's program
compiles this one too (see ``engines.row.Compilable``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

from creditgate.policy.lower import Binding, Prepared, prepare
from creditgate.policy.nodes import (
    Add,
    Case,
    CmpOp,
    Compare,
    Expr,
    Field,
    InSet,
    IsNull,
    Literal,
    Logistic,
    Ref,
)
from creditgate.scorecard.artifact import Artifact, CardFeature

MISSING = -1
SPECIAL = -2


@dataclass(frozen=True)
class CardProgram:
    """Bindings for one trained card; every input column may be NULL (real data is dirty)."""

    name: str
    bindings: tuple[Binding, ...]
    columns: tuple[str, ...]

    def field_nullable(self, name: str) -> bool:
        return True

    @cached_property
    def prepared(self) -> Prepared:
        """The bindings after the IR passes, with their nullability (``lower.prepare``)."""
        return prepare(self.bindings, self.field_nullable)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(b.name for b in self.bindings)


def bin_index(f: CardFeature) -> Expr:
    """Searched CASE giving the bin a value falls in; NULL -> missing, specials first."""
    x = Field(f.column)
    whens: list[tuple[Expr, Expr]] = [(IsNull(x), Literal(MISSING))]
    if f.special_values:
        whens.append((InSet(x, f.special_values), Literal(SPECIAL)))
    last = len(f.bins) - 1
    for i, b in enumerate(f.bins):
        if b.categories:
            cond: Expr = InSet(x, b.categories)
        elif b.upper is None or i == last:
            cond = Literal(True)
        else:
            cond = Compare(CmpOp.LT, x, Literal(b.upper))
        whens.append((cond, Literal(i)))
    return Case(tuple(whens), Literal(MISSING))


def bin_points(f: CardFeature) -> Expr:
    index = Ref(f"bin.{f.name}")
    whens = [
        (Compare(CmpOp.EQ, index, Literal(i)), Literal(b.points)) for i, b in enumerate(f.bins)
    ]
    whens.append((Compare(CmpOp.EQ, index, Literal(SPECIAL)), Literal(f.special_points)))
    return Case(tuple(whens), Literal(f.missing_points))


def pd_scale(card: Artifact) -> tuple[float, float]:
    """(offset, scale) so ``pd = 1 / (1 + exp((score - offset) / scale))`` (PDO scaling)."""
    s = card.scaling
    factor = s.pdo / math.log(2)
    return s.base_score - factor * math.log(s.base_odds), factor


def lower_card(card: Artifact, name: str = "scorecard") -> CardProgram:
    """``bin.<f>``, ``points.<f>`` per feature, then ``score`` and ``pd``."""
    out: list[Binding] = []
    for f in card.features:
        out.append(Binding(f"bin.{f.name}", bin_index(f)))
        out.append(Binding(f"points.{f.name}", bin_points(f)))
    total = Add((Literal(card.base_points), *(Ref(f"points.{f.name}") for f in card.features)))
    out.append(Binding("score", total))
    out.append(Binding("pd", Logistic(Ref("score"), *pd_scale(card))))
    return CardProgram(name, tuple(out), card.columns)
