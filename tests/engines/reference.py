"""A deliberately naive tree-walking interpreter of the lowered program: the oracle that the
compiled row engine (with its constant folding and CASE-to-lookup rewrites) must match."""

from __future__ import annotations

import math
from datetime import date
from typing import Any

from creditgate.policy import nodes as n
from creditgate.policy.lower import Program
from creditgate.timeutil import elapsed

OPS = {
    n.CmpOp.GE: lambda a, b: a >= b,
    n.CmpOp.GT: lambda a, b: a > b,
    n.CmpOp.LE: lambda a, b: a <= b,
    n.CmpOp.LT: lambda a, b: a < b,
    n.CmpOp.EQ: lambda a, b: a == b,
    n.CmpOp.NE: lambda a, b: a != b,
}


def evaluate(expr: n.Expr, row: dict[str, Any], env: dict[str, Any], as_of: date) -> Any:
    def ev(e: n.Expr) -> Any:
        return evaluate(e, row, env, as_of)

    match expr:
        case n.Field(name):
            return row.get(name)
        case n.Ref(name):
            return env[name]
        case n.AsOf():
            return as_of
        case n.Literal(value):
            return value
        case n.Compare(op, left, right):
            a, b = ev(left), ev(right)
            return None if a is None or b is None else OPS[op](a, b)
        case n.InSet(operand, values):
            v = ev(operand)
            return None if v is None else v in values
        case n.And(operands):
            vals = [ev(o) for o in operands]
            return False if False in vals else (None if None in vals else True)
        case n.Or(operands):
            vals = [ev(o) for o in operands]
            return True if True in vals else (None if None in vals else False)
        case n.Not(operand):
            v = ev(operand)
            return None if v is None else not v
        case n.IsNull(operand):
            return ev(operand) is None
        case n.Coalesce(operands):
            for o in operands:
                v = ev(o)
                if v is not None:
                    return v
            return None
        case n.Case(whens, default):
            for cond, result in whens:
                if ev(cond) is True:
                    return ev(result)
            return ev(default)
        case n.Elapsed(start, unit):
            s = ev(start)
            return None if s is None else elapsed(s, as_of, unit)
        case n.Add(operands):
            vals = [ev(o) for o in operands]
            return None if None in vals else sum(vals)
        case n.Logistic(operand, offset, scale):
            v = ev(operand)
            return None if v is None else round(1 / (1 + math.exp((v - offset) / scale)), 6)
    raise TypeError(f"reference interpreter has no rule for {type(expr).__name__}")


def run(program: Program, row: dict[str, Any], as_of: date) -> tuple[Any, ...]:
    env: dict[str, Any] = {}
    for b in program.bindings:
        env[b.name] = evaluate(b.expr, row, env, as_of)
    return tuple(env[b.name] for b in program.bindings)
