"""The compiled row engine equals a naive SQL-semantics interpreter on every binding."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from reference import run as reference_run

from creditgate.decider import Decider
from creditgate.engines.base import Compiler, UnhandledNodeError
from creditgate.engines.row import RowCompiler, and3, or3
from creditgate.policy import nodes as n
from creditgate.policy.passes import optimize
from deciders import decider_for
from strategies import AS_OF, profiles

TRI = [True, False, None]


def sql_and(a: bool | None, b: bool | None) -> bool | None:
    if a is False or b is False:
        return False
    return None if a is None or b is None else True


def sql_or(a: bool | None, b: bool | None) -> bool | None:
    if a is True or b is True:
        return True
    return None if a is None or b is None else False


@pytest.mark.parametrize("a", TRI)
@pytest.mark.parametrize("b", TRI)
def test_three_valued_logic_is_sql(a: bool | None, b: bool | None) -> None:
    assert and3(a, b) == sql_and(a, b)
    assert or3(a, b) == sql_or(a, b)


@given(profiles(), st.integers(-400, 800))
def test_compiled_program_matches_reference(row: dict[str, Any], shift: int) -> None:
    decider = decider_for()
    as_of = AS_OF + timedelta(days=shift)
    as_of = max(as_of, row["registered_at"], row["birth_date"], row["last_overdue_on"] or as_of)
    compiled = decider.run(row, as_of)
    expected = reference_run(decider.program, row, as_of)
    mismatches = {
        name: (c, e)
        for name, c, e in zip(decider.program.names, compiled, expected, strict=True)
        if c != e or type(c) is not type(e)
    }
    assert mismatches == {}


def test_nullable_inputs_follow_sql() -> None:
    decider = Decider()
    from strategies import strong_profile

    row = strong_profile(sim_changed_days_ago=None, applications_7d=3)
    ev = decider.evaluate(row, AS_OF)
    assert ev["fraud.sim_swap"] is False  # NULL condition, when_missing: not_fired
    assert ev["months_since_last_overdue"] is None
    assert ev["fail.clean_24m"] is False  # never overdue passes (when_missing: pass)
    ev = decider.evaluate(strong_profile(sim_changed_days_ago=2, applications_7d=1), AS_OF)
    assert ev["fraud.sim_swap"] is True


def test_unhandled_node_fails_loudly() -> None:
    class Mystery(n.Expr):
        __slots__ = ()

    with pytest.raises(UnhandledNodeError, match="Mystery"):
        Compiler[str]().visit(Mystery())
    with pytest.raises(UnhandledNodeError):
        RowCompiler(Decider().program).visit(Mystery())


def test_case_lookup_keeps_first_match_and_null_default() -> None:
    program_case = n.Case(
        (
            (n.InSet(n.Field.of("city"), ("深圳", "广州")), n.Literal("a")),
            (n.InSet(n.Field.of("city"), ("深圳",)), n.Literal("b")),
        ),
        n.Literal("z"),
    )
    lookup = optimize(program_case)  # the IR pass makes the table; the engine compiles it
    assert isinstance(lookup, n.Lookup)
    compiler = RowCompiler(Decider().program)
    source = compiler.visit(lookup)
    assert ".get(" in source
    namespace = dict(compiler.consts)
    body = ["def fn(r, as_of):", *compiler.loads(compiler.used), f"    return {source}"]
    exec("\n".join(body), namespace)
    fn = namespace["fn"]
    assert fn({"city": "深圳"}, date.today()) == "a"
    assert fn({"city": "北京"}, date.today()) == "z"
