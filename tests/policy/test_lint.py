"""The compliance lint: APR cap, household line cap, consent, contradictions, reachability."""

from __future__ import annotations

import pytest

from creditgate.decider import Decider
from creditgate.policy.lint import Level, errors, lint
from creditgate.policy.loader import PolicyError, default_policy_path, parse_policy
from unsafe_policy import unsafe_cn_policy

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


def test_cn_policy_without_mandatory_rules_has_errors_for_each() -> None:
    found = lint(parse_policy(unsafe_cn_policy(), "unsafe.yaml"))
    bad = [f for f in errors(found) if f.check in ("CN_MANDATORY", "CN_CUTOFF")]
    messages = " ".join(f.message for f in bad)
    for rule in ("age >= 18", "is_student", "real_name_verified", "blacklist_hit"):
        assert rule in messages, messages
    assert {f.check for f in bad} == {"CN_MANDATORY", "CN_CUTOFF"}
    assert all(f.line > 0 for f in bad)


@pytest.mark.parametrize(
    ("old", "new", "missing"),
    [
        ("value: 18}", "value: 16}", "age >= 18"),
        ('op: "==", value: false}', 'op: "==", value: false, action: review}', "is_student"),
        ("field: real_name_verified", "field: bank_card_bound", "real_name_verified"),
        ("field: consent_behaviour_data", "field: bank_card_bound", "consent_behaviour_data"),
        ("{id: blacklist, action: decline", "{id: blacklist, action: review", "blacklist_hit"),
    ],
)
def test_cn_mandatory_rule_weakened_is_an_error(old: str, new: str, missing: str) -> None:
    assert old in DEFAULT
    found = lint(parse_policy(DEFAULT.replace(old, new, 1)))
    assert any(f.check == "CN_MANDATORY" and missing in f.message for f in errors(found)), found


def test_cn_cutoff_below_the_pd_floor_is_an_error() -> None:
    found = checks(DEFAULT.replace(f"cutoffs: {{tier1: {TIER1}", "cutoffs: {tier1: 450", 1))
    assert found.get("CN_CUTOFF") is Level.ERROR


def test_mandatory_rules_apply_only_in_cn() -> None:
    text = unsafe_cn_policy().replace("name: CN", "name: XX")
    assert not {f.check for f in lint(parse_policy(text))} & {"CN_MANDATORY", "CN_CUTOFF"}


def test_packaged_policies_lint_clean() -> None:
    for name in ("default.yaml", "seed_handset.yaml"):
        assert not errors(lint(parse_policy((default_policy_path().parent / name).read_text())))
