"""The real-time engine: a lowered program compiled once into one Python function.

Each binding becomes a local variable of a generated function, so a decision costs a few
microseconds of straight-line Python. NULL follows SQL exactly as the batch engines do: a
comparison with NULL is NULL, ``AND``/``OR`` are three-valued (``and3``/``or3``), a NULL CASE
condition is not taken. Checks are emitted only where a value can be NULL (``Expr.nullable``,
known when the node is built). It compiles ``program.prepared``: the bindings after the IR
passes (``policy.passes``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import date
from itertools import count
from typing import Any, Protocol

from creditgate.codegen import define
from creditgate.engines.base import Compiler
from creditgate.policy import nodes as n
from creditgate.policy.lower import Binding, Prepared
from creditgate.schema import OPTIONAL_FIELDS
from creditgate.timeutil import Unit, elapsed_months

RowFunction = Callable[[Mapping[str, Any], date], tuple[Any, ...]]
ContinueFunction = Callable[[Mapping[str, Any], date, tuple[Any, ...]], Any]
# Source for a named value (an input field or a binding) in generated code.
Source = Callable[[str], str]
# Lines that end a tail function (their own ``return``), given where each value is, and the
# names those lines need in the generated code's namespace.
Epilogue = Callable[[Source], tuple[list[str], dict[str, Any]]]


class Compilable(Protocol):
    """What an engine compiles: named bindings in order, and the bindings after the IR passes
    (``lower.prepare``).

    A policy's ``Program`` reads contract fields; a trained card's program reads arbitrary
    columns (all nullable: its ``Field`` nodes say so), so both compile with the same engine.
    """

    @property
    def name(self) -> str: ...

    @property
    def bindings(self) -> tuple[Binding, ...]: ...

    @property
    def prepared(self) -> Prepared: ...


def and3(*values: bool | None) -> bool | None:
    """SQL AND: FALSE wins, then NULL, else TRUE."""
    if False in values:
        return False
    return None if None in values else True


def or3(*values: bool | None) -> bool | None:
    """SQL OR: TRUE wins, then NULL, else FALSE."""
    if True in values:
        return True
    return None if None in values else False


def logistic(x: float, offset: float, scale: float) -> float:
    """Score to probability of default, rounded so every engine prints the same digits."""
    return round(1.0 / (1.0 + math.exp((x - offset) / scale)), 6)


_RUNTIME: dict[str, Any] = {
    "and3": and3,
    "or3": or3,
    "logistic": logistic,
    "elapsed_months": elapsed_months,
}


class RowCompiler(Compiler[str]):
    """Translates expressions to Python source; constants go to the function's globals."""

    def __init__(self, program: Compilable) -> None:
        self.program = program
        self.prepared = program.prepared
        self.locals: dict[str, str] = {}
        self.consts: dict[str, Any] = dict(_RUNTIME)
        self._ids = count()
        self.fields: dict[str, str] = {}  # input field -> the local it is read into
        self.used: dict[str, None] = {}  # fields the function being generated reads

    def compile(self) -> RowFunction:
        return self.compile_split(len(self.prepared.bindings))[0]

    def compile_split(
        self, at: int, epilogue: Epilogue | None = None
    ) -> tuple[RowFunction, ContinueFunction]:
        """Two functions: bindings ``[:at]`` as ``head(r, as_of)``, and the rest as
        ``tail(r, as_of, head_values)``, so costly late bindings run only when needed.
        ``tail`` returns the rest's values or, given an ``epilogue``, what its lines return:
        they read every value as a local, so e.g. the reason list is built where the reason
        keys were computed, with no tuple of them in between.

        Each function first reads the input fields it uses into locals, once: a field is
        tested by several gates and bins, and a local is cheaper than a dict lookup. (So a row
        must carry every field the program reads, as a validated profile does.)"""
        head_body: list[str] = []
        tail_body: list[str] = []
        head_fields: dict[str, None] = {}
        tail_fields: dict[str, None] = {}
        for i, binding in enumerate(self.prepared.bindings):
            self.used = head_fields if i < at else tail_fields
            source = self.visit(binding.expr)
            (head_body if i < at else tail_body).append(f"    v{i} = {source}")
            self.locals[binding.name] = f"v{i}"
        names = list(self.locals.values())
        namespace = dict(self.consts)
        if epilogue is None:
            tail_body.append(f"    return ({''.join(f'{n}, ' for n in names[at:])})")
        else:

            def value_at(name: str) -> str:
                if name not in self.locals:
                    return f"r.get({name!r})"  # an input field: read only where needed
                return self.locals[name]

            lines, extra = epilogue(value_at)
            tail_body += [f"    {line}" for line in lines]
            namespace.update(extra)
        head = ["def head(r, as_of):", *self.loads(head_fields), *head_body]
        tail = ["def tail(r, as_of, prev):"]
        if at:
            tail.append(f"    ({', '.join(names[:at])},) = prev")
        tail += [*self.loads(tail_fields), *tail_body]
        head.append(f"    return ({''.join(f'{n}, ' for n in names[:at])})")
        define(head + tail, namespace, f"policy {self.program.name}")
        head_fn: RowFunction = namespace["head"]
        tail_fn: ContinueFunction = namespace["tail"]
        return head_fn, tail_fn

    def loads(self, fields: Mapping[str, None]) -> list[str]:
        """Read each field once; a field the platform may leave out reads as None."""
        return [
            f"    {self.fields[name]} = r.get({name!r})"
            if name in OPTIONAL_FIELDS
            else f"    {self.fields[name]} = r[{name!r}]"
            for name in fields
        ]

    # -- helpers
    def temp(self) -> str:
        return f"_t{next(self._ids)}"

    def const(self, value: Any) -> str:
        name = f"_c{next(self._ids)}"
        self.consts[name] = value
        return name

    def guard(self, nodes: tuple[n.Expr, ...], body: Callable[[list[str]], str]) -> str:
        """``None`` if any nullable operand is NULL, else ``body`` of the operand names."""
        names: list[str] = []
        checks: list[str] = []
        for node in nodes:
            source = self.visit(node)
            if node.nullable:
                t = self.temp()
                checks.append(f"({t} := {source}) is None")
                names.append(t)
            else:
                names.append(source)
        if not checks:
            return body(names)
        return f"(None if {' or '.join(checks)} else {body(names)})"

    # -- visitors
    def visit_Field(self, node: n.Field) -> str:
        self.used[node.name] = None
        return self.fields.setdefault(node.name, f"_f{len(self.fields)}")

    def visit_Ref(self, node: n.Ref) -> str:
        return self.locals[node.name]

    def visit_AsOf(self, node: n.AsOf) -> str:
        return "as_of"

    def visit_Literal(self, node: n.Literal) -> str:
        value = node.value
        if value is None or isinstance(value, bool | int | float | str):
            return repr(value)
        return self.const(value)

    def visit_Compare(self, node: n.Compare) -> str:
        op = node.op.value
        return self.guard((node.left, node.right), lambda v: f"({v[0]} {op} {v[1]})")

    def visit_InSet(self, node: n.InSet) -> str:
        values = self.const(frozenset(node.values))
        return self.guard((node.operand,), lambda v: f"({v[0]} in {values})")

    def visit_And(self, node: n.And) -> str:
        parts = [self.visit(o) for o in node.operands]
        if any(o.nullable for o in node.operands):
            return f"and3({', '.join(parts)})"
        return f"({' and '.join(parts)})"

    def visit_Or(self, node: n.Or) -> str:
        parts = [self.visit(o) for o in node.operands]
        if any(o.nullable for o in node.operands):
            return f"or3({', '.join(parts)})"
        return f"({' or '.join(parts)})"

    def visit_Not(self, node: n.Not) -> str:
        return self.guard((node.operand,), lambda v: f"(not {v[0]})")

    def visit_IsNull(self, node: n.IsNull) -> str:
        if not node.operand.nullable:
            return "False"  # constant-folded: validated input cannot be NULL here
        return f"({self.visit(node.operand)} is None)"

    def visit_Coalesce(self, node: n.Coalesce) -> str:
        source = self.visit(node.operands[-1])
        for operand in reversed(node.operands[:-1]):
            if not operand.nullable:
                source = self.visit(operand)
                continue
            t = self.temp()
            source = f"({t} if ({t} := {self.visit(operand)}) is not None else {source})"
        return source

    def visit_Case(self, node: n.Case) -> str:
        source = self.visit(node.default)
        for condition, result in reversed(node.whens):
            test = self.test(condition)
            if test == "True":
                source = self.visit(result)
            elif test != "False":
                source = f"({self.visit(result)} if {test} else {source})"
        return source

    def test(self, node: n.Expr) -> str:
        """``node`` as a CASE condition, where only TRUE is taken: NULL may act as FALSE, so
        SQL's three-valued AND/OR become Python's short-circuit ones (None is falsy), with no
        ``and3``/``or3`` call. A value is truthy exactly when SQL's is TRUE."""
        if isinstance(node, n.And | n.Or):
            joiner = " and " if isinstance(node, n.And) else " or "
            return f"({joiner.join(self.test(o) for o in node.operands)})"
        return self.visit(node)

    def visit_Lookup(self, node: n.Lookup) -> str:
        """One dict lookup; NULL matches no key and falls to the default, as
        ``dict.get(None, default)`` does."""
        mapping = self.const(node.table)
        return f"{mapping}.get({self.visit(node.key)}, {self.visit(node.default)})"

    def visit_Elapsed(self, node: n.Elapsed) -> str:
        def body(v: list[str]) -> str:
            if node.unit is Unit.DAYS:
                return f"(as_of - {v[0]}).days"
            months = f"elapsed_months({v[0]}, as_of)"
            return f"({months} // 12)" if node.unit is Unit.YEARS else months

        return self.guard((node.start,), body)

    def visit_Add(self, node: n.Add) -> str:
        return self.guard(node.operands, lambda v: f"({' + '.join(v)})")

    def visit_Logistic(self, node: n.Logistic) -> str:
        return self.guard(
            (node.operand,), lambda v: f"logistic({v[0]}, {node.offset!r}, {node.scale!r})"
        )


def compile_program(program: Compilable) -> RowFunction:
    """Compile once; call ``fn(row, as_of)`` per profile to get every binding's value."""
    return RowCompiler(program).compile()
