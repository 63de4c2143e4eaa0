"""Every IR node knows its result type and whether it may be NULL when it is built, and a node
over children it cannot take is never built (``nodes.NodeTypeError``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from creditgate.engines.merge import merge
from creditgate.features import DERIVED_SPECS
from creditgate.policy import nodes as n
from creditgate.policy.bindings import Binding, Fixed, GateFailed, Scope
from creditgate.policy.loader import default_policy_path, load_policy
from creditgate.policy.lower import Bound, lower, walk
from creditgate.policy.nodes import Scaling, Type
from creditgate.population.regions import load_regions
from creditgate.schema import PROFILE_FIELDS
from creditgate.scorecard.artifact import Artifact, CardBin, CardFeature
from creditgate.scorecard.lowering import lower_card
from creditgate.timeutil import Unit
from paired_policy import paired_policy
from product_family import family_policy

CITY, SCORE = n.Field.of("city"), n.Field.of("pay_score")
BIRTH, SINCE = n.Field.of("birth_date"), n.Field.of("invited_since")


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: n.Compare(n.CmpOp.EQ, CITY, n.Literal(3)), r"cannot compare string with int"),
        (lambda: n.Compare(n.CmpOp.LT, BIRTH, SCORE), r"cannot compare date with int"),
        (lambda: n.Compare(n.CmpOp.EQ, n.Literal(1), n.Literal(True)), r"int with bool"),
        (lambda: n.InSet(SCORE, ("深圳",)), r"InSet: a int operand, the constant '深圳'"),
        (lambda: n.Add((SCORE, BIRTH)), r"Add: an operand is date"),
        (lambda: n.Add((CITY, n.Literal(1))), r"Add: an operand is string"),
        (lambda: n.And((SCORE, n.Literal(True))), r"And: an operand is int"),
        (lambda: n.Not(CITY), r"Not: the operand is string"),
        (lambda: n.Case(((SCORE, n.Literal(1)),), n.Literal(0)), r"Case: a condition is int"),
        (lambda: n.Case(((n.Literal(True), CITY),), SCORE), r"Case: no common type"),
        (lambda: n.Coalesce((SCORE, n.Literal("x"))), r"Coalesce: no common type"),
        (lambda: n.Coalesce((n.Literal(1.5), n.Literal(Decimal(1)))), r"no common type"),
        (lambda: n.Elapsed(SCORE, Unit.DAYS), r"Elapsed: the start is int"),
        (lambda: n.Logistic(CITY, 0.0, 1.0), r"Logistic: the operand is string"),
        (lambda: n.Lookup(SCORE, ((("a",), 1),), n.Literal(0)), r"Lookup: a int operand"),
        (lambda: n.Lookup(CITY, ((("a",), 1),), n.Literal("z")), r"Lookup: no common type"),
        (lambda: n.Literal((1, 2)), r"no IR type for the constant"),  # type: ignore[arg-type]
    ],
)
def test_an_ill_typed_node_is_not_built(build: Callable[[], n.Expr], message: str) -> None:
    with pytest.raises(n.NodeTypeError, match=message):
        build()


def test_facts_come_from_the_contract_and_the_children() -> None:
    for name, spec in PROFILE_FIELDS.items():
        field = n.Field.of(name)
        assert (field.type, field.nullable) == (n.type_of_class(spec.type), spec.nullable)
    since = n.Elapsed(SINCE, Unit.DAYS)  # an optional field: NULL when left out
    assert (since.type, since.nullable) == (Type.INT, True)
    assert (n.IsNull(SINCE).type, n.IsNull(SINCE).nullable) == (Type.BOOL, False)
    assert n.Coalesce((since, n.Literal(0))).nullable is False
    assert n.Coalesce((since, n.Literal(None))).nullable is True
    assert (n.Literal(None).type, n.Literal(None).nullable) == (Type.NULL, True)
    widened = n.Case(((n.Literal(True), n.Literal(1)),), n.Literal(2.5))
    assert widened.type is Type.FLOAT
    assert n.Case(((n.IsNull(SINCE), n.Literal(1)),), n.Literal(None)).type is Type.INT
    # an always-taken WHEN makes the (NULL) default unreachable
    assert n.Case(((n.Literal(True), n.Literal(1)),), n.Literal(None)).nullable is False
    assert n.Lookup(CITY, ((("a",), None),), n.Literal("z")).nullable is True
    assert n.Logistic(SCORE, 0.0, 1.0).type is Type.FLOAT
    assert (n.AsOf().type, n.AsOf().nullable) == (Type.DATE, False)
    assert n.Add((SCORE, n.Literal(Decimal("0.5")))).type is Type.DECIMAL


def test_facts_are_no_part_of_equality_hash_or_repr() -> None:
    """Facts follow from the structure: structurally equal nodes stay equal (programs merge
    and compare by ``repr``), whatever a leaf was built with."""
    a, b = n.Ref("x", Type.INT, True), n.Ref("x", Type.INT, False)
    assert a == b and hash(a) == hash(b) and repr(a) == "Ref(name='x')"
    compare = n.Compare(n.CmpOp.GE, SCORE, n.Literal(600))
    assert repr(compare) == (
        "Compare(op=<CmpOp.GE: '>='>, left=Field(name='pay_score'), right=Literal(value=600))"
    )
    assert replace(compare, right=n.Literal(None)).nullable is True


def old_nullability(expr: n.Expr, bindings: dict[str, bool], fields: dict[str, bool]) -> bool:
    """The removed post-construction pass (``engines/nullability.py``), kept as the oracle
    the nodes' own facts are checked against."""

    def null(e: n.Expr) -> bool:
        return old_nullability(e, bindings, fields)

    match expr:
        case n.Field():
            return fields[expr.name]
        case n.Ref():
            return bindings[expr.name]
        case n.AsOf() | n.IsNull():
            return False
        case n.Literal():
            return expr.value is None
        case n.Coalesce():
            return all(null(o) for o in expr.operands)
        case n.Case():
            for condition, result in expr.whens:
                if null(result):
                    return True
                if condition == n.Literal(True):
                    return False
            return null(expr.default)
        case n.Lookup():
            return any(r is None for _, r in expr.entries) or null(expr.default)
    return any(null(c) for c in expr.children())


def programs() -> list[tuple[str, Bound, bool]]:
    """(label, program, whether its fields follow the contract): policies of every shape and
    a trained card (whose columns may all be NULL)."""
    regions = load_regions()
    base = load_policy()
    cut = tuple((c, v + 5) for c, v in base.scorecard.cutoffs)
    stable = replace(base, stability=replace(base.stability, min_days=30, band=10))
    policies = {
        "default": base,
        "handset": load_policy(default_policy_path().with_name("seed_handset.yaml")),
        "pairs": paired_policy(),
        "family": family_policy(),
        "capacity+stability": replace(
            stable, scorecard=replace(base.scorecard, capacity_cutoffs=cut)
        ),
    }
    out: list[tuple[str, Bound, bool]] = [(k, lower(p, regions), True) for k, p in policies.items()]
    return [*out, ("card", lower_card(a_card()), False)]


def a_card() -> Artifact:
    """A trained card's shapes: a numeric column with a special value, a categorical one."""
    income = CardFeature(
        "income", "income", "numerical", (CardBin(10, upper=1000.0), CardBin(30)), 5, 7, (-1.0,)
    )
    region = CardFeature("region", "region", "categorical", (CardBin(4, categories=("n",)),), 0)
    return Artifact("bad", "1", 500, Scaling(20.0, 600.0, 50.0), (income, region))


@pytest.mark.parametrize(("label", "program", "contract"), programs())
def test_each_node_knows_what_the_removed_pass_computed(
    label: str, program: Bound, contract: bool
) -> None:
    """Every node's nullability equals the old visitor's, and every ``Ref`` carries the
    type and nullability of the binding it reads, in the program engines compile."""
    facts: dict[str, tuple[Type, bool]] = {}
    for b in program.prepared.bindings:
        for e in walk(b.expr):
            fields = {
                f.name: (PROFILE_FIELDS[f.name].nullable if contract else True)
                for f in walk(e)
                if isinstance(f, n.Field)
            }
            nullable = {name: fact[1] for name, fact in facts.items()}
            assert e.nullable is old_nullability(e, nullable, fields), (label, b.name, e)
            if isinstance(e, n.Ref):
                assert (e.type, e.nullable) == facts[e.name], (label, b.name, e.name)
        facts[b.name] = (b.expr.type, b.expr.nullable)


def test_bindings_have_the_types_their_meaning_gives() -> None:
    program = lower(load_policy(), load_regions())
    typed = {b.name: (b.expr.type, b.expr.nullable) for b in program.prepared.bindings}
    assert typed[Fixed.SCORE.column] == (Type.INT, True)  # NULL without the consents
    assert typed[Fixed.PD.column] == (Type.FLOAT, True)
    assert typed[Fixed.OUTCOME.column] == (Type.STRING, False)
    assert typed[Fixed.APR.column][0] is Type.DECIMAL
    assert typed[Fixed.INVITED_SINCE.column] == (Type.DATE, True)
    assert all(typed[GateFailed(g.id).column] == (Type.BOOL, False) for g in program.policy.gates)
    for name, spec in DERIVED_SPECS.items():  # declared once, and the expression agrees
        assert typed[name][0] is n.type_of_class(spec.type)


def test_a_ref_to_a_binding_not_yet_made_is_not_built() -> None:
    scope = Scope()
    with pytest.raises(KeyError):
        scope.ref(Fixed.SCORE)
    binding = scope.bind(Fixed.SCORE, n.Add((n.Literal(1), SCORE)))
    assert binding == Binding("score", n.Add((n.Literal(1), SCORE)))
    ref = scope.ref(Fixed.SCORE)
    assert (ref.type, ref.nullable) == (Type.INT, False)


def test_a_merge_keeps_the_facts_of_the_refs_it_renames() -> None:
    regions = load_regions()
    base = load_policy()
    other = replace(base, scorecard=replace(base.scorecard, review_band=7))
    merged = merge([lower(base, regions), lower(other, regions)]).program
    made: dict[str, tuple[Type, bool]] = {}
    for b in merged.bindings:
        for e in walk(b.expr):
            if isinstance(e, n.Ref):
                assert e.type is made[e.name][0]
        made[b.name] = (b.expr.type, b.expr.nullable)


def test_lowering_a_threshold_of_the_wrong_type_raises() -> None:
    """Policy files are checked by the loader first (``file:line``); the node check is the
    backstop for a policy built in code, which no loader saw."""
    gate = replace(load_policy().gates[0], field="city", op=n.CmpOp.GE, value=date(2026, 1, 1))
    policy = replace(load_policy(), gates=(gate,))
    with pytest.raises(n.NodeTypeError, match="cannot compare string with date"):
        lower(policy, load_regions())
