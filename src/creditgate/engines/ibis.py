"""The batch engine: a lowered program compiled to one Ibis expression (DuckDB, Spark, ...).

Same program, same ``visit_<Node>`` per node class as the row engine; each binding becomes a
column expression that later ``Ref``s reuse. SQL's own NULL logic is the semantics the row
engine spells out by hand, so no NULL checks are emitted here. Calendar arithmetic is the
``timeutil`` formula with the evaluation date folded in as constants.

Decimal choices (the daily rate and APR pick one of the policy's decimal constants) compile to
the constants' text, so every backend prints ``str(Decimal)`` exactly, whatever scale its
decimal type would unify a CASE to.
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any

import ibis
import ibis.expr.types as ir

from creditgate.engines.base import Compiler
from creditgate.engines.signature import SlotCodes, binding_expr, possible_values
from creditgate.policy import nodes as n
from creditgate.policy.lower import Program, refs
from creditgate.policy.passes import LOOKUP_MIN_KEYS
from creditgate.schema import OPTIONAL_FIELDS, PROFILE_FIELDS
from creditgate.timeutil import Unit

SLOT_BASE = 100  # reason keys are multiplied by this and carry the slot index below it
LOOKUP_MIN = LOOKUP_MIN_KEYS  # string keys before a lookup becomes a hash join


def literal(value: Any) -> ir.Value:
    """A typed literal: ints are int64 so sums never overflow a narrow inferred type."""
    if value is None:
        return ibis.null()
    if isinstance(value, bool):
        return ibis.literal(value, type="boolean")
    if isinstance(value, int):
        return ibis.literal(value, type="int64")
    if isinstance(value, float):
        return ibis.literal(value, type="float64")
    return ibis.literal(value)


def is_decimal_choice(node: n.Expr) -> bool:
    """A CASE whose every result is a decimal constant (or NULL, or another such CASE)."""
    if isinstance(node, n.Literal):
        return isinstance(node.value, Decimal)
    if isinstance(node, n.Case | n.Lookup):
        if isinstance(node, n.Case):
            results = [r for _, r in node.whens] + [node.default]
        else:
            results = [n.Literal(v) for _, v in node.entries] + [node.default]
        leaves = [r for r in results if not (isinstance(r, n.Literal) and r.value is None)]
        return bool(leaves) and all(is_decimal_choice(r) for r in leaves)
    return False


def column_strings(program: Program, name: str, column: ir.Value) -> tuple[str, ...] | None:
    """The strings ``column`` (binding ``name`` as this engine compiled it) can hold, sorted,
    when it holds nothing else: the binding's string constants, or a decimal choice's
    constants as the text it compiles to (module docstring). None for a column that is not
    text, or a binding whose values cannot be listed."""
    if not column.type().is_string():
        return None
    found = possible_values(program, binding_expr(program, name), {})
    if found and any(all(isinstance(v, kind) for v in found) for kind in (Decimal, str)):
        return tuple(sorted(str(v) for v in found))
    return None


def is_indicator(node: n.Case) -> bool:
    """``CASE WHEN c THEN 1 ELSE 0 END`` (a NULL ``c`` gives 0, as FALSE does)."""
    if len(node.whens) != 1:
        return False
    result, default = node.whens[0][1], node.default
    return (
        isinstance(result, n.Literal)
        and isinstance(default, n.Literal)
        and type(result.value) is int
        and type(default.value) is int
        and (result.value, default.value) == (1, 0)
    )


_OPTIONAL_TYPES = {bool: "boolean", int: "int64", date: "date", str: "string"}


def with_optional_fields(table: ir.Table) -> ir.Table:
    """``table`` with a typed NULL column for each optional profile field it leaves out
    (``schema.OPTIONAL_FIELDS``: facts the platform may not keep), as the row engine reads
    a missing key as None."""
    missing = {
        name: ibis.null(_OPTIONAL_TYPES[PROFILE_FIELDS[name].type])
        for name in OPTIONAL_FIELDS
        if name not in table.columns
    }
    return table.mutate(**missing) if missing else table


class IbisCompiler(Compiler[ir.Value]):
    """Compiles expressions over ``table`` (profile columns, contract types) at ``as_of``."""

    def __init__(
        self,
        program: Program,
        table: ir.Table,
        as_of: date,
        given: Mapping[str, str] | None = None,
    ) -> None:
        """``given``: bindings already computed, as columns of ``table`` (binding -> column)."""
        self.program, self.table, self.as_of = program, with_optional_fields(table), as_of
        self.given = dict(given or {})
        self.columns: dict[str, ir.Value] = {}
        self.as_text = False
        self.lookups: dict[n.Lookup, str] = {}  # lookup -> column joined from its table

    def compile(self) -> dict[str, ir.Value]:
        """Every binding's column expression, by binding name.

        Bindings are projected level by level (a binding's level is one more than the
        deepest binding it reads), so a ``Ref`` is a column of the previous projection
        rather than a copy of its whole expression: the SQL stays linear in the program.
        """
        levels: dict[str, int] = {name: 0 for name in self.given}
        staged: dict[int, list[tuple[int, n.Expr]]] = {}
        for i, binding in enumerate(self.program.prepared.bindings):
            if binding.name in self.given:
                continue
            level = 1 + max((levels[r] for r in refs(binding.expr)), default=0)
            levels[binding.name] = level
            staged.setdefault(level, []).append((i, binding.expr))
        names = self.program.names
        self.columns = {name: self.table[column] for name, column in self.given.items()}
        for level in sorted(staged):
            for _, expr in staged[level]:
                self.join_lookups(expr)
            new: dict[str, ir.Value] = {}
            for i, expr in staged[level]:
                self.as_text = is_decimal_choice(expr)
                new[f"_b{i}"] = self.visit(expr)
            self.as_text = False
            self.table = self.table.mutate(**new)
            for column in new:
                self.columns[names[int(column[2:])]] = self.table[column]
        self.columns = {
            name: self.table[self.given.get(name, f"_b{i}")] for i, name in enumerate(names)
        }
        return self.columns

    def reason_codes(self) -> ir.ArrayValue:
        """The fired reasons' codes in key order: the same slots ``explain.reasons`` sorts."""
        return sorted_codes(self.program, [self.columns[s.binding] for s in self.program.reasons])

    def reason_signature(self, codes: SlotCodes, slots: Iterable[int]) -> ir.IntegerValue:
        """The packed codes (``engines.signature``) of the reason ``slots``' keys."""
        return packed_signature(self.program, codes, self.columns, slots)

    # -- visitors
    def visit_Field(self, node: n.Field) -> ir.Value:
        return self.table[node.name]

    def visit_Ref(self, node: n.Ref) -> ir.Value:
        return self.columns[node.name]

    def visit_AsOf(self, node: n.AsOf) -> ir.Value:
        return ibis.literal(self.as_of, type="date")

    def visit_Literal(self, node: n.Literal) -> ir.Value:
        if self.as_text and isinstance(node.value, Decimal):
            return ibis.literal(str(node.value), type="string")
        if self.as_text and node.value is None:
            return ibis.null("string")
        return literal(node.value)

    def visit_Compare(self, node: n.Compare) -> ir.Value:
        result: ir.Value = n.COMPARE[node.op](self.visit(node.left), self.visit(node.right))
        return result

    def visit_InSet(self, node: n.InSet) -> ir.Value:
        operand = self.visit(node.operand)
        if not node.values:  # x IN () is FALSE, NULL for a NULL x, as the row engine says
            return ibis.ifelse(operand.isnull(), ibis.null("boolean"), literal(False))
        return operand.isin(list(node.values))

    def visit_And(self, node: n.And) -> ir.Value:
        parts = [self.visit(o) for o in node.operands]
        result = parts[0]
        for part in parts[1:]:
            result = result & part
        return result

    def visit_Or(self, node: n.Or) -> ir.Value:
        parts = [self.visit(o) for o in node.operands]
        result = parts[0]
        for part in parts[1:]:
            result = result | part
        return result

    def visit_Not(self, node: n.Not) -> ir.Value:
        return ~self.visit(node.operand)

    def visit_IsNull(self, node: n.IsNull) -> ir.Value:
        return self.visit(node.operand).isnull()

    def visit_Coalesce(self, node: n.Coalesce) -> ir.Value:
        return ibis.coalesce(*(self.visit(o) for o in node.operands))

    def visit_Case(self, node: n.Case) -> ir.Value:
        if is_indicator(node):  # CASE WHEN c THEN 1 ELSE 0: a cast, no branching
            return self.visit(node.whens[0][0]).fill_null(False).cast("int64")
        whens = [(self.visit(c), self.visit(r)) for c, r in node.whens]
        default = self.visit(node.default)
        if not whens:
            return default
        return ibis.cases(*whens, else_=default)

    def literal_of(self, value: n.Value) -> ir.Value:
        return self.visit_Literal(n.Literal(value))

    def visit_Lookup(self, node: n.Lookup) -> ir.Value:
        """A joined lookup column (``join_lookups``) where the table is worth a join, else the
        CASE it was made from: the first matching entry wins, NULL matches nothing."""
        column = self.lookups.get(node)
        default = self.visit(node.default)
        if column is not None:
            return ibis.coalesce(self.table[column], default)
        key = self.visit(node.key)
        whens = [
            (
                key == literal(keys[0]) if len(keys) == 1 else key.isin(list(keys)),
                self.visit_Literal(n.Literal(v)),
            )
            for keys, v in node.entries
            if keys
        ]
        return ibis.cases(*whens, else_=default) if whens else default

    def join_lookups(self, expr: n.Expr) -> None:
        """Left-join a small key/value table for each lookup inside ``expr`` worth it: many
        string keys, all results strings or all integers (short tables stay CASEs, which
        databases evaluate fastest).

        A map literal looked up per row is a linear search of its keys in DuckDB (300 cities:
        the costliest expression of a batch); a hash join against the same pairs costs a
        probe. So does a CASE of ``IN`` lists: a snapshot's city cutoffs (``cutoff.capacity``,
        370 spellings) cost 0.24 CPU-s per million rows as a CASE, 0.09 as joins. A NULL or
        unknown key finds no row, so the default applies, as in the CASE.
        """
        if isinstance(expr, n.Lookup) and expr not in self.lookups:
            table = expr.table
            if (
                len(table) >= LOOKUP_MIN
                and all(isinstance(k, str) for k in table)
                and (
                    all(isinstance(v, str) for v in table.values())
                    or all(isinstance(v, int) and not isinstance(v, bool) for v in table.values())
                )
            ):
                name = f"_lk{len(self.lookups)}"
                pairs = ibis.memtable({f"{name}_key": list(table), name: list(table.values())})
                key = self.visit(expr.key)
                joined = self.table.left_join(pairs, key == pairs[f"{name}_key"])
                self.table = joined.select(*self.table.columns, name)
                self.lookups[expr] = name
                self.columns = {k: self.table[v.get_name()] for k, v in self.columns.items()}
        for child in expr.children():
            self.join_lookups(child)

    def visit_Elapsed(self, node: n.Elapsed) -> ir.Value:
        start = self.visit(node.start)
        end = self.as_of
        if node.unit is Unit.DAYS:
            return literal(end).delta(start, unit="day")
        # timeutil.elapsed_months with the end date folded: one month less when the start's
        # day (clipped to the end month's length) lies after the end's day.
        last_day = calendar.monthrange(end.year, end.month)[1]
        months = literal(end.year * 12 + end.month) - (start.year() * 12 + start.month())
        if last_day > end.day:
            months = months - ibis.ifelse(start.day() > end.day, 1, 0)
        months = months.cast("int64")
        return (months // 12).cast("int64") if node.unit is Unit.YEARS else months

    def visit_Add(self, node: n.Add) -> ir.Value:
        parts = [self.visit(o) for o in node.operands]
        result = parts[0]
        for part in parts[1:]:
            result = result + part
        return result

    def visit_Logistic(self, node: n.Logistic) -> ir.Value:
        x = self.visit(node.operand).cast("float64")
        scale = float(node.scale)
        assert math.isfinite(scale) and scale != 0
        return (1.0 / (1.0 + ((x - node.offset) / scale).exp())).round(6)


def packed_signature(
    program: Program, codes: SlotCodes, columns: Mapping[str, ir.Value], slots: Iterable[int]
) -> ir.IntegerValue:
    """The packed codes (``engines.signature``) of ``program``'s reason ``slots``, their key
    bindings read from ``columns`` (binding name -> column)."""
    total: ir.IntegerValue = literal(0)
    for i in slots:
        key = columns[program.reasons[i].binding]
        radix, values = codes.radix[i], codes.values[i]
        if len(values) == 1:
            part = ibis.ifelse(key.notnull(), literal(radix), literal(0))
        elif values:
            whens = ((key == v, literal((j + 1) * radix)) for j, v in enumerate(values))
            part = ibis.ifelse(key.isnull(), literal(0), ibis.cases(*whens, else_=literal(0)))
        else:
            continue
        total = total + part
    return total


def sorted_codes(program: Program, keys: list[ir.Value]) -> ir.ArrayValue:
    """The codes of the slots whose key (one per slot, NULL: not fired) is set, in key order."""
    slots = program.reasons
    assert len(slots) < SLOT_BASE, "too many reason slots for the key encoding"
    slot_keys = [k.cast("int64") * SLOT_BASE + literal(i) for i, k in enumerate(keys)]
    codes = ibis.literal([s.code for s in slots], type="array<string>")
    fired = ibis.array(slot_keys).filter(lambda k: k.notnull()).sort()
    return fired.map(lambda k: codes[(k % SLOT_BASE).cast("int32")])  # Spark: INT index


def reason_lists(program: Program, codes: SlotCodes, signatures: ir.Table, column: str) -> ir.Table:
    """``signatures`` plus ``reason_codes``: each signature decoded to its keys and sorted.

    Meant for the distinct signatures of a run (a few thousand rows), so the sort runs once per
    reason list, not once per user.
    """
    sig = signatures[column]
    keys: list[ir.Value] = []
    for radix, values in zip(codes.radix, codes.values, strict=True):
        code = (sig // radix) % (len(values) + 1)
        whens = ((code == j + 1, literal(v)) for j, v in enumerate(values))
        keys.append(ibis.cases(*whens, else_=ibis.null("int64")) if values else ibis.null("int64"))
    return signatures.mutate(reason_codes=sorted_codes(program, keys))
