"""A trained scorecard as plain data: bins, integer points, scaling, provenance.

Why plain data: serving must never import the trainer (optbinning, scikit-learn) or unpickle
anything. The artefact is YAML a reviewer can read and diff; ``to_features`` turns it into the
same ``ScoreFeature`` nodes a policy's hand-set card uses, so every engine and explainer reads
a trained card exactly as it reads a policy.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from creditgate.policy.nodes import Bin, PairAxis, Scaling, ScoreFeature, ScorePair
from creditgate.policy.pairs import Problem, pair_axis, table_problems
from creditgate.policy.yamlsrc import SourceMap
from creditgate.schema import PROFILE_FIELDS, Consent, Direction, FieldSpec

FORMAT = "creditgate.scorecard/1"


class ArtifactError(ValueError):
    """The artefact file is not a valid scorecard; the message names the entry at fault."""


@dataclass(frozen=True, slots=True)
class CardBin:
    """``[lower, upper)`` for a numeric feature, or ``categories`` for a categorical one."""

    points: int
    lower: float | None = None
    upper: float | None = None
    categories: tuple[str, ...] = ()
    count: int = 0
    event_rate: float | None = None


@dataclass(frozen=True, slots=True)
class CardFeature:
    """One scored column. ``direction`` says which way a change helps (recourse)."""

    name: str
    column: str
    kind: str  # "numerical" | "categorical"
    bins: tuple[CardBin, ...]
    missing_points: int
    special_points: int = 0
    special_values: tuple[float, ...] = ()
    factor: str = "LOW_SCORE_FACTOR"
    direction: str = Direction.NONE.value
    cost: int = 1
    integer: bool = False  # the column holds whole numbers: recourse targets are ints
    low: float | None = None  # observed range, bounds recourse targets
    high: float | None = None
    iv: float = 0.0

    @property
    def best_points(self) -> int:
        return max(b.points for b in self.bins)


@dataclass(frozen=True, slots=True)
class CardAxis:
    """One side of a pair: a card feature (by name) cut at its own ``edges`` (numeric) or
    into ``categories`` groups; the pair's bins may differ from the feature's."""

    feature: str
    edges: tuple[float, ...] = ()
    categories: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True, slots=True)
class CardPair:
    """Points by two features' bins (``nodes.ScorePair``): ``1 + bins`` rows and columns,
    row and column 0 for a missing or special value or an unseen category."""

    name: str
    axes: tuple[CardAxis, CardAxis]
    points: tuple[tuple[int, ...], ...]


@dataclass(frozen=True, slots=True)
class Excluded:
    column: str
    reason: str


@dataclass(frozen=True, slots=True)
class Artifact:
    """A whole trained card; ``score = base_points + sum(points)``, higher is better."""

    target: str
    bad_value: str
    base_points: int
    scaling: Scaling
    features: tuple[CardFeature, ...]
    excluded: tuple[Excluded, ...] = ()
    protected_included: tuple[str, ...] = ()
    metrics: dict[str, float] = field(default_factory=dict)
    trained_rows: int = 0
    format: str = FORMAT
    # How it was trained (method, settings, CV figures, fairness audit): plain YAML values,
    # read by reports and reviewers, never by scoring.
    metadata: dict[str, Any] = field(default_factory=dict)
    # Pairwise interaction tables (``train --pairs N``); none by default.
    pairs: tuple[CardPair, ...] = ()

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(f.column for f in self.features)

    def to_features(self) -> tuple[ScoreFeature, ...]:
        """The policy nodes for this card (special values handled by ``scorecard.lowering``)."""
        return tuple(to_score_feature(f) for f in self.features)

    def to_pairs(self) -> tuple[ScorePair, ...]:
        """The policy's pair nodes for this card's pairs (checked by ``from_dict``)."""
        named = {f.name: f for f in self.features}
        return tuple(to_score_pair(p, named) for p in self.pairs)

    def field_specs(self) -> dict[str, FieldSpec]:
        """Per column: type, range and direction, as the contract gives its own fields."""
        return {f.column: field_spec(f) for f in self.features}


def to_score_feature(f: CardFeature) -> ScoreFeature:
    bins = tuple(Bin(b.points, b.lower, b.upper, b.categories) for b in f.bins)
    return ScoreFeature(f.name, f.column, bins, f.missing_points, f.factor, f.cost)


def _axis(axis: CardAxis, features: Mapping[str, CardFeature]) -> tuple[PairAxis, list[Problem]]:
    f = features.get(axis.feature)
    if f is None:
        bare = PairAxis(axis.feature, axis.feature, ())
        return bare, [(("feature",), f"unknown card feature {axis.feature!r}")]
    categorical = f.kind == "categorical"
    return pair_axis(
        f.name,
        f.column,
        str if categorical else float,
        None if categorical else axis.edges,
        axis.categories if categorical else None,
        special_values=f.special_values,
    )


def to_score_pair(pair: CardPair, features: Mapping[str, CardFeature]) -> ScorePair:
    first, second = (_axis(a, features)[0] for a in pair.axes)
    return ScorePair(pair.name, (first, second), pair.points)


def pair_problems(pair: CardPair, features: Mapping[str, CardFeature]) -> list[Problem]:
    """Everything wrong with one pair, as (path inside the entry, message)."""
    problems: list[Problem] = []
    axes = []
    for k, a in enumerate(pair.axes):
        axis, found = _axis(a, features)
        problems += [(("axes", k, *where), message) for where, message in found]
        axes.append(axis)
    if pair.axes[0].feature == pair.axes[1].feature:
        problems.append((("axes", 1, "feature"), "a pair needs two different features"))
    shape = table_problems(pair.points, len(axes[0].bins), len(axes[1].bins))
    return problems + [(("points", *where), message) for where, message in shape]


def field_spec(f: CardFeature) -> FieldSpec:
    """Contract columns keep the contract's spec; other columns get one from training."""
    if f.column in PROFILE_FIELDS:
        return PROFILE_FIELDS[f.column]
    kind: type = str if f.kind == "categorical" else (int if f.integer else float)
    return FieldSpec(
        f.column,
        kind,
        Consent.NONE,
        nullable=True,
        ge=f.low,
        le=f.high,
        direction=Direction(f.direction),
        resolution=1 if f.integer else 0.01,
    )


# --------------------------------------------------------------------------- YAML


def _num(value: float | None) -> float | None:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return None
    return float(value)


def to_dict(card: Artifact) -> dict[str, Any]:
    data = asdict(card)
    data["scaling"] = {
        "pdo": card.scaling.pdo,
        "base_score": card.scaling.base_score,
        "base_odds": card.scaling.base_odds,
    }
    for feat in data["features"]:
        feat["special_values"] = list(feat["special_values"])
        for b in feat["bins"]:
            b["categories"] = list(b["categories"])
            if not b["categories"]:
                del b["categories"]
            else:
                del b["lower"], b["upper"]
    if card.pairs:
        data["pairs"] = [pair_dict(p) for p in card.pairs]
    else:
        del data["pairs"]  # cards without pairs dump byte-identically
    data["excluded"] = [asdict(e) for e in card.excluded]
    data["protected_included"] = list(card.protected_included)
    order = ["format", "target", "bad_value", "base_points", "scaling", "features"]
    order += ["pairs"] if card.pairs else []
    if not card.metadata:
        del data["metadata"]  # cards trained before metadata existed dump byte-identically
    return {k: data[k] for k in order} | {k: v for k, v in data.items() if k not in order}


def pair_dict(pair: CardPair) -> dict[str, Any]:
    axes: list[dict[str, Any]] = []
    for a in pair.axes:
        axis: dict[str, Any] = {"feature": a.feature}
        if a.categories:
            axis["categories"] = [list(g) for g in a.categories]
        else:
            axis["edges"] = list(a.edges)
        axes.append(axis)
    return {"name": pair.name, "axes": axes, "points": [list(r) for r in pair.points]}


def dump(card: Artifact, path: Path) -> None:
    """Write the artefact as YAML (UTF-8, key order kept for readable diffs)."""
    text = yaml.safe_dump(to_dict(card), sort_keys=False, allow_unicode=True, width=100)
    path.write_text(text, encoding="utf-8")


def _int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ArtifactError(f"{where}: points must be an integer, got {value!r}")
    return value


def from_dict(data: Any, lines: SourceMap | None = None) -> Artifact:
    """Parse and check an artefact; errors name the feature and bin at fault (pairs: also
    ``file:line`` when ``lines`` maps the text, as ``load`` does)."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ArtifactError(f"not a scorecard artefact (expected format: {FORMAT})")
    try:
        features = tuple(_feature(f, i) for i, f in enumerate(data["features"]))
        pairs = _pairs(data.get("pairs") or [], features, lines)
        s = data["scaling"]
        return Artifact(
            target=str(data["target"]),
            bad_value=str(data["bad_value"]),
            base_points=_int(data.get("base_points", 0), "base_points"),
            scaling=Scaling(float(s["pdo"]), float(s["base_score"]), float(s["base_odds"])),
            features=features,
            excluded=tuple(Excluded(e["column"], e["reason"]) for e in data.get("excluded", [])),
            protected_included=tuple(data.get("protected_included", [])),
            metrics={k: float(v) for k, v in (data.get("metrics") or {}).items()},
            trained_rows=int(data.get("trained_rows", 0)),
            metadata=dict(data.get("metadata") or {}),
            pairs=pairs,
        )
    except ArtifactError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise ArtifactError(f"missing or malformed entry: {exc}") from exc


def _pairs(
    raw: list[Any], features: tuple[CardFeature, ...], lines: SourceMap | None
) -> tuple[CardPair, ...]:
    """The pairs, or one ``ArtifactError`` listing every problem as ``file:line: path: why``."""
    named = {f.name: f for f in features}
    pairs: list[CardPair] = []
    issues: list[str] = []
    names: set[str] = set()
    for i, p in enumerate(raw):
        axes = tuple(
            CardAxis(
                str(a["feature"]),
                tuple(float(e) for e in a.get("edges") or ()),
                tuple(tuple(str(c) for c in g) for g in a.get("categories") or ()),
            )
            for a in p["axes"]
        )
        if len(axes) != 2:
            at = f"{lines.file}:{lines.line_of(('pairs', i, 'axes'))}: " if lines else ""
            issues.append(f"{at}pairs.{i}.axes: a pair has two axes, not {len(axes)}")
            continue
        pair = CardPair(str(p["name"]), (axes[0], axes[1]), tuple(tuple(r) for r in p["points"]))
        problems = pair_problems(pair, named)
        if pair.name in names:
            problems.append((("name",), f"pair {pair.name!r} twice"))
        names.add(pair.name)
        for where, message in problems:
            path = ("pairs", i, *where)
            at = f"{lines.file}:{lines.line_of(path)}: " if lines is not None else ""
            issues.append(f"{at}{'.'.join(str(x) for x in path)}: {message}")
        pairs.append(pair)
    if issues:
        raise ArtifactError("\n".join(issues))
    return tuple(pairs)


def _feature(f: dict[str, Any], i: int) -> CardFeature:
    where = f"features[{i}] ({f.get('name')})"
    bins = tuple(
        CardBin(
            points=_int(b["points"], f"{where}.bins[{j}]"),
            lower=_num(b.get("lower")),
            upper=_num(b.get("upper")),
            categories=tuple(str(c) for c in b.get("categories", ())),
            count=int(b.get("count", 0)),
            event_rate=b.get("event_rate"),
        )
        for j, b in enumerate(f["bins"])
    )
    if not bins:
        raise ArtifactError(f"{where}: no bins")
    if f["kind"] == "numerical":
        for j in range(1, len(bins)):
            if bins[j].lower != bins[j - 1].upper:
                raise ArtifactError(f"{where}.bins[{j}]: bins must be contiguous and ascending")
    return CardFeature(
        name=str(f["name"]),
        column=str(f["column"]),
        kind=str(f["kind"]),
        bins=bins,
        missing_points=_int(f["missing_points"], f"{where}.missing_points"),
        special_points=_int(f.get("special_points", 0), f"{where}.special_points"),
        special_values=tuple(float(v) for v in f.get("special_values", ())),
        factor=str(f.get("factor", "LOW_SCORE_FACTOR")),
        direction=str(Direction(f.get("direction", "none"))),
        cost=int(f.get("cost", 1)),
        integer=bool(f.get("integer", False)),
        low=_num(f.get("low")),
        high=_num(f.get("high")),
        iv=float(f.get("iv", 0.0)),
    )


def load(path: Path) -> Artifact:
    """Read an artefact file; ``ArtifactError`` on anything malformed."""
    text = path.read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ArtifactError(f"{path}: not YAML: {exc}") from exc
    lines = pair_lines(text, str(path)) if isinstance(data, dict) and data.get("pairs") else None
    return from_dict(data, lines)


def pair_lines(text: str, file: str) -> SourceMap:
    """Line numbers of the ``pairs`` entries only (features can be thousands of bins)."""
    source = SourceMap(file)
    root = yaml.compose(text, Loader=yaml.SafeLoader)

    def walk(node: yaml.Node, path: tuple[str | int, ...]) -> None:
        source.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                source.lines[(*path, str(key.value))] = key.start_mark.line + 1
                walk(value, (*path, str(key.value)))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, (*path, i))

    if isinstance(root, yaml.MappingNode):
        for key, value in root.value:
            if key.value == "pairs":
                source.lines[("pairs",)] = key.start_mark.line + 1
                walk(value, ("pairs",))
    return source
