"""Request and response models: what the OpenAPI document promises."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from creditgate.experiment import share_problem
from creditgate.profile import profile_model
from creditgate.timeutil import AS_OF_EARLIEST, as_of_problem


def _profile_schema() -> dict[str, Any]:
    schema = profile_model().model_json_schema()
    return {k: v for k, v in schema.items() if k in ("properties", "required", "type")} | {
        "additionalProperties": False
    }


class DecisionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    profile: dict[str, Any] = Field(
        description="A profile per the contract (docs/architecture.md, Contracts).",
        json_schema_extra=_profile_schema(),
    )
    as_of: date | None = Field(
        None,
        description="Evaluation date (default: today, Asia/Shanghai); from 2000-01-01 to "
        "today (Asia/Shanghai) + 31 days.",
        ge=AS_OF_EARLIEST,
    )

    @field_validator("as_of")
    @classmethod
    def _in_window(cls, value: date | None) -> date | None:
        if value is not None and (problem := as_of_problem(value)):
            raise ValueError(problem)
        return value


class EntryResponse(BaseModel):
    user_id: str
    entry_visible: bool
    snapshot_id: str | None
    policy_version: str | None
    snapshot_as_of: str | None


class ReviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision_id: str = Field(min_length=1, max_length=40)
    reason: str = Field("", max_length=2000)


ReviewKind = Literal["appeal", "manual_review"]
Resolution = Literal["approve", "decline", "upheld", "overturned"]


class Review(BaseModel):
    review_id: str
    decision_id: str  # the decision reviewed (an appeal: the one it contests)
    status: str
    resolution: str | None = None
    note: str | None = None
    created_at: str
    resolved_at: str | None = None
    kind: ReviewKind = "appeal"


class QueuedReview(Review):
    """A review as the admin queue lists it: with the user's reason (for a dispute from the
    self-check page, ``dispute: <field> — <note>``; empty for a manual review), the user as a
    log pseudonym, the reviewed decision's reason codes and the fraud rules that fired (staff
    only), its age, who holds it and until when, and what resolving it recorded."""

    reason: str
    user: str  # the keyed pseudonym the logs use (``u~...``), never the raw user id
    reason_codes: list[str]
    fraud_rules: list[str]
    age_s: float  # seconds since it was queued
    claimed_by: str | None = None  # a principal's name, while the claim holds
    claimed_at: str | None = None
    claim_expires_at: str | None = None
    resolved_by: str | None = None
    human_decision_id: str | None = None  # the person's decision it recorded


class ReviewSummary(BaseModel):
    """The queue at a glance: counts by kind and status, the oldest open item's age."""

    counts: dict[str, dict[str, int]]  # kind -> {"open": n, "resolved": n}
    open: int
    oldest_open_age_s: float | None
    oldest_open_age_s_by_kind: dict[str, float]


class ResolveRequest(BaseModel):
    """``approve`` / ``decline`` a manual review, ``upheld`` / ``overturned`` an appeal."""

    model_config = ConfigDict(extra="forbid")
    resolution: Resolution
    note: str | None = Field(None, max_length=2000)


class ResolvedReview(BaseModel):
    review_id: str
    status: str
    resolution: str
    decision_id: str | None  # the person's decision recorded (None: an invitation upheld)


class ConsentWithdrawal(BaseModel):
    user_id: str
    erased_decisions: int


class PolicyText(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=60_000)


class PolicyInfo(BaseModel):
    version: str
    name: str
    sha256: str
    created_at: str
    active: bool


class PolicyDetail(PolicyInfo):
    text: str


class LintFinding(BaseModel):
    level: str
    check: str
    line: int
    message: str


class LintReport(BaseModel):
    errors: int
    findings: list[LintFinding]


class SnapshotLoad(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # a name inside the snapshot directory (CREDITGATE_SNAPSHOT_DIR), or an absolute path in it
    path: str = Field(min_length=1, max_length=4096)


class PolicyActivation(BaseModel):
    """Optional body of a policy's activation proposal: the snapshot made for that policy
    that goes live with it, in the same transaction (required while a snapshot is active)."""

    model_config = ConfigDict(extra="forbid")
    snapshot_id: str | None = Field(None, min_length=1, max_length=64)


class SnapshotInfo(BaseModel):
    snapshot_id: str
    path: str
    meta: dict[str, Any]
    invited: int
    loaded_at: str
    sha256: str | None  # of the file's content, verified on activation and on every load
    active: bool


class ChangeInfo(BaseModel):
    """A proposed activation (four eyes) and its decision; ``effect`` is what it changes."""

    change_id: str
    kind: Literal["policy", "snapshot", "experiment_start", "experiment_stop"]
    target: str
    status: Literal["proposed", "approved", "rejected"]
    proposed_by: str
    proposed_at: str
    effect: dict[str, Any]
    decided_by: str | None
    decided_at: str | None
    note: str | None


class ChangeDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str | None = Field(None, max_length=2000)


class Health(BaseModel):
    status: str  # "degraded" when the active snapshot's file was refused (see snapshot_refused)
    policy_version: str | None
    snapshot_id: str | None  # the snapshot served
    snapshot_refused: str | None = None  # the active snapshot whose file failed its checks


class ExperimentProposal(BaseModel):
    """Start a champion/challenger experiment: the champion is what is active."""

    model_config = ConfigDict(extra="forbid")
    challenger_policy: str = Field(max_length=64, description="A stored policy version.")
    challenger_snapshot: str = Field(
        max_length=64,
        description="A registered snapshot of that policy, from the champion's batch run.",
    )
    share: float = Field(description="The challenger's share of users, in (0, 0.5].")

    @field_validator("share")
    @classmethod
    def _share(cls, value: float) -> float:
        problem = share_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value


class ArmPair(BaseModel):
    policy: str
    snapshot: str


class ExperimentInfo(BaseModel):
    """An experiment: ``proposed`` (its start awaits approval: ``change_id``), ``running``
    or ``stopped``."""

    experiment_id: str
    status: Literal["proposed", "running", "stopped"]
    champion: ArmPair
    challenger: ArmPair
    share: float
    proposed_by: str
    started_by: str | None
    started_at: str | None
    stopped_by: str | None
    stopped_at: str | None
    change_id: str | None


class BadRate(BaseModel):
    with_outcome: int  # invited users found in the performance file
    without_outcome: int
    defaulted: int
    rate: float | None
    low: float | None  # 95% Wilson interval
    high: float | None


class ArmReport(BaseModel):
    policy_version: str
    snapshot_id: str
    decisions: int
    outcomes: dict[str, int]
    users: int  # distinct users, each by their latest decision in the experiment
    invited_users: int
    invited_share: float | None
    limit_mean: float | None
    limit_median: float | None
    apr_mean: float | None
    bad_rate: BadRate | None  # with a performance file


class BadRateDifference(BaseModel):
    difference: float  # challenger - champion
    low: float  # 95% (Newcombe)
    high: float


class ExperimentReport(BaseModel):
    experiment_id: str
    status: Literal["running", "stopped"]
    share: float
    arms: dict[Literal["champion", "challenger"], ArmReport]
    bad_rate_difference: BadRateDifference | None


# -- the decision (``Decision.to_dict`` plus the service's ``cutoffs`` and ``experiment``)
# Documentation and a check in the tests: the routes serialise the stored decision directly.
Message = dict[str, str]  # language ("zh-CN", "en") -> text
Observed = str | int | float | bool | None


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PolicyRef(_Out):
    name: str
    version: str


class ReasonOut(_Out):
    code: str = Field(description="A stable reason code, e.g. PAY_SCORE_LOW.")
    layer: str
    observed: Observed = Field(description="The user's value that fired the rule, if shown.")
    required: Observed = Field(description="What passes, in words or a number.")
    message: Message
    principal: bool = Field(description="One of the (at most four) principal reasons.")


class RecourseOut(_Out):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    code: str
    field: str
    from_: Observed = Field(alias="from")
    to: Observed
    eta: date | None = Field(description="The date on which time alone fixes the rule.")
    immutable: bool = Field(description="The user cannot change it: no advice is given.")
    message: Message


class MiniProgramOut(_Out):
    app_id: str
    path: str


class LenderOut(_Out):
    """A licensed lender named by a refusal (docs/lenders.md); APRs annualised, as text."""

    id: str
    name: Message
    licence_type: str = Field(description="consumer_finance_company, commercial_bank, microlender")
    licence_type_name: Message
    licence_number: str
    purpose: str = Field(description="consumption or business")
    apr_min: str
    apr_max: str
    fields: list[str] = Field(description="The profile fields it asks to receive, with consent.")
    mini_program: MiniProgramOut


class AlternativeOut(_Out):
    kind: str = Field(description="bank_app, licensed_cfc, business_loan or licensed_lender.")
    message: Message
    lender: LenderOut | None = Field(default=None, description="With licensed_lender only.")


class NoticeOut(_Out):
    code: str = Field(description="LIMIT_REDUCED, INVITATION_WITHDRAWN or SERVICING.")
    message: Message
    previous_limit_cny: int | None = Field(None, description="With LIMIT_REDUCED only.")


class PlanOut(_Out):
    periods: int
    fee_per_period: str = Field(
        description="A decimal string: the fee per period on the principal."
    )
    apr: str = Field(description="A decimal string: the schedule's monthly IRR x 12.")
    apr_method: Literal["nominal"]


class FundingOut(_Out):
    lender: str
    name: Message
    own: bool = Field(description="The platform's own lender.")
    amount_cny: int


class OfferOut(_Out):
    """One product of the policy's family (docs/policy.md, "products")."""

    product: str
    kind: Literal["cash", "instalment", "joint"]
    name: Message
    status: Literal["offered", "not_eligible", "referred"]
    limit_cny: int | None
    apr: str | None = Field(description="A decimal string (cash and joint loans).")
    merchant_only: bool
    plans: list[PlanOut]
    funding: list[FundingOut]
    reasons: list[ReasonOut]
    recourse: list[RecourseOut] = Field(
        description="Not offered: the changes (and the date) after which this product is "
        "offered, as the decision's recourse; empty when offered."
    )
    message: Message


class ReviewRight(_Out):
    right: str
    endpoint: str
    decision_id: str
    message: Message


class CityCutoff(_Out):
    name: str
    cutoff: int


class CutoffsOut(_Out):
    source: Literal["snapshot", "policy"]
    snapshot_id: str | None = None
    snapshot_as_of: date | None = None
    by_class: dict[str, int] | None = None
    city: CityCutoff | None = None


class ExperimentArm(_Out):
    id: str
    arm: Literal["champion", "challenger"]


class DecisionOut(_Out):
    """A decision as ``POST /v1/decisions`` returns it (README, "What a decision contains")."""

    decision_id: str
    user_id: str
    policy: PolicyRef
    as_of: date
    outcome: Literal["invited", "not_invited", "manual_review", "referred"]
    entry_visible: bool
    entry: Literal["offer", "servicing", "hidden"]
    retained: bool
    notices: list[NoticeOut]
    invited_since: date | None
    score: int | None
    pd: float | None
    limit_cny: int | None
    daily_rate: str | None = Field(description="A decimal string.")
    apr: str | None = Field(description="A decimal string: daily rate x days per year.")
    terms: list[int]
    reasons: list[ReasonOut]
    recourse: list[RecourseOut]
    alternatives: list[AlternativeOut]
    review: ReviewRight
    cutoffs: CutoffsOut
    experiment: ExperimentArm | None = Field(
        None, description="Present while a champion/challenger experiment runs."
    )
    offers: list[OfferOut] | None = Field(
        None, description="One per product, present when the policy declares a product family."
    )
