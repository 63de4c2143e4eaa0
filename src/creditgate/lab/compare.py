"""Champion against challenger over one population: who moves, why, and at what risk.

A risk team changing a strategy asks four questions of the *swap set*: who stays in (in/in),
who is swapped out (in/out), who is swapped in (out/in) and who stays out (out/out); for each,
how many, how risky (expected bad rate under each policy's own PD, realised where the
population carries an outcome) and how much money (exposure under each). Users who move carry
their reasons: why the challenger refuses those the champion invited, and why the champion
refused those the challenger invites.

Both policies are decided over the same validated rows (``lab.evaluate``: one scan), so the
two decided tables hold the same users; the join is checked to account for every one of them
in exactly one cell.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from creditgate.batch.backends import Backend
from creditgate.policy.nodes import Outcome

INVITED = Outcome.INVITED.value
CELLS = (("in", "in"), ("in", "out"), ("out", "in"), ("out", "out"))
TOP_REASONS = 20


class CompareError(ValueError):
    """The two decided tables do not hold the same users: the comparison would not account
    for everyone."""


def _side(decided: ir.Table, tag: str, outcome_column: str | None) -> ir.Table:
    cols: dict[str, ir.Value] = {
        "user_id": decided["user_id"],
        f"{tag}_outcome": decided["outcome"],
        f"{tag}_in": decided["outcome"] == INVITED,
        f"{tag}_pd": decided["pd"].cast("float64"),
        f"{tag}_limit": decided["limit_cny"].cast("int64"),
        f"{tag}_reasons": decided["reason_codes"],
        f"{tag}_region_class": decided["region_class"],
    }
    if outcome_column is not None and tag == "a":
        cols["_bad"] = decided[outcome_column].cast("float64")
    return decided.select(**cols)


def joined(champion: ir.Table, challenger: ir.Table, outcome_column: str | None = None) -> ir.Table:
    """One row per user with both decisions side by side (``a_*``: champion, ``b_*``:
    challenger)."""
    a = _side(champion, "a", outcome_column)
    b = _side(challenger, "b", None).rename(_uid="user_id")
    return a.inner_join(b, a["user_id"] == b["_uid"]).drop("_uid")


def _ratio(num: Any, den: Any) -> float | None:
    return None if not den or num is None else float(num) / float(den)


def compare_tables(
    backend: Backend,
    champion: ir.Table,
    challenger: ir.Table,
    outcome_column: str | None = None,
) -> dict[str, Any]:
    """The swap set of two decided tables (columns as ``lab.evaluate`` gives them) as a plain
    dict. Every figure is an aggregate computed on the backend, where the rows are."""
    fetch = backend.fetch
    t = joined(champion, challenger, outcome_column)
    a, b, both = (int(backend.scalar(x.count())) for x in (champion, challenger, t))
    if not a == b == both:
        raise CompareError(
            f"the champion decided {a:,} users, the challenger {b:,}, and {both:,} are in "
            "both: compare needs one population decided by both"
        )
    metrics: dict[str, ir.Value] = {
        "users": t.count(),
        "champion_pd": t["a_pd"].mean(),
        "challenger_pd": t["b_pd"].mean(),
        "champion_exposure": t["a_limit"].sum(),
        "challenger_exposure": t["b_limit"].sum(),
    }
    if outcome_column is not None:
        metrics["bad"] = t["_bad"].sum()
        metrics["known"] = t["_bad"].count()
    grouped = fetch(t.group_by(["a_in", "b_in"]).aggregate(**metrics)).to_pylist()
    by_cell = {(r["a_in"], r["b_in"]): r for r in grouped}
    cells = []
    for a_side, b_side in CELLS:
        r = by_cell.get((a_side == "in", b_side == "in"), {})
        users = int(r.get("users") or 0)
        cells.append(
            {
                "champion": a_side,
                "challenger": b_side,
                "users": users,
                "expected_bad_rate_champion": r.get("champion_pd"),
                "expected_bad_rate_challenger": r.get("challenger_pd"),
                "realised_bad_rate": (
                    _ratio(r.get("bad"), r.get("known")) if outcome_column else None
                ),
                "exposure_champion_cny": int(r.get("champion_exposure") or 0),
                "exposure_challenger_cny": int(r.get("challenger_exposure") or 0),
            }
        )
    transitions = fetch(
        t.group_by(["a_outcome", "b_outcome"])
        .aggregate(users=t.count())
        .order_by(["a_outcome", "b_outcome"])
    ).to_pylist()
    by_class = fetch(
        t.filter(t["a_in"] != t["b_in"])
        .group_by(region_class=t["a_region_class"])
        .aggregate(
            swapped_out=(t["a_in"] & ~t["b_in"]).sum(),
            swapped_in=(~t["a_in"] & t["b_in"]).sum(),
        )
        .order_by("region_class")
    ).to_pylist()
    return {
        "users": both,
        "swap_set": cells,
        "unchanged": cells[0]["users"] + cells[3]["users"],
        "changed": cells[1]["users"] + cells[2]["users"],
        "transitions": [
            {"champion": r["a_outcome"], "challenger": r["b_outcome"], "users": int(r["users"])}
            for r in transitions
        ],
        "swaps_by_region_class": [
            {
                "region_class": r["region_class"],
                "swapped_out": int(r["swapped_out"] or 0),
                "swapped_in": int(r["swapped_in"] or 0),
            }
            for r in by_class
        ],
        "reasons_swapped_out": reason_counts(fetch, t.filter(t["a_in"] & ~t["b_in"]), "b_reasons"),
        "reasons_swapped_in": reason_counts(fetch, t.filter(~t["a_in"] & t["b_in"]), "a_reasons"),
    }


def reason_counts(
    fetch: Callable[[ir.Expr], pa.Table], moved: ir.Table, column: str
) -> list[dict[str, Any]]:
    """How many moved users carry each reason code (a user with several counts once per
    code), most frequent first: why they were refused on the side that refused them."""
    codes = moved.select(code=moved[column].unnest())
    rows = fetch(
        codes.group_by("code")
        .aggregate(users=codes.count())
        .order_by([ibis.desc("users"), "code"])
        .limit(TOP_REASONS)
    ).to_pylist()
    return [{"code": r["code"], "users": int(r["users"])} for r in rows]


def headline(report: dict[str, Any]) -> dict[str, Any]:
    """What a swap set is read against: each policy's own totals."""
    keys = ("file", "invited", "invited_share", "expected_bad_rate", "realised_bad_rate")
    return {k: report[k] for k in keys} | {
        "policy": report["policy"],
        "exposure_cny": report["exposure_cny"],
        "expected_loss_cny": report["expected_loss_cny"],
        "cutoffs": report["cutoffs"]["by_class"],
    }


def product_deltas(champion: dict[str, Any], challenger: dict[str, Any]) -> list[dict[str, Any]]:
    """Per product (docs/policy.md, "Products"), matched by id: users offered and exposure
    under each policy and the change; empty unless either declares a family. A policy
    without one offers its cash loan alone: the family's cash product, as many as it invites.
    A product one side does not declare is offered to nobody there."""
    if not champion.get("products") and not challenger.get("products"):
        return []
    family = champion.get("products") or challenger["products"]
    cash_id = next(p["product"] for p in family if p["kind"] == "cash")

    def offered(report: dict[str, Any]) -> dict[str, tuple[int, int, str]]:
        if report.get("products"):
            return {
                p["product"]: (p["offered"], p["exposure_cny"], p["kind"])
                for p in report["products"]
            }
        return {cash_id: (report["invited"], report["exposure_cny"], "cash")}

    a, b = offered(champion), offered(challenger)
    out = []
    for pid in [*a, *(x for x in b if x not in a)]:
        a_n, a_cny, kind = a.get(pid, (0, 0, ""))
        b_n, b_cny, b_kind = b.get(pid, (0, 0, ""))
        out.append(
            {
                "product": pid,
                "kind": kind or b_kind,
                "offered_champion": a_n,
                "offered_challenger": b_n,
                "offered_delta": b_n - a_n,
                "exposure_champion_cny": a_cny,
                "exposure_challenger_cny": b_cny,
                "exposure_delta_cny": b_cny - a_cny,
            }
        )
    return out
