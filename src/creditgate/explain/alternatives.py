"""Where else to turn, for everyone left out (how to ask for a human: ``Decision.review``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any

from creditgate.decision import Alternative
from creditgate.explain.catalogue import LANGS, catalogue, text
from creditgate.lenders.directory import LICENCE_NAMES, Directory, Lender
from creditgate.lenders.matching import LenderMatcher
from creditgate.policy.nodes import Outcome
from creditgate.population.regions import RegionTable

_GENERAL = ("bank_app", "licensed_cfc")
LENDER_KIND = "licensed_lender"


@lru_cache(maxsize=16)
def alternatives(outcome: str, referred: bool) -> tuple[Alternative, ...]:
    """Business needs first go to business loans; then bank apps and licensed companies."""
    if outcome == Outcome.INVITED:
        return ()
    kinds = (("business_loan",) if referred else ()) + _GENERAL
    return tuple(Alternative(k, text("alternatives", k)) for k in kinds)


def percent(rate: Decimal) -> str:
    return f"{rate * 100:.2f}%"


def lender_alternative(lender: Lender) -> Alternative:
    """One named lender: its name, licence type and number, APR range, in both languages."""
    message = {
        lang: str(catalogue(lang)["alternatives"][LENDER_KIND]).format(
            name=lender.name.text()[lang],
            licence_type=LICENCE_NAMES[lender.licence.type][lang],
            licence=lender.licence.number,
            apr_min=percent(lender.apr.min),
            apr_max=percent(lender.apr.max),
        )
        for lang in LANGS
    }
    return Alternative(LENDER_KIND, message, lender.public())


class LenderAlternatives:
    """The generic alternatives made concrete: the licensed lenders whose published criteria
    the profile meets (``lenders/matching.py``) take the place of "licensed consumer-finance
    companies"; with none, the generic list stays. Each lender's text is built once."""

    def __init__(self, directory: Directory, regions: RegionTable) -> None:
        self.match = LenderMatcher(directory, regions)
        self.named = {lender.id: lender_alternative(lender) for lender in directory.lenders}
        # what stays beside named lenders: business loans first (referred), bank apps last
        self.before = {False: (), True: alternatives(Outcome.REFERRED, True)[:1]}
        self.after = tuple(
            a for a in alternatives(Outcome.NOT_INVITED, False) if a.kind == "bank_app"
        )

    def __call__(
        self,
        outcome: str,
        referred: bool,
        row: Mapping[str, Any],
        as_of: date,
        reason_layers: Iterable[str],
    ) -> tuple[Alternative, ...]:
        found = self.match(row, as_of, outcome, referred, reason_layers)
        if not found:
            return alternatives(outcome, referred)
        named = self.named
        return self.before[referred] + tuple([named[x.id] for x in found]) + self.after
