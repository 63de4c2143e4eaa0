"""The compliance lint: APR cap, household line cap, consent, contradictions, reachability."""

from __future__ import annotations

import pytest

from creditgate.decider import Decider
from creditgate.policy.lint import Level, errors, lint
from creditgate.policy.loader import PolicyError, default_policy_path, parse_policy

DEFAULT = default_policy_path().read_text(encoding="utf-8")
# the calibrated floor is data (scorecard.default_card): read it, do not copy it
TIER1 = dict(parse_policy(DEFAULT).scorecard.cutoffs)["tier1"]


def checks(text: str) -> dict[str, Level]:
    return {f.check: f.level for f in lint(parse_policy(text, "p.yaml"))}


def test_default_policy_only_warns_about_the_household_cap() -> None:
    found = lint(parse_policy(DEFAULT))
    assert [(f.check, f.level) for f in found] == [("HOUSEHOLD_LINE_CAP", Level.WARNING)]
    assert found[0].line > 0


@pytest.mark.parametrize(
    ("old", "new", "check"),
    [
        ('daily_rate: "0.0004"', 'daily_rate: "0.0007"', "APR_CAP"),
        (
            "  - {id: consent_credit, code: CONSENT_MISSING, layer: compliance, "
            'field: consent_credit_data, op: "==", value: true}\n',
            "",
            "CONSENT",
        ),
        ('op: ">=", value: 600}', 'op: ">=", value: 900}', "UNREACHABLE"),
        ('op: ">=", value: 600}', 'op: ">=", value: 300}', "NEVER_FAILS"),
        (f"cutoffs: {{tier1: {TIER1}", "cutoffs: {tier1: 900", "CUTOFF_UNREACHABLE"),
        (
            '- {min_score: 660, daily_rate: "0.0003"}\n    - {min_score: 0, daily_rate: "0.0004"}',
            '- {min_score: 695, daily_rate: "0.0003"}',
            "NO_PRICE",
        ),
        (
            '{field: applications_7d, op: ">=", value: 5}',
            '{field: applications_7d, op: ">=", value: 50000}',
            "NEVER_FIRES",
        ),
    ],
)
def test_findings(old: str, new: str, check: str) -> None:
    assert old in DEFAULT
    found = checks(DEFAULT.replace(old, new, 1))
    assert check in found, found


def test_contradictory_gates_on_one_field() -> None:
    text = DEFAULT.replace(
        "  # platform credit\n",
        "  # platform credit\n  - {id: pay_cap, code: PAY_SCORE_LOW, layer: credit, "
        'field: pay_score, op: "<=", value: 550}\n',
        1,
    )
    found = lint(parse_policy(text))
    assert any(f.check == "UNREACHABLE" and "contradicts" in f.message for f in found)


def test_a_policy_with_lint_errors_is_never_served() -> None:
    policy = parse_policy(
        DEFAULT.replace('daily_rate: "0.0004"', 'daily_rate: "0.0009"', 1), "p.yaml"
    )
    assert errors(lint(policy))
    with pytest.raises(PolicyError, match="APR_CAP"):
        Decider(policy)
