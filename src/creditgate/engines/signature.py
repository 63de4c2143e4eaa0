"""Reason signatures: every row's reason keys packed into one integer, exactly.

A reason slot's key (``policy.reason_order``) is NULL or one of a few integers that the program
can name statically: a CASE of rank constants, plus a factor's rank for the score factors.
``slot_codes`` finds each slot's possible keys by reading the program, so each slot's key is a
small code (0: NULL, 1 + its position among the possible keys), and all codes together are one
mixed-radix integer, the *signature*. Rows with the same signature have the same reason list,
and a population has a few thousand signatures at most: an engine builds each list once, per
distinct signature, instead of sorting an array in every row. Decoding is exact (no hashing);
a program whose keys cannot be enumerated, or whose signatures would not fit in 62 bits, gets
no codes and the engines keep the per-row list.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from creditgate.policy import nodes as n
from creditgate.policy.lower import Program

MAX_VALUES = 256  # possible keys of one slot beyond which a slot is not worth enumerating
MAX_SIGNATURE = 1 << 62


@dataclass(frozen=True)
class SlotCodes:
    """Per reason slot (program order): its possible non-NULL keys, ascending, and its radix."""

    values: tuple[tuple[int, ...], ...]
    radix: tuple[int, ...]

    def code_of(self, slot: int, key: int | None) -> int:
        return 0 if key is None else 1 + self.values[slot].index(key)

    def keys(self, signature: int) -> list[int | None]:
        """The slots' keys (NULL: not fired) packed in ``signature``."""
        out: list[int | None] = []
        for values in self.values:
            signature, code = divmod(signature, len(values) + 1)
            out.append(None if code == 0 else values[code - 1])
        return out

    def pack(self, keys: list[int | None]) -> int:
        return sum(
            r * self.code_of(i, k) for i, (r, k) in enumerate(zip(self.radix, keys, strict=True))
        )


def possible_values(
    program: Program, expr: n.Expr, memo: dict[str, frozenset[n.Value] | None]
) -> frozenset[n.Value] | None:
    """The non-NULL constants ``expr`` can take, or None when they cannot be enumerated
    (anything but literals, CASE/COALESCE over them and sums of them)."""
    if isinstance(expr, n.Literal):
        return frozenset() if expr.value is None else frozenset((expr.value,))
    if isinstance(expr, n.Ref):
        if expr.name not in memo:
            memo[expr.name] = None  # a cycle cannot happen; be safe anyway
            memo[expr.name] = possible_values(program, binding_expr(program, expr.name), memo)
        return memo[expr.name]
    if isinstance(expr, n.Case | n.Coalesce):
        parts = (
            [r for _, r in expr.whens] + [expr.default]
            if isinstance(expr, n.Case)
            else list(expr.operands)
        )
        found: set[n.Value] = set()
        for part in parts:
            values = possible_values(program, part, memo)
            if values is None:
                return None
            found |= values
        return frozenset(found) if len(found) <= MAX_VALUES else None
    if isinstance(expr, n.Add):
        sums: frozenset[int] = frozenset((0,))
        for operand in expr.operands:
            values = possible_values(program, operand, memo)
            if values is None or not all(is_int(v) for v in values):
                return None
            ints = [v for v in values if isinstance(v, int)]
            sums = frozenset(a + b for a, b in itertools.product(sums, ints))
            if len(sums) > MAX_VALUES:
                return None
        return frozenset(sums)
    return None


def is_int(value: n.Value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def binding_expr(program: Program, name: str) -> n.Expr:
    return program.bindings[program.index(name)].expr


def slot_codes(program: Program) -> SlotCodes | None:
    """The codes of ``program``'s reason slots, or None (module docstring says when)."""
    memo: dict[str, frozenset[n.Value] | None] = {}
    values: list[tuple[int, ...]] = []
    radix: list[int] = []
    size = 1
    for slot in program.reasons:
        found = possible_values(program, binding_expr(program, slot.binding), memo)
        if found is None or not all(is_int(v) for v in found):
            return None
        values.append(tuple(sorted(v for v in found if isinstance(v, int))))
        radix.append(size)
        size *= len(found) + 1
        if size > MAX_SIGNATURE:
            return None
    return SlotCodes(tuple(values), tuple(radix))


def reason_list(program: Program, codes: SlotCodes, signature: int) -> list[str]:
    """The reason codes of a signature, in the order ``explain.reasons`` sorts them."""
    keys = codes.keys(signature)
    fired = sorted((k, i) for i, k in enumerate(keys) if k is not None)
    return [program.reasons[i].code for _, i in fired]
