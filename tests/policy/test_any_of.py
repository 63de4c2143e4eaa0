"""Any-of gate groups (``any_of:``): loaded with file:line errors, linted as alternatives,
lowered to the same IR (every gate of a group fails only when all of them fail)."""

from __future__ import annotations

import re

import pytest

from creditgate.policy.bindings import GateFailed
from creditgate.policy.lint import lint
from creditgate.policy.loader import PolicyError, default_policy_path, parse_policy
from creditgate.policy.lower import gate_failed, lower
from creditgate.policy.nodes import And
from creditgate.population.regions import load_regions

DEFAULT = default_policy_path().read_text(encoding="utf-8")
ACTIVITY = "value: 1, any_of: hidden_weights}"
SPEND = "value: 1000, any_of: hidden_weights}"
REPAYMENT = "value: 40, any_of: hidden_weights}"


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def issues(text: str) -> list[str]:
    with pytest.raises(PolicyError) as exc:
        parse_policy(text, "p.yaml")
    return [str(i) for i in exc.value.issues]


def test_the_default_groups_the_three_hidden_weights() -> None:
    policy = parse_policy(DEFAULT)
    grouped = [(g.id, g.code) for g in policy.gates if g.group == "hidden_weights"]
    assert grouped == [
        ("activity_floor", "LOW_ACTIVITY"),
        ("spend_floor", "LOW_SPEND"),
        ("repayment_floor", "LOW_REPAYMENT_SCORE"),
    ]


def test_each_gate_of_a_group_fails_as_the_whole_group() -> None:
    """One IR: the group's first gate binds the AND of the members' own failures, the others
    read it beside their own (one computation, and no two bindings alike for a merge to
    fold)."""
    policy = parse_policy(DEFAULT)
    program = lower(policy, load_regions())
    group = [g for g in policy.gates if g.group == "hidden_weights"]
    alone = tuple(gate_failed(program.scope, g, program.derived) for g in group)
    first = program.scope.ref(GateFailed(group[0].id))
    assert [program.expr(GateFailed(g.id)) for g in group] == [
        And(alone),
        And((first, alone[1])),
        And((first, alone[2])),
    ]
    pay_score = next(g for g in policy.gates if g.id == "pay_score")
    assert program.expr(GateFailed("pay_score")) == gate_failed(
        program.scope, pay_score, program.derived
    )


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (ACTIVITY, "value: 1, any_of: lonely}", "any_of group 'lonely' has one gate only"),
        (ACTIVITY, "value: 1, any_of: Hidden}", "gates.12.any_of"),
        (SPEND, "value: 1000, any_of: hidden_weights, action: review}", "share one layer"),
        (
            "layer: behaviour, field: monthly_spend_cny_6m",
            "layer: credit, field: monthly_spend_cny_6m",
            "share one layer",
        ),
    ],
)
def test_a_bad_group_names_its_line(old: str, new: str, message: str) -> None:
    assert old in DEFAULT, old
    text = DEFAULT.replace(old, new, 1)
    found = issues(text)
    assert any(message in i for i in found), found
    assert all(re.match(r"p\.yaml:\d+:", i) for i in found)
    lines = {int(i.split(":")[1]) for i in found if message in i}
    assert line_of(text, new) in lines, (found, line_of(text, new))


def test_the_gates_of_a_group_must_be_side_by_side() -> None:
    spend = next(line for line in DEFAULT.splitlines() if SPEND in line)
    text = DEFAULT.replace(spend + "\n", "", 1).replace(
        "  - {id: pay_score,", spend + "\n  - {id: pay_score,", 1
    )
    found = issues(text)
    message = "must be side by side"
    assert any(message in i for i in found), found
    lines = {int(i.split(":")[1]) for i in found if message in i}
    assert lines == {line_of(text, "id: pay_score")}  # the first gate breaking the run


def test_a_gate_in_a_group_is_no_hard_bound_for_the_lint() -> None:
    """A member may fail while the user passes: a plain gate on its field contradicting it
    is no UNREACHABLE finding, and a member is not a mandatory rule."""
    text = DEFAULT.replace(
        "  # platform credit\n",
        "  # platform credit\n  - {id: repayment_cap, code: LOW_REPAYMENT_SCORE, layer: credit, "
        'field: ecosystem_repayment_score, op: "<", value: 30}\n',
        1,
    )
    assert not [f for f in lint(parse_policy(text)) if f.check == "UNREACHABLE"]
    adult = '{id: adult, code: UNDERAGE, layer: compliance, field: age, op: ">=", value: 18}'
    grouped = adult[:-1] + ", any_of: grown}\n  - " + adult.replace("adult", "adult_too")[:-1]
    grouped += ", any_of: grown}"
    found = lint(parse_policy(DEFAULT.replace(adult, grouped, 1)))
    assert any(f.check == "CN_MANDATORY" and "age >= 18" in f.message for f in found), found
