"""The decision contract as columns: one Ibis table expression per input table.

Columns (``decision.DECISION_COLUMNS``, the one list): ``user_id, outcome, entry_visible,
score, pd, limit_cny, daily_rate, apr, reason_codes, entry, retained, limit_reduced, withdrawn,
invited_since`` (daily rate and APR
as decimal strings, reason codes in ``Decider`` order; then the decision's ``entry``,
``retained``, notices ``LIMIT_REDUCED`` / ``INVITATION_WITHDRAWN`` (whom to notify) and when
the invitation began, which the next refresh reads back from the snapshot).

Reason lists are built once per distinct reason *signature* (``engines.signature``: every
slot's key packed into one integer) and joined back, instead of sorted in every row.

A batch run computes the program in two parts (``split``): the *early* bindings, which a
snapshot's capacity cutoffs do not change, are computed once into a staged table; the ranking
that derives the cutoffs reads that table, and the *late* bindings (the cut, the final outcome,
the offer and the capacity reasons) are computed from it with the cutoffs known.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date

import ibis.expr.types as ir

from creditgate.decision import DECISION_COLUMNS
from creditgate.decision import OUTPUT_COLUMNS as OUTPUT_COLUMNS  # the list lives there
from creditgate.engines.ibis import IbisCompiler, reason_lists
from creditgate.engines.signature import SlotCodes, slot_codes
from creditgate.policy.bindings import Fixed
from creditgate.policy.lower import Program, refs
from creditgate.policy.nodes import Policy

SIGNATURE = "_sig"  # the reason signature column (early slots only, in a staged table)
CUT_ROOT = Fixed.CAPACITY_CUTOFF.column  # the one binding that reads a snapshot's cutoffs


def _outputs(cols: Mapping[str, ir.Value]) -> dict[str, ir.Value]:
    """The contract's typed columns except ``user_id`` and ``reason_codes`` (the ``NOTIFIED``
    ones too: ``decision_columns`` and ``decisions_of`` put them after ``reason_codes``)."""
    out: dict[str, ir.Value] = {}
    for c in DECISION_COLUMNS:
        if c.name == "entry_visible":
            out[c.name] = cols[Fixed.ENTRY.column] != "hidden"
        elif c.binding is not None:
            value = cols[c.binding.column]
            out[c.name] = value if c.cast is None else value.cast(c.cast)
    return out


def with_reasons(rows: ir.Table, lists: ir.Table) -> ir.Table:
    """``rows`` (with a ``_sig`` column) joined to ``lists`` (``_sig``, ``reason_codes``: the
    ``engines.ibis.reason_lists`` of signatures covering those of ``rows``)."""
    lists = lists.select(_sig_key=lists[SIGNATURE], reason_codes=lists["reason_codes"])
    joined = rows.left_join(lists, rows[SIGNATURE] == lists["_sig_key"])
    return joined.drop(SIGNATURE, "_sig_key")


def decision_columns(
    program: Program, table: ir.Table, as_of: date, extra: tuple[str, ...] = ()
) -> ir.Table:
    """``table`` (validated profile columns) -> the contract's columns plus ``extra`` bindings.

    One expression (for Hive tables and the parity suite): the reason lists are built from the
    distinct signatures of the same rows, which the database evaluates as a second reader of
    the decided rows.
    """
    compiler = IbisCompiler(program, table, as_of)
    cols = compiler.compile()
    codes = slot_codes(program)
    base = {"user_id": compiler.table["user_id"], **_outputs(cols)}
    ext = {name: cols[name] for name in extra}
    if codes is None:
        out = compiler.table.select(**base, reason_codes=compiler.reason_codes(), **ext)
    else:
        sig = compiler.reason_signature(codes, range(len(program.reasons)))
        rows = compiler.table.select(**base, **ext, **{SIGNATURE: sig})
        lists = reason_lists(program, codes, rows.select(SIGNATURE).distinct(), SIGNATURE)
        out = with_reasons(rows, lists)
    return out.select(*OUTPUT_COLUMNS, *ext)


@dataclass(frozen=True)
class Split:
    """A program cut into the bindings a snapshot's cutoffs do not change (``early``) and
    those they do (``late``), plus the early ones the late ones or the outputs read."""

    program: Program
    early: frozenset[str]
    staged: tuple[str, ...]  # early bindings kept as columns of the staged table
    codes: SlotCodes | None

    @property
    def early_slots(self) -> list[int]:
        return [i for i, s in enumerate(self.program.reasons) if s.binding in self.early]

    @property
    def late_slots(self) -> list[int]:
        return [i for i, s in enumerate(self.program.reasons) if s.binding not in self.early]

    def column(self, name: str) -> str:
        """The staged table's column for early binding ``name``."""
        return f"_s{self.program.index(name)}"

    def cut_at(self, policy: Policy) -> Split:
        """This split under ``policy``'s capacity cutoffs (``Program.cut_at``): only the late
        root changes, so the early bindings, the staged columns and the codes stay valid."""
        return replace(self, program=self.program.cut_at(policy))

    def part(self, keep: Callable[[str], bool]) -> Program:
        """The program with only the bindings whose names ``keep`` accepts."""
        bindings = tuple(b for b in self.program.bindings if keep(b.name))
        return replace(self.program, bindings=bindings)


def split(program: Program, outputs: tuple[str, ...]) -> Split:
    """Cut ``program`` (lowered with capacity cutoffs, any values) at ``cutoff.capacity``."""
    late: set[str] = set()
    for b in program.bindings:
        if b.name == CUT_ROOT or refs(b.expr) & late:
            late.add(b.name)
    early = frozenset(b.name for b in program.bindings if b.name not in late)
    codes = slot_codes(program)
    needed = set(outputs) & early
    for b in program.bindings:
        if b.name in late:
            needed |= refs(b.expr) & early
    if codes is None:  # the per-row list reads every slot key
        needed |= {s.binding for s in program.reasons} & early
    staged = tuple(b.name for b in program.bindings if b.name in needed)
    return Split(program, early, staged, codes)


def staged_columns(sp: Split, table: ir.Table, as_of: date, keep: Mapping[str, str]) -> ir.Table:
    """One pass of ``table`` (profile columns): ``keep`` (output name -> input column), the
    staged early bindings and, with codes, the early slots' signature."""
    compiler = IbisCompiler(sp.part(sp.early.__contains__), table, as_of)
    cols = compiler.compile()
    t = compiler.table
    out: dict[str, ir.Value] = {name: t[column] for name, column in keep.items()}
    out |= {sp.column(name): cols[name] for name in sp.staged}
    if sp.codes is not None:
        out[SIGNATURE] = compiler.reason_signature(sp.codes, sp.early_slots)
    return t.select(**out)


def final_columns(
    sp: Split,
    staged: ir.Table,
    as_of: date,
    extra: tuple[str, ...] = (),
    keep: tuple[str, ...] = (),
) -> ir.Table:
    """The contract's columns from a staged table (``staged_columns`` of ``sp``'s early part),
    cut at ``sp.program``'s cutoffs, plus the ``extra`` bindings and the staged ``keep``
    columns. With codes, ``reason_codes`` is not there yet: ``_sig`` (every slot's signature)
    is, for ``with_reasons`` with the distinct signatures."""
    given = {name: sp.column(name) for name in sp.staged}
    late = sp.part(lambda name: name in given or name not in sp.early)
    compiler = IbisCompiler(late, staged, as_of, given)
    cols = compiler.compile()
    t = compiler.table
    base = {"user_id": t["user_id"], **_outputs(cols)}
    ext = {name: cols[name] for name in extra} | {column: t[column] for column in keep}
    if sp.codes is None:
        return t.select(**base, reason_codes=compiler.reason_codes(), **ext)
    sig = t[SIGNATURE] + compiler.reason_signature(sp.codes, sp.late_slots)
    return t.select(**base, **ext, **{SIGNATURE: sig})
