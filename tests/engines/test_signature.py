"""Reason signatures are exact: every key the row engine computes is enumerated, and a
signature decodes to the row engine's own reason list (``engines.signature``)."""

from __future__ import annotations

from typing import Any

import ibis
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from creditgate.batch.whitelist import apply_cutoffs
from creditgate.decider import Decider
from creditgate.engines.ibis import coded_runs
from creditgate.engines.signature import possible_values, reason_list, slot_codes
from creditgate.policy import nodes as n
from strategies import AS_OF, profiles

CAPACITY_CUTOFFS = {"tier1": 640, "new_tier1": 660, "capital": 670, "prefecture": 680}
BASE = Decider()
DECIDERS = (BASE, Decider(apply_cutoffs(BASE.policy, CAPACITY_CUTOFFS), BASE.regions))
DUCKDB = ibis.duckdb.connect()


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


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(-50, 50), min_size=1, max_size=12, unique=True).map(sorted),
    st.lists(st.one_of(st.none(), st.integers(-60, 60)), min_size=1, max_size=40),
    st.sampled_from([1, 7, 1 << 40]),
)
def test_a_slots_code_by_runs_of_values_is_its_code_by_each_value(
    values: list[int], keys: list[int | None], radix: int
) -> None:
    """``engines.ibis.coded_runs`` (a range test per run of consecutive values) gives on
    DuckDB what one equality per value gives: (1 + position) x radix, 0 for a NULL key or a
    key that is not a value, whatever the gaps between values."""
    table = ibis.memtable(pa.table({"k": pa.array(keys, pa.int64())}))
    key = table["k"]
    by_runs = ibis.cases(*coded_runs(key, values, radix), else_=ibis.literal(0))
    got = DUCKDB.to_pyarrow(table.select(c=by_runs))["c"].to_pylist()
    want = [0 if k not in values else (values.index(k) + 1) * radix for k in keys]
    assert got == want
