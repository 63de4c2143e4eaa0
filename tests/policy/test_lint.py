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


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_default_policy_lints_clean_assigning_within_the_household_cap() -> None:
    policy = parse_policy(DEFAULT)
    assert lint(policy) == []
    rows = [r for s in policy.offer.segments for r in s.limits]
    assert max(r.limit for r in rows) == policy.jurisdiction.household_line_cap_cny
    assert policy.offer.max_limit == 300_000  # the product range stays the seed's


def test_a_limit_row_above_the_household_cap_warns_on_its_own_line() -> None:
    text = DEFAULT.replace("limit: 200000}", "limit: 300000}", 1)
    found = [f for f in lint(parse_policy(text)) if f.check == "HOUSEHOLD_LINE_CAP"]
    assert [(f.level, f.line) for f in found] == [(Level.WARNING, line_of(text, "limit: 300000"))]
    assert "middle_class" in found[0].message and "300000 yuan" in found[0].message


def test_a_limit_condition_on_unconsented_data_is_a_consent_error() -> None:
    """Limit rows read profile data: the consent check covers them like gates and features."""
    text = DEFAULT.replace(
        "  - {id: consent_behaviour, code: CONSENT_MISSING, layer: compliance, "
        'field: consent_behaviour_data, op: "==", value: true}\n',
        "",
    )
    found = [f for f in errors(lint(parse_policy(text))) if f.check == "CONSENT"]
    rows = [f for f in found if "limit row" in f.message]
    assert rows and all("consent_behaviour_data" in f.message for f in rows)
    first = line_of(text, '{min_score: 760, when: [{field: monthly_spend_cny_6m, op: ">="')
    assert any(f.line == first and "segment gen_z limit row 0" in f.message for f in rows)


def test_a_segment_whose_unconditional_rows_start_above_the_cutoff_has_no_limit() -> None:
    """Conditional rows may all fail: only rows without conditions guarantee a limit."""
    text = DEFAULT.replace("- {min_score: 0, limit: 500}", "- {min_score: 700, limit: 500}", 1)
    assert checks(text).get("NO_LIMIT") is Level.ERROR


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
