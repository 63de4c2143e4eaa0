"""IR to IR rewrites, run once on a program's bindings before any engine compiles them.

Lowering writes what a policy means; these passes make it cheaper to evaluate without
changing a single value, so no engine has to recognise a pattern itself:

- ``fold``: constant folding of ``And``/``Or``/``Not``/``IsNull``/``Compare`` over literals
  and of CASE conditions known TRUE or FALSE (SQL's three-valued logic kept: ``x AND FALSE``
  is FALSE even for a NULL ``x``, ``x AND TRUE`` is ``x``), and ``Coalesce`` cut after its
  first operand that is never NULL (a gate on a field the contract requires needs no
  default for a missing value: the node's nullability, known at construction, says so);
- ``lookups``: a CASE testing one operand for equality or membership against constants and
  yielding constants becomes a ``Lookup`` (one dict lookup in the row engine, a hash join or a
  CASE in the batch engines).

The reference oracle (``tests/engines/reference.py``) interprets the program *before* these
passes, so the parity suite checks them.
"""

from __future__ import annotations

from collections.abc import Callable

from creditgate.policy import nodes as n

LOOKUP_MIN_WHENS = 2  # a one-WHEN CASE is a single test: no table pays for itself...
LOOKUP_MIN_KEYS = 16  # ...unless it has this many string keys (``joinable``)


def transform(expr: n.Expr, rewrite: Callable[[n.Expr], n.Expr]) -> n.Expr:
    """``expr`` rebuilt bottom-up, ``rewrite`` applied to each node after its children."""
    children = expr.children()
    if children:
        new = tuple(transform(c, rewrite) for c in children)
        if any(a is not b for a, b in zip(new, children, strict=True)):
            expr = expr.with_children(new)
    return rewrite(expr)


def optimize(expr: n.Expr) -> n.Expr:
    """Every pass, in order: fold constants, then turn CASE tables into lookups."""
    return transform(transform(expr, fold), as_lookup)


# --------------------------------------------------------------------------- constant folding

TRUE, FALSE, NULL = n.Literal(True), n.Literal(False), n.Literal(None)


def _truth(expr: n.Expr) -> bool | str | None:
    """A boolean literal's value, None for a NULL literal, ``"?"`` for anything else."""
    if isinstance(expr, n.Literal) and (expr.value is None or type(expr.value) is bool):
        return expr.value
    return "?"


def fold(expr: n.Expr) -> n.Expr:
    """One node folded, its children already folded (see ``transform``)."""
    if isinstance(expr, n.Not):
        value = _truth(expr.operand)
        return expr if value == "?" else n.Literal(None if value is None else not value)
    if isinstance(expr, n.IsNull) and isinstance(expr.operand, n.Literal):
        return n.Literal(expr.operand.value is None)
    if isinstance(expr, n.And | n.Or):
        return _fold_logic(expr)
    if isinstance(expr, n.Compare):
        left, right = expr.left, expr.right
        if isinstance(left, n.Literal) and isinstance(right, n.Literal):
            if left.value is None or right.value is None:
                return NULL
            if left.type is right.type:  # 1 < 1.5 is left to the engines' number rules
                return n.Literal(bool(n.COMPARE[expr.op](left.value, right.value)))
        return expr
    if isinstance(expr, n.Case):
        return _fold_case(expr)
    if isinstance(expr, n.Coalesce):
        return _fold_coalesce(expr)
    return expr


def _fold_coalesce(expr: n.Coalesce) -> n.Expr:
    """The operands after the first that is never NULL are never reached: they drop out, and
    a ``Coalesce`` left with one operand is that operand. Only when the type stays: the
    engines type a ``Coalesce`` by all its operands (an integer field with a float default is
    a float)."""
    kept: list[n.Expr] = []
    for operand in expr.operands:
        kept.append(operand)
        if not operand.nullable:
            break
    if len(kept) == len(expr.operands):
        return expr
    folded = kept[0] if len(kept) == 1 else n.Coalesce(tuple(kept))
    return folded if folded.type is expr.type else expr


def _fold_logic(expr: n.And | n.Or) -> n.Expr:
    """``AND``: a FALSE operand decides, TRUE ones drop out (``OR`` the other way round).
    NULL literals stay: they make the result NULL rather than the identity."""
    absorbing = isinstance(expr, n.Or)  # TRUE absorbs an OR, FALSE an AND
    kept: list[n.Expr] = []
    for operand in expr.operands:
        value = _truth(operand)
        if value is absorbing:
            return n.Literal(absorbing)
        if value is not (not absorbing):
            kept.append(operand)
    if not kept:
        return n.Literal(not absorbing)
    if len(kept) == 1 and _truth(kept[0]) == "?":
        return kept[0]
    return expr if len(kept) == len(expr.operands) else type(expr)(tuple(kept))


def _fold_case(expr: n.Case) -> n.Expr:
    """WHENs that can never be taken (FALSE, NULL) drop out; a TRUE one becomes the default.

    Only when every dropped result is a literal of a type a kept result has (or NULL): the
    batch engines type a CASE by all its branches, so dropping the only float branch of an
    integer CASE would change the column's type."""
    whens: list[tuple[n.Expr, n.Expr]] = []
    dropped: list[n.Expr] = []
    default = expr.default
    for i, (condition, result) in enumerate(expr.whens):
        value = _truth(condition)
        if value is True:
            dropped += [r for _, r in expr.whens[i + 1 :]] + [expr.default]
            default = result
            break
        if value == "?":
            whens.append((condition, result))
        else:
            dropped.append(result)
    if not dropped:
        return expr
    kept = [r for _, r in whens] + [default]
    kinds = {r.type for r in kept if isinstance(r, n.Literal)}
    for r in dropped:
        if not isinstance(r, n.Literal) or r.type not in {*kinds, n.Type.NULL}:
            return expr
    return n.Case(tuple(whens), default) if whens else default


# --------------------------------------------------------------------------- lookups


Entries = tuple[tuple[tuple[n.Value, ...], n.Value], ...]  # (keys, result), first match wins


def case_as_table(node: n.Case) -> tuple[n.Expr, Entries] | None:
    """``(operand, ((keys, result), ...))`` when every WHEN of ``node`` tests one operand for
    equality or membership and yields a literal; None otherwise."""
    entries: list[tuple[tuple[n.Value, ...], n.Value]] = []
    subject: n.Expr | None = None
    for condition, result in node.whens:
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
        entries.append((keys, result.value))
    return None if subject is None else (subject, tuple(entries))


def joinable(entries: Entries) -> bool:
    """Many string keys yielding strings: a table the batch engines join rather than test."""
    keys = [k for ks, _ in entries for k in ks]
    return len(keys) >= LOOKUP_MIN_KEYS and all(
        isinstance(v, str) for v in (*keys, *(r for _, r in entries))
    )


def as_lookup(expr: n.Expr) -> n.Expr:
    """A CASE on one operand's constants as a ``Lookup`` (two WHENs or many keys at least).

    Same SQL meaning: the first matching WHEN wins and NULL matches nothing, so it falls to
    the default."""
    if not isinstance(expr, n.Case):
        return expr
    found = case_as_table(expr)
    if found is None:
        return expr
    subject, entries = found
    if len(entries) < LOOKUP_MIN_WHENS and not joinable(entries):
        return expr
    return n.Lookup(subject, entries, expr.default)
