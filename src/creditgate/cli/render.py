"""Human-readable decisions for the terminal (Rich): what the demo and ``--pretty`` print."""

from __future__ import annotations

from rich.console import Group
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from creditgate.decision import Decision, ProductOffer
from creditgate.policy.nodes import Outcome

_STYLE: dict[str, str] = {
    Outcome.INVITED: "green",
    Outcome.NOT_INVITED: "red",
    Outcome.MANUAL_REVIEW: "yellow",
    Outcome.REFERRED: "cyan",
}


def plain_table(*columns: str) -> Table:
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for column in columns:
        table.add_column(column)
    return table


def decision_panel(title: str, d: Decision, lang: str = "zh-CN") -> Panel:
    head = Text.assemble(
        (d.outcome, f"bold {_STYLE.get(d.outcome, 'white')}"),
        f"   score {d.score if d.score is not None else '-'}",
        f"   pd {d.pd if d.pd is not None else '-'}",
    )
    if d.limit_cny is not None:
        head.append(
            f"   limit {d.limit_cny:,} yuan   APR {float(d.apr or 0):.2%}"
            f"   terms {'/'.join(map(str, d.terms))}"
        )
    parts: list[Text | Table] = [head]
    if d.reasons:
        reasons = plain_table("reason", "observed", "required", "message")
        for r in d.reasons:
            code = f"[bold]{r.code}[/]" if r.principal else r.code
            reasons.add_row(
                code, escape(str(r.observed)), escape(r.required or ""), escape(r.message[lang])
            )
        parts.append(reasons)
    if d.recourse:
        steps = plain_table("what to do", "field", "to", "when")
        for s in d.recourse:
            # a date only where time alone clears the rule: a change (raising a pay score)
            # takes however long it takes, so it gets no "now"
            when = s.eta.isoformat() if s.eta else "-"
            steps.add_row(
                escape(s.message[lang]), s.field, "" if s.to is None else escape(str(s.to)), when
            )
        parts.append(steps)
    if d.offers:
        parts.append(products_table(d.offers, lang))
    if d.alternatives:
        parts.append(
            Text(
                "alternatives: " + " | ".join(a.message[lang] for a in d.alternatives), style="dim"
            )
        )
    return Panel(Group(*parts), title=f"{title} ({d.user_id})", title_align="left")


def products_table(offers: tuple[ProductOffer, ...], lang: str) -> Table:
    """One row per product of the policy's family: its line and price (instalment plans with
    the fee per period and the IRR APR, a joint loan's yuan by lender), or why not."""
    table = plain_table("product", "status", "line (yuan)", "price, funding or reasons")
    for o in offers:
        if o.plans:
            terms = ", ".join(
                f"{p.periods}x fee {float(p.fee_per_period):.2%} APR {float(p.apr):.2%}"
                for p in o.plans
            )
        elif o.funding:
            terms = f"APR {float(o.apr or 0):.2%}; " + " + ".join(
                f"{f.name[lang]} {f.amount_cny:,}" for f in o.funding
            )
        elif o.apr is not None:
            terms = f"APR {float(o.apr):.2%}"
        else:
            steps = f"; {len(o.recourse)} step(s) would open it" if o.recourse else ""
            terms = ", ".join(r.code for r in o.reasons) + steps
        line = "-" if o.limit_cny is None else f"{o.limit_cny:,}"
        table.add_row(escape(o.name[lang]), o.status, line, escape(terms))
    return table
