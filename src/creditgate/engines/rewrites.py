"""Rewrites every engine may apply to lowered expressions, defined once."""

from __future__ import annotations

from typing import Any

from creditgate.policy import nodes as n


def case_as_table(node: n.Case) -> tuple[n.Expr, dict[Any, Any]] | None:
    """A CASE whose every WHEN tests one operand for equality or membership and yields a
    literal is a lookup table ``(operand, {key: result})``; None otherwise.

    SQL meaning is kept: the first matching WHEN wins (earlier entries overwrite later ones),
    and NULL matches no key, so it falls to the default.
    """
    table: dict[Any, Any] = {}
    subject: n.Expr | None = None
    for condition, result in reversed(node.whens):
        if not isinstance(result, n.Literal):
            return None
        if isinstance(condition, n.InSet):
            operand, keys = condition.operand, condition.values
        elif (
            isinstance(condition, n.Compare)
            and condition.op is n.CmpOp.EQ
            and isinstance(condition.right, n.Literal)
        ):
            operand, keys = condition.left, (condition.right.value,)
        else:
            return None
        if subject is not None and operand != subject:
            return None
        subject = operand
        table.update(dict.fromkeys(keys, result.value))
    return None if subject is None else (subject, table)
