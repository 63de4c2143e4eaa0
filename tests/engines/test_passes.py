"""The IR passes: one traversal, folding that keeps SQL's NULL logic, CASE tables as lookups."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from reference import evaluate

from creditgate.decider import Decider
from creditgate.engines.merge import renamed
from creditgate.policy import nodes as n
from creditgate.policy.lower import refs, walk
from creditgate.policy.passes import fold, optimize, transform
from creditgate.timeutil import Unit

AS_OF = date(2026, 11, 30)
X, Y = n.Field.of("has_outstanding_loan"), n.Ref("held.invited", n.Type.BOOL, False)
N, M = n.Field.of("invited_limit_cny"), n.Ref("limit_cny", n.Type.INT, True)
Z = n.Ref("z", n.Type.BOOL, False)


def test_children_rebuild_every_node_class() -> None:
    """``with_children(children())`` is the identity, and a rebuild reaches every child."""
    case = n.Case(((X, n.Literal(1)), (Y, n.Literal(2))), n.Literal(3))
    exprs: list[n.Expr] = [
        n.Compare(n.CmpOp.LT, N, M),
        n.InSet(N, (1, 2)),
        n.And((X, Y)),
        n.Or((X, Y)),
        n.Not(X),
        n.IsNull(X),
        n.Coalesce((X, Y)),
        case,
        n.Elapsed(n.Field.of("invited_since"), Unit.DAYS),
        n.Add((N, M)),
        n.Logistic(N, 1.0, 2.0),
        n.Lookup(N, (((1,), 2),), M),
        n.Literal(1),
        n.AsOf(),
    ]
    for expr in exprs:
        assert expr.with_children(expr.children()) == expr
        swapped = transform(expr, lambda e: Z if e == Y else e)
        assert Y not in walk(swapped) and (Z in walk(swapped)) == (Y in walk(expr))
    assert case.children() == (X, n.Literal(1), Y, n.Literal(2), n.Literal(3))


def test_renaming_and_refs_reach_inside_a_lookup() -> None:
    a, b = n.Ref("a", n.Type.STRING, True), n.Ref("b", n.Type.STRING, True)
    lookup = n.Lookup(a, ((("k",), "v"),), b)
    assert refs(lookup) == {"a", "b"}
    assert refs(renamed(lookup, {"a": "p1:a", "b": "b"})) == {"p1:a", "b"}


def test_folding_keeps_three_valued_logic() -> None:
    t, f, null = n.Literal(True), n.Literal(False), n.Literal(None)
    assert fold(n.And((X, f))) == f  # FALSE decides even for a NULL X
    assert fold(n.And((X, t))) == X
    assert fold(n.And((X, null))) == n.And((X, null))  # NULL is no identity
    assert fold(n.Or((X, t))) == t
    assert fold(n.Or((f, f))) == f
    assert fold(n.Not(null)) == null
    assert fold(n.Compare(n.CmpOp.GE, n.Literal(3), n.Literal(2))) == t
    one_and_a_half = n.Compare(n.CmpOp.LT, n.Literal(1), n.Literal(1.5))
    assert fold(one_and_a_half) == one_and_a_half  # mixed number types: left to the engines
    with pytest.raises(n.NodeTypeError):  # Python's 1 == True is no SQL truth: not even built
        n.Compare(n.CmpOp.EQ, n.Literal(1), n.Literal(True))
    assert fold(n.Case(((f, n.Literal(1)), (X, n.Literal(2)), (t, n.Literal(3))), null)) == (
        n.Case(((X, n.Literal(2)),), n.Literal(3))
    )


def test_folding_never_drops_the_only_branch_of_a_type() -> None:
    """A batch engine types a CASE by its branches: dropping the float one would make it int."""
    case = n.Case(((n.Literal(True), n.Literal(1)),), n.Literal(1.5))
    assert fold(case) == case


def test_case_tables_become_lookups_and_short_or_mixed_ones_stay() -> None:
    city = n.Field.of("city")
    table = n.Case(
        (
            (n.InSet(city, ("a", "b")), n.Literal(1)),
            (n.Compare(n.CmpOp.EQ, city, n.Literal("a")), n.Literal(2)),
        ),
        n.Literal(0),
    )
    lookup = optimize(table)
    assert isinstance(lookup, n.Lookup)
    assert lookup.table == {"a": 1, "b": 1}  # the first matching WHEN wins
    one = n.Case(((n.InSet(city, ("a",)), n.Literal(1)),), n.Literal(0))
    assert optimize(one) == one
    mixed = n.Case(((n.InSet(city, ("a",)), n.Literal(1)), (X, n.Literal(2))), n.Literal(0))
    assert optimize(mixed) == mixed


def test_the_policy_program_compiles_its_city_tables_as_lookups() -> None:
    program = Decider().program
    prepared = program.prepared
    assert [b.name for b in prepared.bindings] == list(program.names)
    assert any(isinstance(e, n.Lookup) for b in prepared.bindings for e in walk(b.expr))
    assert not any(isinstance(e, n.Lookup) for b in program.bindings for e in walk(b.expr))
    assert prepared.nullable["held.invited"] is False  # NOT (x IS NULL)
    assert prepared.nullable["held.since"] is True  # an optional field


_BOOLS = st.sampled_from(
    [n.Literal(True), n.Literal(False), n.Literal(None), n.Field("a", n.Type.BOOL, True)]
)


def _logic(children: st.SearchStrategy[n.Expr]) -> st.SearchStrategy[n.Expr]:
    operands = st.lists(children, min_size=1, max_size=3).map(tuple)
    numbers = st.sampled_from([n.Literal(1), n.Literal(2), n.Literal(None)])
    return st.one_of(
        operands.map(n.And),
        operands.map(n.Or),
        children.map(n.Not),
        children.map(n.IsNull),
        st.builds(n.Compare, st.sampled_from(list(n.CmpOp)), numbers, numbers),
        st.builds(
            lambda whens, default: n.Case(tuple(whens), default),
            st.lists(st.tuples(children, children), min_size=1, max_size=3),
            children,
        ),
    )


@given(st.recursive(_BOOLS, _logic, max_leaves=12), st.sampled_from([True, False, None]))
def test_folding_changes_no_value(expr: n.Expr, a: Any) -> None:
    """Folded and unfolded expressions agree under the reference interpreter."""
    row = {"a": a}
    assert evaluate(fold_all(expr), row, {}, AS_OF) == evaluate(expr, row, {}, AS_OF)


def fold_all(expr: n.Expr) -> n.Expr:
    return transform(expr, fold)
