"""Pairwise tables: the loader's checks (``file:line``), the score they add, the default
program untouched, and a trained artefact's pairs read and refused the same way."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings

from creditgate.decider import Decider
from creditgate.engines.row import compile_program
from creditgate.explain.score_recourse import axis_index
from creditgate.policy.bindings import PairPoints
from creditgate.policy.lint import lint
from creditgate.policy.loader import PolicyError, default_policy_path, parse_policy
from creditgate.scorecard import artifact
from paired_policy import PAIRS, paired_policy
from strategies import AS_OF, invitable_profiles

PAIRED = Decider(paired_policy())
PLAIN = Decider()
RUN = compile_program(PAIRED.program)


def with_pairs(pairs: list[dict[str, Any]]) -> str:
    data = yaml.safe_load(default_policy_path().read_text(encoding="utf-8"))
    data["scorecard"]["pairs"] = pairs
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def issues(pairs: list[dict[str, Any]]) -> list[str]:
    with pytest.raises(PolicyError) as caught:
        parse_policy(with_pairs(pairs), "p.yaml")
    return [str(i) for i in caught.value.issues]


def test_bad_pairs_are_refused_at_their_line() -> None:
    text = with_pairs([])
    bad = [
        {
            "name": "x",
            "axes": [{"feature": "nope", "edges": [1]}, {"feature": "pay_band", "edges": [9, 3]}],
            "points": [[0, 0, 0], [0, 0, 0]],
        }
    ]
    found = issues(bad)
    lines = with_pairs(bad).splitlines()
    assert len(text.splitlines()) < len(lines)

    def line_of(issue: str) -> str:
        return lines[int(issue.split(":")[1]) - 1]

    unknown = next(i for i in found if "unknown scorecard feature 'nope'" in i)
    assert "scorecard.pairs.0.axes.0.feature" in unknown and "nope" in line_of(unknown)
    ascend = next(i for i in found if "edges must ascend" in i)
    assert "scorecard.pairs.0.axes.1.edges.1" in ascend and line_of(ascend).strip() == "- 3"
    shape = next(i for i in found if "expected 3 (missing, then 2 bins)" in i)
    assert "scorecard.pairs.0.points" in shape


def test_a_row_of_the_wrong_length_and_a_repeated_feature_are_refused() -> None:
    bad = [
        {
            "name": "x",
            "axes": [{"feature": "pay_band", "edges": [600]}, {"feature": "pay_band"}],
            "points": [[0], [0, 1], [0, 2]],
        }
    ]
    found = "\n".join(issues(bad))
    assert "a pair needs two different features" in found
    assert "a numeric feature's axis lists ascending `edges:`" in found
    assert "scorecard.pairs.0.points.0: 1 points; expected 2" in found


def test_the_default_program_has_no_pair_bindings() -> None:
    assert PLAIN.policy.scorecard.pairs == ()
    assert not any(b.name.startswith("pair") for b in PLAIN.program.bindings)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(invitable_profiles())
def test_pairs_add_their_cell_points_to_the_score(profile: dict[str, Any]) -> None:
    paired, plain = PAIRED.decide(profile, AS_OF), PLAIN.decide(profile, AS_OF)
    assert plain.score is not None and paired.score is not None
    program = PAIRED.program
    values = dict(zip(program.names, RUN(profile, AS_OF), strict=True))
    added = 0
    for pair in PAIRED.policy.scorecard.pairs:
        cell = [axis_index(a, values.get(a.field, profile.get(a.field))) for a in pair.axes]
        added += pair.at(cell[0], cell[1])
        assert values[PairPoints(pair.name).column] == pair.at(cell[0], cell[1])
    assert paired.score - plain.score == added


def test_artefact_pairs_are_checked_with_file_and_line(tmp_path: Path) -> None:
    card = {
        "format": artifact.FORMAT,
        "target": "bad",
        "bad_value": "1",
        "base_points": 0,
        "scaling": {"pdo": 20, "base_score": 600, "base_odds": 50},
        "features": [
            {"name": n, "column": n, "kind": "numerical", "missing_points": 0, "bins": bins}
            for n in ("a", "b")
            for bins in [[{"points": 1, "lower": None, "upper": 5}, {"points": 2, "lower": 5}]]
        ],
        "pairs": [
            {
                "name": "a_x_b",
                "axes": [{"feature": "a", "edges": [1, 2]}, {"feature": "b", "edges": [3]}],
                "points": [[0, 0, 0], [1, 2, 3], [4, 5, 6], [7, 8, 9]],
            }
        ],
    }
    path = tmp_path / "card.yaml"
    path.write_text(yaml.safe_dump(card, sort_keys=False), encoding="utf-8")
    loaded = artifact.load(path)
    assert loaded.pairs[0].points[3] == (7, 8, 9)
    artifact.dump(loaded, tmp_path / "again.yaml")
    assert artifact.load(tmp_path / "again.yaml") == loaded
    card["pairs"][0]["axes"][1]["edges"] = [3, 1]  # type: ignore[index]
    path.write_text(yaml.safe_dump(card, sort_keys=False), encoding="utf-8")
    with pytest.raises(artifact.ArtifactError) as caught:
        artifact.load(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:")
    line = int(message.split(":")[1])
    assert path.read_text().splitlines()[line - 1].strip() == "- 1"
    assert "pairs.0.axes.1.edges.1: edges must ascend" in message
    assert "pairs.0.points.0: 3 points; expected 4 (missing, then 3 bins)" in message


def test_the_lint_bounds_the_score_with_the_tables_cells() -> None:
    """A cutoff above the features' best total is reachable when a table adds more, and a
    table's worst cell lowers the score a cutoff must clear."""
    card = PLAIN.policy.scorecard
    top = card.base_points + sum(f.best_points for f in card.features)
    data = yaml.safe_load(with_pairs(PAIRS))
    data["scorecard"]["cutoffs"]["tier1"] = top + 5  # the tables' best cells: 12 + 6
    findings = lint(parse_policy(yaml.safe_dump(data, sort_keys=False), "p.yaml"))
    assert not [f for f in findings if f.check == "CUTOFF_UNREACHABLE"], findings
    data["scorecard"]["cutoffs"]["tier1"] = top + 19
    findings = lint(parse_policy(yaml.safe_dump(data, sort_keys=False), "p.yaml"))
    assert [f for f in findings if f.check == "CUTOFF_UNREACHABLE"]
    bottom = card.base_points + sum(
        min(min(b.points for b in f.bins), f.missing_points) for f in card.features
    )
    data["scorecard"]["cutoffs"]["tier1"] = bottom - 5  # the tables' worst cells: -9 - 8
    findings = lint(parse_policy(yaml.safe_dump(data, sort_keys=False), "p.yaml"))
    assert not [f for f in findings if f.check == "CUTOFF_NEVER_BINDS"], findings
