"""A trained card -> the same score nodes a policy's scorecard lowers to.

The card reads arbitrary columns (German Credit's ``duration_in_month``, a bank's
``utilisation``...), not the profile contract, so it lowers to its own small program, but
through the policy's own score lowering (``policy.lower.score_bindings``): per feature
``bin.<name>`` (index; -1 missing or unseen category, -2 special value) and
``points.<name>``, per pairwise table ``pairbin.<pair>.0/1`` and ``pairpoints.<pair>``, then
``score`` and ``pd``, under the same keys (``policy.bindings``). Any
engine that compiles a policy's program compiles this one too (see ``engines.row.Compilable``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from creditgate.policy.bindings import Scope
from creditgate.policy.by_bin import MISSING_BIN, SPECIAL_BIN
from creditgate.policy.lower import Binding, Bound, score_bindings
from creditgate.policy.nodes import Field, ScoreFeature, type_of_class
from creditgate.scorecard.artifact import Artifact, CardFeature, field_spec, to_score_feature

MISSING = MISSING_BIN
SPECIAL = SPECIAL_BIN


@dataclass(frozen=True)
class CardProgram(Bound):
    """Bindings for one trained card; every input column may be NULL (real data is dirty)."""

    name: str
    bindings: tuple[Binding, ...]
    columns: tuple[str, ...]


def scored_feature(f: CardFeature) -> ScoreFeature:
    """``f`` as the score reads it: the policy's feature node with the card's special values
    and their points, the last numeric bin taking every value above it (training saw none)."""
    feature = to_score_feature(f)
    bins = feature.bins
    if bins and not bins[-1].categories and bins[-1].upper is not None:
        bins = (*bins[:-1], replace(bins[-1], upper=None))
    return replace(
        feature, bins=bins, special_values=f.special_values, special_points=f.special_points
    )


def lower_card(card: Artifact, name: str = "scorecard") -> CardProgram:
    """``bin.<f>``, ``points.<f>`` per feature, then ``score`` and ``pd``."""
    features = tuple(scored_feature(f) for f in card.features)
    pairs = card.to_pairs()
    types = {f.column: type_of_class(field_spec(f).type) for f in card.features}

    def column(name: str) -> Field:
        """Any column may be NULL (real data is dirty), of the type training saw."""
        return Field(name, types[name], True)

    out = score_bindings(Scope(), features, card.base_points, card.scaling, column, pairs=pairs)
    return CardProgram(name, tuple(out), card.columns)
