"""The decision contract as columns: one Ibis table expression per input table.

Columns: ``user_id, outcome, entry_visible, score, pd, limit_cny, daily_rate, apr,
reason_codes`` (daily rate and APR as decimal strings, reason codes in ``Decider`` order).
"""

from __future__ import annotations

from datetime import date

import ibis.expr.types as ir

from creditgate.engines.ibis import IbisCompiler
from creditgate.policy.lower import Program

OUTPUT_COLUMNS = (
    "user_id",
    "outcome",
    "entry_visible",
    "score",
    "pd",
    "limit_cny",
    "daily_rate",
    "apr",
    "reason_codes",
)


def decision_columns(
    program: Program, table: ir.Table, as_of: date, extra: tuple[str, ...] = ()
) -> ir.Table:
    """``table`` (validated profile columns) -> the contract's columns plus ``extra`` bindings."""
    compiler = IbisCompiler(program, table, as_of)
    cols = compiler.compile()
    return compiler.table.select(
        user_id=compiler.table["user_id"],
        outcome=cols["outcome"],
        entry_visible=cols["outcome"] == "invited",
        score=cols["score"].cast("int64"),
        pd=cols["pd"].cast("float64"),
        limit_cny=cols["limit_cny"].cast("int64"),
        daily_rate=cols["daily_rate"].cast("string"),
        apr=cols["apr"].cast("string"),
        reason_codes=compiler.reason_codes(),
        **{name: cols[name] for name in extra},
    )
