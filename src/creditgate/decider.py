"""The real-time decider: policy -> lowered program -> compiled row function + explanations.

>>> decider = Decider()                                  # the packaged default policy
>>> decision = decider.decide(profile, as_of=date(2026, 11, 28))
>>> decision.outcome, decision.reason_codes
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from operator import itemgetter
from typing import Any

from creditgate.decision import BINDING_OF, Decision, Notice, Reason, RecourseStep
from creditgate.engines.row import RowCompiler, Source, compile_program
from creditgate.explain.alternatives import LenderAlternatives
from creditgate.explain.catalogue import text
from creditgate.explain.evaluation import Evaluation
from creditgate.explain.offers import OfferBuilder
from creditgate.explain.product_recourse import ProductRecourse
from creditgate.explain.reasons import ReasonBuilder
from creditgate.explain.recourse_plan import RecoursePlanner
from creditgate.identifiers import new_decision_id
from creditgate.lenders.directory import packaged_directory
from creditgate.policy.bindings import Fixed, FraudFired
from creditgate.policy.lint import errors, lint
from creditgate.policy.loader import PolicyError, PolicyIssue, load_policy
from creditgate.policy.lower import Program, lower
from creditgate.policy.nodes import Outcome, Policy
from creditgate.policy.reason_order import SlotKind
from creditgate.population.regions import RegionTable, load_regions


def refuse_if_lint_errors(policy: Policy, regions: RegionTable) -> None:
    """A policy with compliance errors (an APR above the cap, data without consent...) is never
    served: the lint's errors become a ``PolicyError`` naming their lines."""
    found = errors(lint(policy, regions))
    if found:
        raise PolicyError([PolicyIssue(policy.source, f.line, f.check, f.message) for f in found])


# A NamedTuple built without its Python-level __new__ (the hot path).
_new_tuple: Callable[[type[Decision], tuple[Any, ...]], Decision] = tuple.__new__


class Decider:
    """Compiles a policy once; ``decide`` is then a few microseconds per validated profile."""

    def __init__(self, policy: Policy | None = None, regions: RegionTable | None = None) -> None:
        self.policy = policy if policy is not None else load_policy()
        self.regions = regions if regions is not None else load_regions()
        refuse_if_lint_errors(self.policy, self.regions)
        self.program: Program = lower(self.policy, self.regions)
        self.run = compile_program(self.program)
        # Named lenders for the refused (docs/lenders.md): none above this policy's APR cap.
        directory = packaged_directory(self.policy.jurisdiction.apr_cap)
        self.alternatives = LenderAlternatives(directory, self.regions)
        # The reason-order keys come last and matter only when something fired: the hot path
        # evaluates everything before them, and ``explain`` the keys, with the reasons worded
        # from them, only for users who are not invited.
        split = self.program.reasons_from
        self.reasons = ReasonBuilder(self.program)
        self.planner = RecoursePlanner(self.program)
        self.run_head, self.explain = RowCompiler(self.program).compile_split(
            split, self.explanation
        )
        self.index = self.program.positions
        # The contract's columns (``decision.DECISION_COLUMNS``, in that order), then what
        # the decision is worded from: a referral, the limit held (docs/policy.md, "Stable
        # entries").
        read = (*BINDING_OF.values(), Fixed.REFERRED, Fixed.HELD_LIMIT)
        self.output_at = tuple(self.program.at(key) for key in read)
        assert max(self.output_at) < split, "decision outputs must precede the reason keys"
        self.outputs = itemgetter(*self.output_at)
        # The product family's offers (docs/policy.md, "products"); None without one.
        # A product not offered carries its own recourse, planned by re-deciding.
        self.offers = (
            OfferBuilder(
                self.program,
                ProductRecourse(self.program, self.run_head, self.explain, self.planner),
            )
            if self.policy.products
            else None
        )

    def explanation(self, source: Source) -> tuple[list[str], dict[str, Any]]:
        """The end of ``explain``: the reasons and the gate and region recourse, worded
        where the reason keys are computed (``RowCompiler.compile_split``)."""
        reasons, namespace = self.reasons.lines(source)
        steps, more = self.planner.lines(source)
        return [*reasons, *steps, *self.fraud_lines(source), "return reasons, steps, internal"], {
            **namespace,
            **more,
        }

    def fraud_lines(self, source: Source) -> list[str]:
        """Lines setting ``internal``: which fraud rules fired, for operators only. The
        fraud reason's key is set exactly when one did: one test, not one per rule."""
        key = next((s.binding for s in self.program.reasons if s.kind == SlotKind.FRAUD), None)
        if key is None:
            return ["internal = {}"]
        rules = ", ".join(
            f"({r.id!r}, {source(FraudFired(r.id).column)})" for r in self.policy.fraud
        )
        fired = f"[rule for rule, fired in ({rules},) if fired]"
        return [f"internal = {{'fraud_rules': {fired}}} if {source(key)} is not None else {{}}"]

    def evaluate(self, row: Mapping[str, Any], as_of: date) -> Evaluation:
        return Evaluation(row, self.run(row, as_of), as_of, self.index)

    def decide(
        self, row: Mapping[str, Any], as_of: date, decision_id: str | None = None
    ) -> Decision:
        """Decide one validated profile (see ``profile.validate_profile``)."""
        values = self.run_head(row, as_of)
        (
            outcome,
            score,
            pd,
            limit,
            rate,
            apr,
            entry,
            retained,
            reduced,
            withdrawn,
            since,
            referred,
            held,
        ) = self.outputs(values)
        decision_id = decision_id or new_decision_id()
        if outcome == Outcome.INVITED:  # nothing fired: no reasons, no recourse
            reasons: tuple[Reason, ...] = ()
            steps: tuple[RecourseStep, ...] = ()
            internal: dict[str, Any] = {}
        else:
            reasons, gate_steps, internal = self.explain(row, as_of, values)
            steps = tuple(self.planner.finish(gate_steps, row, values, as_of))
        policy = self.policy
        return _new_tuple(  # positional: the field order of ``Decision``
            Decision,
            (
                decision_id,
                row["user_id"],
                policy.name,
                policy.version,
                as_of,
                outcome,
                score,
                pd,
                limit,
                rate,
                apr,
                policy.offer.terms if outcome == Outcome.INVITED else (),
                reasons,
                steps,
                self.alternatives(outcome, bool(referred), row, as_of, [r.layer for r in reasons]),
                internal,
                entry,
                bool(retained),
                notices(as_of, entry, limit, held, reduced, withdrawn)
                if reduced or withdrawn or entry == "servicing"
                else (),
                since,
                ()
                if self.offers is None
                else self.offers.offers(row, values, reasons, steps, as_of),
            ),
        )


def notices(
    as_of: date,
    entry: str,
    limit: int | None,
    held: int | None,
    reduced: bool,
    withdrawn: bool,
) -> tuple[Notice, ...]:
    """The changes a decision makes to what the user had, in the words they are told."""
    day = as_of.isoformat()
    out: list[Notice] = []
    if reduced and held is not None and limit is not None:
        message = text(
            "notices", "LIMIT_REDUCED", previous=f"{held:,}", limit=f"{limit:,}", as_of=day
        )
        out.append(Notice("LIMIT_REDUCED", message, held))
    if withdrawn:
        out.append(
            Notice("INVITATION_WITHDRAWN", text("notices", "INVITATION_WITHDRAWN", as_of=day))
        )
    if entry == "servicing":
        out.append(Notice("SERVICING", text("notices", "SERVICING")))
    return tuple(out)
