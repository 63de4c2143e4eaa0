"""The staged pass: one scan of the input computing the early bindings of one or more
policies, shared by ``batch`` (one policy) and the strategy lab (several).

The policies' early programs (``decisions.split``) are merged (``engines.merge``): a binding
several policies share is computed once. Each policy reads the staged table through a *view*
that names the columns as a one-policy run does (``user_id``, ``city``, ``_cg_bad``, the
staged bindings ``_s<i>``, the early signature ``_sig``, the funnel's ``_fmask`` and
``_ffirst``, and ``_outcome`` when an outcome column is carried), so everything after the
staged pass (duplicates, ranking, cutoffs, the late bindings) is the same code for both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import ibis
import ibis.expr.types as ir

from creditgate.batch.backends import Backend
from creditgate.batch.decisions import SIGNATURE, Split, split
from creditgate.batch.validate import BAD_COLUMN, CityRules, profiles
from creditgate.batch.whitelist import apply_cutoffs
from creditgate.engines.ibis import IbisCompiler, column_strings, packed_signature
from creditgate.engines.merge import merge, renamed
from creditgate.lab.funnel import FIRST, MASK, FunnelStep, funnel_steps, mask_and_first
from creditgate.policy.bindings import Fixed
from creditgate.policy.lower import lower
from creditgate.policy.nodes import Policy, RegionStatus
from creditgate.population.regions import RegionTable
from creditgate.schema import PROFILE_FIELDS

# Early bindings the staged table keeps besides what the late bindings read (outputs that do
# not depend on a snapshot's cut, e.g. ``retained`` under a policy without stability rules,
# are early and staged; those that do are late and computed after the cut).
STAGED = (
    *(k.column for k in (Fixed.POLICY_OUTCOME, Fixed.OUTCOME, Fixed.SCORE, Fixed.PD)),
    "region_class",  # a derived field
    *(
        k.column
        for k in (
            Fixed.SEGMENT,
            Fixed.ENTRY,
            Fixed.RETAINED,
            Fixed.LIMIT_REDUCED,
            Fixed.WITHDRAWN,
            Fixed.INVITED_SINCE,
            Fixed.STABLE_HELD,  # the ranking's held invitations (``batch.run.rank_score``)
            Fixed.STABLE_RECENT,
        )
    ),
)
OUTCOME = "_outcome"  # the carried outcome column (e.g. ``defaulted``), as read


@dataclass(frozen=True)
class StagedPolicy:
    """One policy's part of a staged pass: its program's shape under placeholder cutoffs,
    its funnel steps and its view of the staged table (module docstring)."""

    policy: Policy
    shape: Split
    steps: tuple[FunnelStep, ...]
    view: ir.Table


def outcome_flag(column: ir.Value) -> ir.IntegerValue:
    """An observed outcome as 1 (bad), 0 (good) or NULL: a boolean, an integer 0/1, or the
    text ``true``/``false``/``1``/``0`` (a file written as text); anything else is NULL."""
    kind = column.type()
    if kind.is_boolean():
        return column.cast("int64")
    if kind.is_integer():
        return ibis.cases((column == 1, 1), (column == 0, 0), else_=ibis.null("int64"))
    text = column.cast("string").strip().lower()
    return ibis.cases(
        (text.isin(["true", "1"]), 1), (text.isin(["false", "0"]), 0), else_=ibis.null("int64")
    ).cast("int64")


def placeholder_cutoffs(policy: Policy) -> dict[str, int]:
    """Capacity cutoffs for every class a run can derive one for: the program's shape."""
    return {r.region_class: 0 for r in policy.regions if r.status is not RegionStatus.CLOSED}


def shape_of(policy: Policy, regions: RegionTable) -> Split:
    """The program's shape with capacity cutoffs (their values only matter to late bindings)."""
    return split(lower(apply_cutoffs(policy, placeholder_cutoffs(policy)), regions), STAGED)


def stage_policies(
    backend: Backend,
    checked_table: ir.Table,
    policies: Sequence[Policy],
    regions: RegionTable,
    as_of: date,
    raw_cities: Sequence[str | None],
    cities: CityRules,
    outcome_column: str | None = None,
) -> tuple[ir.Table, list[StagedPolicy]]:
    """Stage every policy's early bindings in one pass of ``checked_table``
    (``validate.checked``); returns the staged table (``Backend.release`` it) and the views."""
    shapes = [shape_of(p, regions) for p in policies]
    merged = merge([sp.part(sp.early.__contains__) for sp in shapes])
    table = profiles(checked_table)
    if outcome_column is not None:  # carried as read (the contract does not check it)
        carried = {OUTCOME: outcome_flag(checked_table[outcome_column])}
        table = checked_table.select(
            **{
                **{c: checked_table[f"_v_{c}"] for c in PROFILE_FIELDS},
                BAD_COLUMN: checked_table[BAD_COLUMN],
                **carried,
            }
        )
    compiler = IbisCompiler(merged.program, table, as_of)
    cols = compiler.compile()
    t = compiler.table
    common = ["user_id", "city", BAD_COLUMN] + ([OUTCOME] if outcome_column else [])
    out: dict[str, ir.Value] = {c: t[c] for c in common}
    by_key: dict[str, str] = {}  # an expression's repr -> its staged column
    enums: dict[str, tuple[str, ...]] = {}

    def column(key: str, value: ir.Value) -> str:
        if key not in by_key:
            by_key[key] = f"_m{len(by_key)}"
            out[by_key[key]] = value
        return by_key[key]

    views: list[tuple[Split, tuple[FunnelStep, ...], dict[str, str]]] = []
    for sp, names in zip(shapes, merged.names, strict=True):
        view = {c: c for c in common}
        for name in sp.staged:
            view[sp.column(name)] = column(f"b:{names[name]}", cols[names[name]])
            if (values := column_strings(sp.program, name, cols[names[name]])) is not None:
                enums[view[sp.column(name)]] = values
        if sp.codes is not None:
            slots = sp.early_slots
            renamed_cols = {
                sp.program.reasons[i].binding: cols[names[sp.program.reasons[i].binding]]
                for i in slots
            }
            key = repr(("sig", [names[sp.program.reasons[i].binding] for i in slots], sp.codes))
            sig = packed_signature(sp.program, sp.codes, renamed_cols, slots)
            view[SIGNATURE] = column(key, sig)
        steps = funnel_steps(sp.program)
        early = {i: renamed(s.condition, names) for i, s in enumerate(steps) if not s.late}
        mask, first = mask_and_first(steps, {i: compiler.visit(c) for i, c in early.items()})
        key = repr(("funnel", sorted(early.items(), key=lambda kv: kv[0])))
        view[MASK] = column(key + ":mask", mask)
        view[FIRST] = column(key + ":first", first)
        views.append((sp, steps, view))
    enums["city"] = tuple(sorted({cities.canonical.get(c, c) for c in raw_cities if c is not None}))
    staged = backend.stage(t.select(**out), enums)
    result = [
        StagedPolicy(
            policy, sp, steps, staged.select(**{name: staged[c] for name, c in view.items()})
        )
        for policy, (sp, steps, view) in zip(policies, views, strict=True)
    ]
    return staged, result
