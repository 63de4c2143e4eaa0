"""Reason signatures are exact: every key the row engine computes is enumerated, and a
signature decodes to the row engine's own reason list (``engines.signature``)."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings

from creditgate.batch.whitelist import apply_cutoffs
from creditgate.decider import Decider
from creditgate.engines.signature import possible_values, reason_list, slot_codes
from creditgate.policy import nodes as n
from strategies import AS_OF, profiles

CAPACITY_CUTOFFS = {"tier1": 640, "new_tier1": 660, "capital": 670, "prefecture": 680}
BASE = Decider()
DECIDERS = (BASE, Decider(apply_cutoffs(BASE.policy, CAPACITY_CUTOFFS), BASE.regions))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(profiles())
def test_a_signature_decodes_to_the_row_engines_reasons(row: dict[str, Any]) -> None:
    for decider in DECIDERS:
        program = decider.program
        codes = slot_codes(program)
        assert codes is not None
        ev = decider.evaluate(row, AS_OF)
        keys = [ev[s.binding] for s in program.reasons]
        signature = codes.pack(keys)  # raises if a key was not enumerated
        assert 0 <= signature < 1 << 62
        assert codes.keys(signature) == keys
        assert reason_list(program, codes, signature) == list(
            decider.decide(row, AS_OF).reason_codes
        )


def test_values_are_enumerated_only_for_constants() -> None:
    program = BASE.program
    memo: dict[str, frozenset[n.Value] | None] = {}
    case = n.Case(((n.Field.of("is_student"), n.Literal(3)),), n.Literal(None))
    assert possible_values(program, case, memo) == frozenset({3})
    total = n.Add((case, n.Case(((n.Field.of("is_student"), n.Literal(1)),), n.Literal(0))))
    assert possible_values(program, total, memo) == frozenset({3, 4})
    assert possible_values(program, n.Field.of("pay_score"), memo) is None
    assert possible_values(program, n.Add((n.Field.of("pay_score"), n.Literal(1))), memo) is None
