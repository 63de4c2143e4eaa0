"""The policy file's structure as Pydantic models: shapes and types, nothing more.

Meaning (do fields exist, do bins ascend, does every region have a cutoff) is checked by
``loader.py``, which can point at the offending line.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Scalar = bool | int | float | str
OpName = Literal[">=", ">", "<=", "<", "==", "!=", "in", "not_in"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Meta(Strict):
    name: str = Field(min_length=1)
    version: str = Field(min_length=1)
    description: str = ""


class RolloutSpec(Strict):
    status: Literal["open", "partial", "closed"]
    quota_share: float = Field(default=1.0, ge=0, le=1)


class StageSpec(Strict):
    """One rollout stage: from this date (Asia/Shanghai) these places open too."""

    from_: date = Field(alias="from")
    provinces: list[str] | Literal["all"] = []
    cities: list[str] = []


class RegionsSpec(Strict):
    version: str
    unknown_city: str | None = None
    rollout: dict[str, RolloutSpec]
    schedule: list[StageSpec] = []


class JurisdictionSpec(Strict):
    name: str
    apr_cap: Decimal = Field(gt=0, lt=1)
    household_line_cap_cny: int = Field(gt=0)
    joint_min_own_share: Decimal = Field(default=Decimal("0.30"), ge=0, le=1)


class RiskSpec(Strict):
    # Loss given default of the product's lines (share of the exposure lost when a user
    # defaults): docs/policy.md, "risk", says why 0.85 by default.
    lgd: Decimal = Field(default=Decimal("0.85"), gt=0, le=1)


class StabilitySpec(Strict):
    # How long an invitation stands and how far under the cutoff it may fall before a refresh
    # takes it back (docs/policy.md, "stability"); both 0: no hysteresis.
    min_days: int = Field(default=0, ge=0, le=730)
    band: int = Field(default=0, ge=0, le=200)


class ConditionSpec(Strict):
    field: str
    op: OpName
    value: Scalar | list[Scalar]


class GateSpec(Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    code: str = Field(pattern=r"^[A-Z][A-Z0-9_]*$")
    layer: Literal["compliance", "credit", "behaviour"]
    field: str
    op: OpName
    value: Scalar | list[Scalar]
    when_missing: Literal["pass", "fail"] | None = None
    action: Literal["decline", "review"] = "decline"
    # An any-of group: the gate fails only when every gate naming the same group fails.
    any_of: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_]*$")


class FraudSpec(Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    action: Literal["decline", "review"]
    when: list[ConditionSpec] = Field(min_length=1)
    when_missing: Literal["fired", "not_fired"] | None = None


class BinSpec(Strict):
    points: int
    below: float | None = None
    in_: list[str] | None = Field(default=None, alias="in")


class FeatureSpec(Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    field: str
    factor: str = Field(pattern=r"^[A-Z][A-Z0-9_]*$")
    missing_points: int = 0
    cost: int = Field(default=1, ge=1, le=100)
    bins: list[BinSpec] = Field(min_length=1)


class ScalingSpec(Strict):
    pdo: float = Field(gt=0)
    base_score: float
    base_odds: float = Field(gt=0)


class PairAxisSpec(Strict):
    """One side of a pairwise table: a feature of the card, cut at ``edges`` (numeric,
    ascending; ``n`` edges make ``n + 1`` bins) or into ``categories`` groups."""

    feature: str
    edges: list[float] | None = None
    categories: list[list[str]] | None = None


class PairSpec(Strict):
    """Points by two features' bins; row and column 0 take missing values."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    axes: list[PairAxisSpec] = Field(min_length=2, max_length=2)
    points: list[list[int]] = Field(min_length=1)


class ScorecardSpec(Strict):
    base_points: int = 0
    scaling: ScalingSpec
    cutoffs: dict[str, int]
    review_band: int = Field(default=0, ge=0)
    features: list[FeatureSpec] = Field(min_length=1)
    pairs: list[PairSpec] = []


class LimitSpec(Strict):
    """One row of a segment's limit matrix: score at least ``min_score`` and every ``when``."""

    min_score: int
    when: list[ConditionSpec] = []
    limit: int = Field(gt=0)


class SegmentSpec(Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    when: list[ConditionSpec] = []
    refer: bool = False
    limits: list[LimitSpec] = []


class PriceSpec(Strict):
    min_score: int
    daily_rate: Decimal = Field(gt=0, lt=Decimal("0.01"))


class RangeSpec(Strict):
    min: int = Field(gt=0)
    max: int = Field(gt=0)


class OfferSpec(Strict):
    limits_cny: RangeSpec
    terms: list[int] = Field(min_length=1)
    days_per_year: Literal[360, 365] = 365
    segments: list[SegmentSpec] = Field(min_length=1)
    pricing: list[PriceSpec] = Field(min_length=1)


class ProductLimitSpec(Strict):
    """A product's line as a share of the cash loan's, within ``min_cny``..``max_cny``."""

    share_of_cash: Decimal = Field(gt=0, le=1)
    min_cny: int = Field(gt=0)
    max_cny: int = Field(gt=0)


class PlanSpec(Strict):
    periods: int = Field(ge=1, le=60)
    fee_per_period: Decimal = Field(ge=0, lt=1)


class LenderSpec(Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: dict[Literal["zh-CN", "en"], str] = {}
    share: Decimal = Field(gt=0, le=1)
    max_exposure_cny: int | None = Field(default=None, gt=0)
    gates: list[GateSpec] = []


class ProductSpec(Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    kind: Literal["cash", "instalment", "joint"]
    gates: list[GateSpec] = []
    limit: ProductLimitSpec | None = None
    merchant_only: bool = False
    apr_method: Literal["nominal"] = "nominal"
    plans: list[PlanSpec] = []
    own_lender: LenderSpec | None = None
    partners: list[LenderSpec] = Field(default=[], max_length=4)
    on_partner_decline: Literal["pass_to_next", "reduce"] = "pass_to_next"


class PolicySpec(Strict):
    policy: Meta
    capacity_share: float = Field(gt=0, le=1)
    regions: RegionsSpec
    jurisdiction: JurisdictionSpec
    risk: RiskSpec = RiskSpec()
    stability: StabilitySpec = StabilitySpec()
    gates: list[GateSpec]
    fraud: list[FraudSpec] = []
    scorecard: ScorecardSpec
    offer: OfferSpec
    products: list[ProductSpec] = []
