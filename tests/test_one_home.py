"""Facts with one home stay there: the decision ids, the output columns, the outcome values.

Each test fails when a second copy of the fact appears (a second id generator, a column list
restated, an outcome compared as a bare string) or when the home and a reader drift apart.
"""

from __future__ import annotations

import re
from pathlib import Path

import creditgate
import creditgate.decider
import creditgate.service.deciding
from creditgate.decider import Decider
from creditgate.decision import BINDING_OF, DECISION_COLUMNS, OUTPUT_COLUMNS
from creditgate.identifiers import new_decision_id
from creditgate.policy.nodes import Outcome
from strategies import AS_OF, strong_profile

SRC = Path(creditgate.__file__).parent
OUTCOME_VALUES = "|".join(o.value for o in Outcome)
# An outcome value as a bare string where it is compared or made: the enum says it instead.
BARE_OUTCOME = re.compile(
    rf"""(==|!=|\bin|Literal\(|outcome=|equal\(.*,)\s*["']({OUTCOME_VALUES})["']"""
    rf"""|["']({OUTCOME_VALUES})["']\s*(==|!=)"""
)


def _sources() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def test_one_decision_id_generator() -> None:
    assert creditgate.decider.new_decision_id is new_decision_id
    assert creditgate.service.deciding.new_decision_id is new_decision_id
    makers = [
        p.relative_to(SRC).as_posix()
        for p in _sources()
        if re.search(r"class \w*DecisionIds?\b|\"d_\"\s*\+|f\"d_\{", p.read_text("utf-8"))
    ]
    assert makers == ["identifiers.py"]


def test_the_decider_ids_are_the_unguessable_ones() -> None:
    decision = Decider().decide(strong_profile(), AS_OF)
    assert re.fullmatch(r"d_[0-9a-f]{24}", decision.decision_id)


def test_one_output_column_list() -> None:
    assert tuple(c.name for c in DECISION_COLUMNS) == OUTPUT_COLUMNS
    assert len(set(OUTPUT_COLUMNS)) == len(OUTPUT_COLUMNS)
    restated = re.compile(r'"user_id",\s*"outcome",\s*"entry_visible"')
    copies = [
        p.relative_to(SRC).as_posix() for p in _sources() if restated.search(p.read_text("utf-8"))
    ]
    assert copies == []


def test_every_column_binding_is_in_the_program_and_read_by_the_decider() -> None:
    decider = Decider()
    for binding in BINDING_OF.values():
        assert decider.program.has(binding)
    read = {decider.program.names[i] for i in decider.output_at}
    assert {binding.column for binding in BINDING_OF.values()} <= read


def test_outcomes_are_named_by_the_enum_in_src() -> None:
    found = [
        f"{p.relative_to(SRC).as_posix()}:{n}: {line.strip()}"
        for p in _sources()
        if p.name != "nodes.py"
        for n, line in enumerate(p.read_text("utf-8").splitlines(), 1)
        if BARE_OUTCOME.search(line)
    ]
    assert found == []
