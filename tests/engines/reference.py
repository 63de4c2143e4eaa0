"""The oracle every engine is held to: a deliberately naive tree-walking interpreter of the
lowered program (``run``), and the decision contract's columns built from it (``decide``).

The engines compile the program (the row engine to Python with constant folding and
CASE-to-lookup rewrites, Ibis to DuckDB or Spark SQL); this module walks it, one node at a
time, with SQL's three-valued logic spelled out, and imports no engine. What the decision
adds to the program, the price, the app's entry, the notices and when an invitation began, it
derives again from the policy's text and the profile's held facts (docs/policy.md, "Stable
entries"), not from the bindings that compute them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

from creditgate.policy import nodes as n
from creditgate.policy.lower import Program
from creditgate.policy.nodes import Policy
from creditgate.timeutil import Unit, elapsed

OPS = {
    n.CmpOp.GE: lambda a, b: a >= b,
    n.CmpOp.GT: lambda a, b: a > b,
    n.CmpOp.LE: lambda a, b: a <= b,
    n.CmpOp.LT: lambda a, b: a < b,
    n.CmpOp.EQ: lambda a, b: a == b,
    n.CmpOp.NE: lambda a, b: a != b,
}


def _and(vals: list[Any]) -> bool | None:
    return False if False in vals else (None if None in vals else True)


def _or(vals: list[Any]) -> bool | None:
    return True if True in vals else (None if None in vals else False)


def _case(e: n.Case, ev: Callable[[n.Expr], Any]) -> Any:
    for cond, result in e.whens:
        if ev(cond) is True:
            return ev(result)
    return ev(e.default)


def _coalesce(e: n.Coalesce, ev: Callable[[n.Expr], Any]) -> Any:
    for o in e.operands:
        v = ev(o)
        if v is not None:
            return v
    return None


def _compare(a: Any, op: n.CmpOp, b: Any) -> bool | None:
    return None if a is None or b is None else OPS[op](a, b)


def _logistic(v: Any, offset: float, scale: float) -> float | None:
    return None if v is None else round(1 / (1 + math.exp((v - offset) / scale)), 6)


def _member(v: Any, values: tuple[Any, ...]) -> bool | None:
    return None if v is None else v in values


def _not(v: Any) -> bool | None:
    return None if v is None else not v


def _elapsed(start: date | None, as_of: date, unit: Unit) -> int | None:
    return None if start is None else elapsed(start, as_of, unit)


def _add(vals: list[Any]) -> Any:
    return None if None in vals else sum(vals)


class Interpreter:
    """One row's evaluation: ``ev`` applies the rule of an expression's node type, SQL's
    NULL semantics included (a dict of rules rather than a ``match``: the same rules, read
    the same way, at a fraction of the dispatch cost for the thousands of rows a parity
    example checks)."""

    def __init__(self, row: dict[str, Any], env: dict[str, Any], as_of: date) -> None:
        self.row, self.env, self.as_of = row, env, as_of

    def ev(self, e: n.Expr) -> Any:
        rule = RULES.get(type(e))
        if rule is None:
            raise TypeError(f"reference interpreter has no rule for {type(e).__name__}")
        return rule(self, e)


Rule = Callable[[Interpreter, Any], Any]
RULES: dict[type[n.Expr], Rule] = {
    n.Field: lambda i, e: i.row.get(e.name),
    n.Ref: lambda i, e: i.env[e.name],
    n.AsOf: lambda i, e: i.as_of,
    n.Literal: lambda i, e: e.value,
    n.Compare: lambda i, e: _compare(i.ev(e.left), e.op, i.ev(e.right)),
    n.InSet: lambda i, e: _member(i.ev(e.operand), e.values),
    n.And: lambda i, e: _and([i.ev(o) for o in e.operands]),
    n.Or: lambda i, e: _or([i.ev(o) for o in e.operands]),
    n.Not: lambda i, e: _not(i.ev(e.operand)),
    n.IsNull: lambda i, e: i.ev(e.operand) is None,
    n.Coalesce: lambda i, e: _coalesce(e, i.ev),
    n.Case: lambda i, e: _case(e, i.ev),
    n.Elapsed: lambda i, e: _elapsed(i.ev(e.start), i.as_of, e.unit),
    n.Add: lambda i, e: _add([i.ev(o) for o in e.operands]),
    n.Logistic: lambda i, e: _logistic(i.ev(e.operand), e.offset, e.scale),
}


def evaluate(expr: n.Expr, row: dict[str, Any], env: dict[str, Any], as_of: date) -> Any:
    """The value of ``expr`` for ``row``, reading earlier bindings from ``env``."""
    return Interpreter(row, env, as_of).ev(expr)


def values(program: Program, row: dict[str, Any], as_of: date) -> dict[str, Any]:
    """Every binding's value by name, each computed from the ones before it."""
    env: dict[str, Any] = {}
    interpreter = Interpreter(row, env, as_of)
    for b in program.bindings:
        env[b.name] = interpreter.ev(b.expr)
    return env


def run(program: Program, row: dict[str, Any], as_of: date) -> tuple[Any, ...]:
    """Every binding's value in program order (what ``Decider.run`` returns)."""
    return tuple(values(program, row, as_of).values())


def price(policy: Policy, score: int | None) -> Decimal | None:
    """The daily rate of the first band (highest bar first) whose bar the score reaches."""
    if score is None:
        return None
    return next((b.daily_rate for b in policy.offer.prices if score >= b.min_score), None)


def decide(program: Program, row: dict[str, Any], as_of: date) -> dict[str, Any]:
    """The decision contract's columns (``batch.decisions.OUTPUT_COLUMNS``) for one row: the
    outcome, score, limit and reason keys from the interpreted program, the rest from the
    policy and the held facts."""
    env = values(program, row, as_of)
    invited = env["outcome"] == "invited"
    held_since = row.get("invited_since")
    held_limit = row.get("invited_limit_cny")
    limit = env["limit_cny"]
    rate = price(program.policy, env["score"]) if invited else None
    apr = None if rate is None else rate * program.policy.offer.days_per_year
    fired = sorted(
        (env[slot.binding], i)
        for i, slot in enumerate(program.reasons)
        if env[slot.binding] is not None
    )
    if invited:
        entry = "offer"
    elif row.get("has_outstanding_loan"):
        entry = "servicing"
    else:
        entry = "hidden"
    return {
        "user_id": row["user_id"],
        "outcome": env["outcome"],
        "entry_visible": entry != "hidden",
        "score": env["score"],
        "pd": env["pd"],
        "limit_cny": limit,
        "daily_rate": None if rate is None else str(rate),
        "apr": None if apr is None else str(apr),
        "reason_codes": [program.reasons[i].code for _, i in fired],
        "entry": entry,
        "retained": bool(env["retained"]),
        "limit_reduced": invited
        and held_since is not None
        and held_limit is not None
        and limit is not None
        and limit < held_limit,
        "withdrawn": held_since is not None and not invited,
        "invited_since": (held_since or as_of) if invited else None,
    }
