"""The profile contract: one row per user, flat typed fields (docs/architecture.md, "Contracts").

Every other part reads these specs instead of restating them: input validation builds its
Pydantic model from them, the compliance lint reads the consent each field needs, and recourse
reads which fields a user can change, in which direction and in which steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import Final


class Consent(StrEnum):
    """Which authorisation covers a field (PIPL: processing needs a legal basis)."""

    NONE = "none"  # identity and contract data, the consent flags themselves
    CREDIT = "consent_credit_data"
    BEHAVIOUR = "consent_behaviour_data"
    SECURITY = "security"  # anti-fraud: processed to protect users, never explained in detail


class Direction(StrEnum):
    """Which way a change helps the user; recourse only ever suggests moves this way."""

    UP = "up"
    DOWN = "down"
    TRUE = "true"
    NONE = "none"  # immutable, or not the user's to change


class Occupation(StrEnum):
    SALARIED = "salaried"
    SELF_EMPLOYED = "self_employed"
    SMALL_BUSINESS_OWNER = "small_business_owner"
    STUDENT = "student"
    RETIRED = "retired"
    OTHER = "other"


class LoanPurpose(StrEnum):
    """What the user says a loan is for (``loan_purpose``; absent: consumption). The family
    is for personal consumption: a business purpose is referred to business loans."""

    CONSUMPTION = "consumption"
    BUSINESS = "business"
    EDUCATION = "education"
    MEDICAL = "medical"
    HOME = "home"
    TRAVEL = "travel"
    OTHER = "other"


BUSINESS_PURPOSES: Final = (LoanPurpose.BUSINESS.value,)
"""Purposes never given a consumption loan (``policy.lower``: referred, ``BUSINESS_PURPOSE``)."""

Scalar = bool | int | float | Decimal | str | date

TEXT_LENGTH: Final = (1, 64)  # characters in any text field, the user id too
MONEY_PLACES: Final = 2  # decimal places of an amount of money (CNY fen)


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One input field: its type, range and what a user may do about it."""

    name: str
    type: type
    consent: Consent
    nullable: bool = False
    ge: int | float | Decimal | None = None
    le: int | float | Decimal | None = None
    direction: Direction = Direction.NONE
    resolution: int | float | Decimal = 1  # the smallest meaningful step, for strict thresholds
    choices: tuple[str, ...] = ()
    # Kept by the platform, not asked of the user: a file or request may leave it out (NULL).
    optional: bool = False
    message: str | None = None  # recourse message key ("recourse" catalogue), when not generic

    @property
    def length(self) -> tuple[int, int] | None:
        """How many characters a text field may have (both validators read this)."""
        return TEXT_LENGTH if self.type is str else None


_FIELDS: Final = (
    FieldSpec("user_id", str, Consent.NONE),
    FieldSpec("birth_date", date, Consent.NONE),
    FieldSpec("registered_at", date, Consent.NONE),
    FieldSpec("real_name_verified", bool, Consent.NONE, direction=Direction.TRUE),
    FieldSpec("bank_card_bound", bool, Consent.NONE, direction=Direction.TRUE),
    FieldSpec("is_student", bool, Consent.NONE),
    FieldSpec("occupation", str, Consent.NONE, choices=tuple(o.value for o in Occupation)),
    FieldSpec("city", str, Consent.NONE),
    FieldSpec("is_county_area", bool, Consent.NONE),
    FieldSpec("consent_credit_data", bool, Consent.NONE, direction=Direction.TRUE),
    FieldSpec("consent_behaviour_data", bool, Consent.NONE, direction=Direction.TRUE),
    FieldSpec("pay_score", int, Consent.CREDIT, ge=300, le=850, direction=Direction.UP),
    FieldSpec("overdue_count_24m", int, Consent.CREDIT, ge=0, le=1000),
    FieldSpec(
        "current_overdue_days",
        int,
        Consent.CREDIT,
        ge=0,
        le=36500,
        direction=Direction.DOWN,
        message="repay",
    ),
    FieldSpec("last_overdue_on", date, Consent.CREDIT, nullable=True),
    FieldSpec(
        "ecosystem_repayment_score", int, Consent.BEHAVIOUR, ge=0, le=100, direction=Direction.UP
    ),
    FieldSpec(
        "ecosystem_active_products", int, Consent.BEHAVIOUR, ge=0, le=100, direction=Direction.UP
    ),
    FieldSpec(
        "avg_daily_opens_90d",
        float,
        Consent.BEHAVIOUR,
        ge=0,
        le=1440,
        direction=Direction.UP,
        resolution=0.1,
    ),
    FieldSpec(
        "monthly_spend_cny_6m",
        Decimal,
        Consent.BEHAVIOUR,
        ge=0,
        le=100_000_000,
        direction=Direction.UP,
        resolution=Decimal("0.01"),
    ),
    FieldSpec(
        "monthly_flow_cv_6m",
        float,
        Consent.BEHAVIOUR,
        ge=0,
        le=100,
        direction=Direction.DOWN,
        resolution=0.01,
    ),
    FieldSpec("blacklist_hit", bool, Consent.SECURITY),
    FieldSpec("accounts_on_device", int, Consent.SECURITY, ge=1, le=1000),
    FieldSpec("sim_changed_days_ago", int, Consent.SECURITY, nullable=True, ge=0, le=36500),
    FieldSpec("applications_7d", int, Consent.SECURITY, ge=0, le=10000),
    # What the lender already knows about the user (docs/policy.md, "stability"): whether a
    # loan is outstanding (servicing must stay reachable), and the invitation the whitelist in
    # force holds for them: since when, with which line. ``batch --previous`` and the service
    # fill the last two from the snapshot in force.
    FieldSpec("has_outstanding_loan", bool, Consent.NONE, nullable=True, optional=True),
    FieldSpec("invited_since", date, Consent.NONE, nullable=True, optional=True),
    FieldSpec(
        "invited_limit_cny", int, Consent.NONE, nullable=True, ge=0, le=10_000_000, optional=True
    ),
    # What the user says the loan is for, when they say (docs/policy.md, "products").
    FieldSpec(
        "loan_purpose",
        str,
        Consent.NONE,
        nullable=True,
        optional=True,
        choices=tuple(p.value for p in LoanPurpose),
    ),
)

PROFILE_FIELDS: Final = MappingProxyType({f.name: f for f in _FIELDS})
"""The contract's fields by name, in contract order."""

DATE_FIELDS_NOT_AFTER_AS_OF: Final = (
    "birth_date",
    "registered_at",
    "last_overdue_on",
    "invited_since",
)
"""Dates that cannot lie after the evaluation date: such a row is bad input, not a decision."""

OPTIONAL_FIELDS: Final = tuple(f.name for f in _FIELDS if f.optional)
"""Fields an input may leave out: read as NULL (``engines`` and batch validation add them)."""
