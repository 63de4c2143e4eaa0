"""Which expressions can be NULL, so the row engine only spells out NULL checks where needed."""

from __future__ import annotations

from collections.abc import Callable

from creditgate.engines.base import Compiler
from creditgate.policy import nodes as n
from creditgate.schema import PROFILE_FIELDS


def contract_nullable(name: str) -> bool:
    """Profile-contract fields are validated, so only the contract's optional ones are NULL."""
    return PROFILE_FIELDS[name].nullable


class Nullability(Compiler[bool]):
    """``visit(expr)`` is True when ``expr`` may evaluate to NULL for a valid profile."""

    def __init__(
        self,
        ref_nullable: Callable[[str], bool],
        field_nullable: Callable[[str], bool] | None = None,
    ) -> None:
        self.ref_nullable = ref_nullable
        self.field_nullable = field_nullable or contract_nullable

    def visit_Field(self, node: n.Field) -> bool:
        return self.field_nullable(node.name)

    def visit_Ref(self, node: n.Ref) -> bool:
        return self.ref_nullable(node.name)

    def visit_AsOf(self, node: n.AsOf) -> bool:
        return False

    def visit_Literal(self, node: n.Literal) -> bool:
        return node.value is None

    def visit_Compare(self, node: n.Compare) -> bool:
        return self.visit(node.left) or self.visit(node.right)

    def visit_InSet(self, node: n.InSet) -> bool:
        return self.visit(node.operand)

    def visit_And(self, node: n.And) -> bool:
        return any(self.visit(o) for o in node.operands)

    def visit_Or(self, node: n.Or) -> bool:
        return any(self.visit(o) for o in node.operands)

    def visit_Not(self, node: n.Not) -> bool:
        return self.visit(node.operand)

    def visit_IsNull(self, node: n.IsNull) -> bool:
        return False

    def visit_Coalesce(self, node: n.Coalesce) -> bool:
        return all(self.visit(o) for o in node.operands)

    def visit_Case(self, node: n.Case) -> bool:
        for condition, result in node.whens:
            if self.visit(result):
                return True
            if condition == n.Literal(True):  # always taken: the default is unreachable
                return False
        return self.visit(node.default)

    def visit_Lookup(self, node: n.Lookup) -> bool:
        return any(result is None for _, result in node.entries) or self.visit(node.default)

    def visit_Elapsed(self, node: n.Elapsed) -> bool:
        return self.visit(node.start)

    def visit_Add(self, node: n.Add) -> bool:
        return any(self.visit(o) for o in node.operands)

    def visit_Logistic(self, node: n.Logistic) -> bool:
        return self.visit(node.operand)
