"""Compiler base: one ``visit_<Node>`` per expression class, loud on anything unhandled.

A new node added to ``policy/nodes.py`` without a visitor in every engine fails at compile
time (and in the parity suite) instead of silently producing a wrong decision.
"""

from __future__ import annotations

from typing import Generic, TypeVar

from creditgate.policy.nodes import Expr

T = TypeVar("T")


class UnhandledNodeError(TypeError):
    """An engine met an expression node it has no visitor for."""


class Compiler(Generic[T]):
    def visit(self, node: Expr) -> T:
        method = getattr(self, f"visit_{type(node).__name__}", None)
        if method is None:
            raise UnhandledNodeError(f"{type(self).__name__} cannot compile {type(node).__name__}")
        result: T = method(node)
        return result
