"""Policy file (YAML) to frozen nodes, with every error naming ``file:line: field``.

Structure is checked by ``spec.PolicySpec``; meaning here: fields exist (raw or derived) and are
not protected attributes, values fit the field's type, NULL-able fields say how NULL is treated,
reason codes have messages, bins ascend, every region class has a status and a cutoff.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from importlib import resources
from itertools import pairwise
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from pydantic import ValidationError

from creditgate.explain.catalogue import has_message
from creditgate.features import DerivedField, by_name, derived_fields
from creditgate.policy import spec as s
from creditgate.policy.nodes import (
    Action,
    Bin,
    CmpOp,
    Condition,
    FraudRule,
    Gate,
    InstalmentPlan,
    Jurisdiction,
    Layer,
    Lender,
    LimitRow,
    Offer,
    PartnerDecline,
    Policy,
    PriceBand,
    Product,
    ProductKind,
    ProductLimit,
    RegionRule,
    RegionStatus,
    RolloutStage,
    Scaling,
    Scorecard,
    ScoreFeature,
    ScorePair,
    Segment,
    Stability,
    Value,
)
from creditgate.policy.pairs import pair_axis, table_problems
from creditgate.policy.yamlsrc import Path_, SourceIssue, SourceMap, YamlSyntaxError, load_yaml
from creditgate.population.regions import (
    RegionClass,
    RegionTable,
    UnknownCityError,
    load_regions,
)
from creditgate.products.instalments import plan_apr
from creditgate.schema import PROFILE_FIELDS, Consent

PROTECTED_ATTRIBUTES = frozenset(
    {
        "sex",
        "gender",
        "ethnicity",
        "ethnic_group",
        "race",
        "religion",
        "marital_status",
        "nationality",
        "foreign_worker",
        "personal_status_and_sex",
        "hukou_origin",
    }
)
DEFAULT_POLICY = "default.yaml"
LANGS: tuple[Literal["zh-CN"], Literal["en"]] = ("zh-CN", "en")


PolicyIssue = SourceIssue  # a policy file's problem, at file:line


class PolicyError(ValueError):
    """A policy file that cannot be used; ``issues`` lists every problem found."""

    def __init__(self, issues: list[PolicyIssue]) -> None:
        super().__init__("\n".join(str(i) for i in issues))
        self.issues = issues


def default_policy_path() -> Path:
    return Path(str(resources.files("creditgate.policy") / "defaults" / DEFAULT_POLICY))


def load_policy(path: Path | str | None = None) -> Policy:
    """Load and check a policy file (the packaged default when ``path`` is None)."""
    file = Path(path) if path is not None else default_policy_path()
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError([PolicyIssue(str(file), 0, "", f"cannot read: {exc.strerror}")]) from exc
    return parse_policy(text, str(file))


def parse_policy(text: str, file: str = "<policy>") -> Policy:
    try:
        data, source = load_yaml(text, file)
    except YamlSyntaxError as exc:
        raise PolicyError([PolicyIssue(file, exc.line, "", str(exc).split(": ", 1)[-1])]) from exc
    try:
        parsed = s.PolicySpec.model_validate(data)
    except ValidationError as exc:
        raise PolicyError(
            [
                PolicyIssue(file, source.line_of(tuple(e["loc"])), dotted(e["loc"]), e["msg"])
                for e in exc.errors()
            ]
        ) from exc
    return _Builder(parsed, source).build()


def dotted(loc: tuple[Any, ...] | Path_) -> str:
    return ".".join(str(p) for p in loc)


class _Builder:
    def __init__(self, spec: s.PolicySpec, source: SourceMap) -> None:
        self.spec, self.source = spec, source
        self.issues: list[PolicyIssue] = []
        self.regions: RegionTable = load_regions()
        self.derived: Mapping[str, DerivedField] = by_name(
            derived_fields(self.regions, spec.regions.unknown_city)
        )
        self.derived_nullable = {d.name: d.expr.nullable for d in self.derived.values()}

    def error(self, path: Path_, message: str) -> None:
        self.issues.append(
            PolicyIssue(self.source.file, self.source.line_of(path), dotted(path), message)
        )

    def build(self) -> Policy:
        spec = self.spec
        if spec.regions.version != self.regions.version:
            self.error(("regions", "version"), f"region table is version {self.regions.version!r}")
        classes = [c.value for c in RegionClass]
        if spec.regions.unknown_city is not None and spec.regions.unknown_city not in classes:
            self.error(("regions", "unknown_city"), f"must be one of {classes} or null")
        gates = tuple(self.gate(g, ("gates", i)) for i, g in enumerate(spec.gates))
        self.unique([g.id for g in spec.gates], "gates")
        self.groups(spec.gates)
        fraud = tuple(self.fraud(f, ("fraud", i)) for i, f in enumerate(spec.fraud))
        self.unique([f.id for f in spec.fraud], "fraud")
        regions = self.rollout(classes)
        schedule = self.schedule()
        scorecard = self.scorecard(regions)
        offer = self.offer()
        products = self.products()
        if self.issues:
            raise PolicyError(self.issues)
        return Policy(
            name=spec.policy.name,
            version=spec.policy.version,
            regions_version=spec.regions.version,
            unknown_city=spec.regions.unknown_city,
            capacity_share=spec.capacity_share,
            gates=gates,
            fraud=fraud,
            regions=regions,
            scorecard=scorecard,
            offer=offer,
            schedule=schedule,
            jurisdiction=Jurisdiction(
                spec.jurisdiction.name,
                spec.jurisdiction.apr_cap,
                spec.jurisdiction.household_line_cap_cny,
                spec.jurisdiction.joint_min_own_share,
            ),
            products=products,
            lgd=spec.risk.lgd,
            stability=Stability(spec.stability.min_days, spec.stability.band),
            source=self.source.file,
            lines=MappingProxyType({dotted(k): v for k, v in self.source.lines.items()}),
        )

    def unique(self, ids: list[str], section: str) -> None:
        seen: set[str] = set()
        for i, item in enumerate(ids):
            if item in seen:
                self.error((section, i, "id"), f"duplicate id {item!r}")
            seen.add(item)

    # -- fields and values
    def field_type(self, name: str, path: Path_) -> type | None:
        if name in PROTECTED_ATTRIBUTES:
            self.error(path, f"{name!r} is a protected attribute and may not be a decision input")
            return None
        if name in PROFILE_FIELDS:
            return PROFILE_FIELDS[name].type
        if name in self.derived:
            return self.derived[name].spec.type
        known = sorted([*PROFILE_FIELDS, *self.derived])
        self.error(path, f"unknown field {name!r}; known fields: {', '.join(known)}")
        return None

    def nullable(self, name: str) -> bool:
        if name in PROFILE_FIELDS:
            return PROFILE_FIELDS[name].nullable
        return self.derived_nullable.get(name, False)

    def value(self, kind: type, raw: Any, path: Path_) -> Value:
        """Check a threshold against the field's type; decimals stay exact."""
        ok = {
            bool: isinstance(raw, bool),
            str: isinstance(raw, str),
            date: isinstance(raw, date),
        }.get(kind, isinstance(raw, int | float) and not isinstance(raw, bool))
        if not ok:
            self.error(path, f"expected a {kind.__name__} value, got {raw!r}")
            return None
        if kind is Decimal:
            return Decimal(str(raw))
        if kind is int:
            if isinstance(raw, float) and not raw.is_integer():
                self.error(path, f"expected a whole number, got {raw!r}")
                return None
            return int(raw)
        return raw  # type: ignore[no-any-return]

    def condition(self, c: s.ConditionSpec | s.GateSpec, path: Path_) -> Condition:
        kind = self.field_type(c.field, (*path, "field"))
        membership = c.op in ("in", "not_in")
        if membership != isinstance(c.value, list):
            wanted = "a list" if membership else "one value"
            self.error((*path, "value"), f"op {c.op!r} needs {wanted}")
            return Condition(c.field, None, None)
        if kind is None:
            return Condition(c.field, None, None)
        if isinstance(c.value, list):
            values = tuple(self.value(kind, v, (*path, "value", i)) for i, v in enumerate(c.value))
            self.check_choices(c.field, values, (*path, "value"))
            return Condition(c.field, None, None, values, c.op == "not_in")
        value = self.value(kind, c.value, (*path, "value"))
        self.check_choices(c.field, (value,), (*path, "value"))
        return Condition(c.field, CmpOp(c.op), value)

    def check_choices(self, field: str, values: tuple[Value, ...], path: Path_) -> None:
        choices: tuple[str, ...] = ()
        if field in PROFILE_FIELDS:
            choices = PROFILE_FIELDS[field].choices
        elif field in self.derived:
            choices = self.derived[field].spec.choices
        bad = [v for v in values if choices and v not in choices]
        if bad:
            self.error(path, f"{bad[0]!r} is not one of {', '.join(choices)}")

    # -- sections
    def gate(self, g: s.GateSpec, path: Path_) -> Gate:
        cond = self.condition(g, path)
        if not has_message(g.code):
            self.error((*path, "code"), f"reason code {g.code!r} has no message in the catalogue")
        if g.when_missing is None and self.nullable(g.field):
            self.error(
                (*path, "when_missing"),
                f"{g.field!r} may be missing: say when_missing: pass or fail",
            )
        return Gate(
            id=g.id,
            code=g.code,
            layer=Layer(g.layer),
            field=g.field,
            op=cond.op,
            value=cond.value,
            values=cond.values,
            negate_values=cond.negate_values,
            when_missing=g.when_missing == "pass",
            action=Action(g.action),
            group=g.any_of,
            line=self.source.line_of(path),
        )

    def groups(self, gates: list[s.GateSpec]) -> None:
        """Any-of groups: two gates or more, side by side in the file (one place to read the
        rule, and their reasons come together), with one layer and one action."""
        members: dict[str, list[int]] = {}
        for i, g in enumerate(gates):
            if g.any_of is not None:
                members.setdefault(g.any_of, []).append(i)
        for name, at in members.items():
            first = gates[at[0]]
            if len(at) < 2:
                self.error(("gates", at[0], "any_of"), f"any_of group {name!r} has one gate only")
            elif at != list(range(at[0], at[0] + len(at))):
                gap = next(i for i, j in pairwise(at) if j != i + 1) + 1
                self.error(
                    ("gates", gap),
                    f"the gates of any_of group {name!r} must be side by side",
                )
            for i in at[1:]:
                g = gates[i]
                if (g.layer, g.action) != (first.layer, first.action):
                    self.error(
                        ("gates", i, "any_of"),
                        f"the gates of any_of group {name!r} must share one layer and action "
                        f"({first.layer}, {first.action})",
                    )

    def fraud(self, f: s.FraudSpec, path: Path_) -> FraudRule:
        conds = tuple(self.condition(c, (*path, "when", i)) for i, c in enumerate(f.when))
        if f.when_missing is None and any(self.nullable(c.field) for c in f.when):
            self.error(
                (*path, "when_missing"),
                "a condition's field may be missing: say when_missing: fired or not_fired",
            )
        return FraudRule(
            f.id, conds, Action(f.action), f.when_missing == "fired", self.source.line_of(path)
        )

    def rollout(self, classes: list[str]) -> tuple[RegionRule, ...]:
        rollout = self.spec.regions.rollout
        for name in rollout:
            if name not in classes:
                self.error(("regions", "rollout", name), f"unknown region class; use {classes}")
        missing = [c for c in classes if c not in rollout]
        if missing:
            self.error(("regions", "rollout"), f"no status for region classes {missing}")
        rules = tuple(
            RegionRule(c, RegionStatus(r.status), r.quota_share)
            for c, r in rollout.items()
            if c in classes
        )
        if not any(r.status is RegionStatus.OPEN for r in rules):
            self.error(("regions", "rollout"), "at least one region class must be open")
        return rules

    def schedule(self) -> tuple[RolloutStage, ...]:
        """Stages in strictly ascending date order, naming provinces and cities the region
        table knows (cities by any spelling; kept by their canonical name)."""
        stages: list[RolloutStage] = []
        provinces = self.regions.provinces
        for i, st in enumerate(self.spec.regions.schedule):
            path: Path_ = ("regions", "schedule", i)
            if stages and st.from_ <= stages[-1].start:
                self.error(
                    (*path, "from"),
                    f"stage dates must ascend strictly: {st.from_} is not after {stages[-1].start}",
                )
            every = st.provinces == "all"
            listed = [] if isinstance(st.provinces, str) else st.provinces
            if not every and not listed and not st.cities:
                self.error(path, "a stage opens `provinces:` (a list or all) or `cities:`")
            for j, name in enumerate(listed):
                if name not in provinces:
                    close = difflib.get_close_matches(name, sorted(provinces), n=3, cutoff=0.5)
                    hint = f"; did you mean {' / '.join(close)}?" if close else ""
                    self.error((*path, "provinces", j), f"unknown province {name!r}{hint}")
            cities: list[str] = []
            for j, name in enumerate(st.cities):
                try:
                    cities.append(self.regions.require(name).name)
                except UnknownCityError as exc:
                    self.error((*path, "cities", j), str(exc).split(" (known", 1)[0])
            stages.append(
                RolloutStage(
                    st.from_,
                    tuple(listed),
                    tuple(cities),
                    every,
                    self.source.line_of(path),
                )
            )
        return tuple(stages)

    def scorecard(self, regions: tuple[RegionRule, ...]) -> Scorecard:
        card = self.spec.scorecard
        for rule in regions:
            if rule.status is not RegionStatus.CLOSED and rule.region_class not in card.cutoffs:
                self.error(("scorecard", "cutoffs"), f"no cutoff for {rule.region_class!r}")
        for name in card.cutoffs:
            if name not in {r.region_class for r in regions}:
                self.error(("scorecard", "cutoffs", name), "unknown region class")
        features = tuple(
            self.feature(f, ("scorecard", "features", i)) for i, f in enumerate(card.features)
        )
        self.unique([f.name for f in card.features], "scorecard.features")
        named = {f.name: f for f in features}
        pairs = tuple(
            self.pair(p, named, ("scorecard", "pairs", i)) for i, p in enumerate(card.pairs)
        )
        self.unique([p.name for p in card.pairs], "scorecard.pairs")
        return Scorecard(
            base_points=card.base_points,
            features=features,
            scaling=Scaling(card.scaling.pdo, card.scaling.base_score, card.scaling.base_odds),
            cutoffs=tuple(sorted(card.cutoffs.items())),
            review_band=card.review_band,
            pairs=pairs,
        )

    def pair(self, p: s.PairSpec, features: Mapping[str, ScoreFeature], path: Path_) -> ScorePair:
        """A pairwise table: two distinct features of the card, their own ascending edges (or
        category groups), and ``1 + bins`` rows of ``1 + bins`` points (``policy.pairs``)."""
        axes = []
        for k, a in enumerate(p.axes):
            apath = (*path, "axes", k)
            feature = features.get(a.feature)
            if feature is None:
                self.error((*apath, "feature"), f"unknown scorecard feature {a.feature!r}")
                kind = None
                field = a.feature
            else:
                kind = self.field_type(feature.field, (*apath, "feature"))
                field = feature.field
            axis, problems = pair_axis(
                a.feature, field, kind, a.edges, a.categories, self.typed_bound
            )
            for where, message in problems:
                self.error((*apath, *where), message)
            axes.append(axis)
        first, second = axes
        if p.axes[0].feature == p.axes[1].feature:
            self.error((*path, "axes", 1, "feature"), "a pair needs two different features")
        points = tuple(tuple(r) for r in p.points)
        for where, message in table_problems(points, len(first.bins), len(second.bins)):
            self.error((*path, "points", *where), message)
        return ScorePair(p.name, (first, second), points)

    def feature(self, f: s.FeatureSpec, path: Path_) -> ScoreFeature:
        kind = self.field_type(f.field, (*path, "field"))
        if not has_message(f.factor):
            self.error((*path, "factor"), f"factor code {f.factor!r} has no message")
        categorical = kind is str
        bins: list[Bin] = []
        lower: float | None = None
        for i, b in enumerate(f.bins):
            bpath = (*path, "bins", i)
            if categorical:
                if not b.in_ or b.below is not None:
                    self.error(bpath, "a categorical field's bins list categories with `in:`")
                bins.append(Bin(b.points, categories=tuple(b.in_ or ())))
                continue
            if b.in_ is not None:
                self.error(bpath, "a numeric field's bins use `below:`, not `in:`")
            last = i == len(f.bins) - 1
            if (b.below is None) != last:
                self.error(bpath, "every bin but the last needs `below:`; the last has none")
            if b.below is not None and lower is not None and b.below <= lower:
                self.error((*bpath, "below"), f"bins must ascend: {b.below} <= {lower}")
            upper = self.typed_bound(kind, b.below)
            bins.append(Bin(b.points, lower=lower, upper=upper))
            lower = upper
        return ScoreFeature(f.name, f.field, tuple(bins), f.missing_points, f.factor, f.cost)

    @staticmethod
    def typed_bound(kind: type | None, bound: float | None) -> Any:
        """Bounds in the field's own type: exact decimals, ints where integral (and faster)."""
        if bound is None:
            return None
        if kind is Decimal:
            return Decimal(int(bound)) if float(bound).is_integer() else Decimal(str(bound))
        if kind is int and float(bound).is_integer():
            return int(bound)
        return bound

    def offer(self) -> Offer:
        o = self.spec.offer
        if o.limits_cny.min > o.limits_cny.max:
            self.error(("offer", "limits_cny"), "min is above max")
        segments: list[Segment] = []
        for i, seg in enumerate(o.segments):
            path: Path_ = ("offer", "segments", i)
            conds = tuple(self.condition(c, (*path, "when", j)) for j, c in enumerate(seg.when))
            last = i == len(o.segments) - 1
            if last and seg.when:
                self.error(path, "the last segment must have no `when:` (it catches the rest)")
            if not seg.refer and not seg.limits:
                self.error(path, "a segment that is not referred needs `limits:`")
            limits = self.limit_rows(seg.limits, (*path, "limits"))
            segments.append(Segment(seg.name, conds, limits, seg.refer))
        prices = tuple(PriceBand(p.min_score, p.daily_rate) for p in o.pricing)
        if [p.min_score for p in prices] != sorted((p.min_score for p in prices), reverse=True):
            self.error(("offer", "pricing"), "pricing must be listed highest min_score first")
        return Offer(
            o.limits_cny.min,
            o.limits_cny.max,
            tuple(segments),
            prices,
            tuple(o.terms),
            o.days_per_year,
        )

    def products(self) -> tuple[Product, ...]:
        """The product family: exactly one cash loan (the ``offer:`` section), then
        instalments and joint loans with what their kind needs and nothing it does not."""
        specs = self.spec.products
        if not specs:
            return ()
        self.unique([p.id for p in specs], "products")
        if sum(p.kind == "cash" for p in specs) != 1:
            self.error(("products",), "list exactly one product of kind cash (the offer)")
        return tuple(self.product(p, ("products", i)) for i, p in enumerate(specs))

    def product(self, p: s.ProductSpec, path: Path_) -> Product:
        kind = ProductKind(p.kind)
        needs = {
            ProductKind.CASH: set[str](),
            ProductKind.INSTALMENT: {"plans", "limit"},
            ProductKind.JOINT: {"own_lender", "partners"},
        }[kind]
        allowed = (
            needs
            | {
                ProductKind.CASH: set[str](),
                ProductKind.INSTALMENT: {"gates", "merchant_only", "apr_method"},
                ProductKind.JOINT: {"gates", "limit", "on_partner_decline"},
            }[kind]
        )
        given = p.model_fields_set - {"id", "kind"}
        for name in sorted(given - allowed):
            self.error((*path, name), f"a product of kind {kind.value} has no {name!r}")
        for name in sorted(needs - given):
            self.error(path, f"a product of kind {kind.value} needs {name!r}")
        gates = self.product_gates(p.gates, (*path, "gates"))
        limit = None
        if p.limit is not None:
            if p.limit.min_cny > p.limit.max_cny:
                self.error((*path, "limit"), "min_cny is above max_cny")
            limit = ProductLimit(p.limit.share_of_cash, p.limit.min_cny, p.limit.max_cny)
        plans: list[InstalmentPlan] = []
        for i, plan in enumerate(p.plans):
            ppath = (*path, "plans", i)
            if plan.periods in (q.periods for q in plans):
                self.error((*ppath, "periods"), f"a second plan of {plan.periods} periods")
            apr = plan_apr(plan.periods, plan.fee_per_period)
            line = self.source.line_of(ppath)
            plans.append(InstalmentPlan(plan.periods, plan.fee_per_period, apr, line))
        own = None
        if p.own_lender is not None:
            opath = (*path, "own_lender")
            if p.own_lender.gates or p.own_lender.max_exposure_cny is not None:
                self.error(opath, "the own lender's appetite is the shared layers: no gates or max")
            own = self.lender(p.own_lender, opath)
        partners = tuple(self.lender(q, (*path, "partners", i)) for i, q in enumerate(p.partners))
        ids = [q.id for q in [*([p.own_lender] if p.own_lender else []), *p.partners]]
        if len(set(ids)) != len(ids):
            self.error((*path, "partners"), "lender ids must differ")
        return Product(
            id=p.id,
            kind=kind,
            gates=gates,
            limit=limit,
            merchant_only=p.merchant_only,
            plans=tuple(plans),
            own_lender=own,
            partners=partners,
            on_partner_decline=PartnerDecline(p.on_partner_decline),
            line=self.source.line_of(path),
        )

    def product_gates(self, specs: list[s.GateSpec], path: Path_) -> tuple[Gate, ...]:
        gates = tuple(self.gate(g, (*path, i)) for i, g in enumerate(specs))
        seen: set[str] = set()
        for i, g in enumerate(specs):
            if g.id in seen:
                self.error((*path, i, "id"), f"duplicate id {g.id!r}")
            seen.add(g.id)
        return gates

    def lender(self, spec: s.LenderSpec, path: Path_) -> Lender:
        missing = [lang for lang in LANGS if not spec.name.get(lang)]
        if missing:
            self.error((*path, "name"), f"a lender is named in zh-CN and en: {missing} missing")
        return Lender(
            spec.id,
            tuple(sorted(spec.name.items())),
            spec.share,
            spec.max_exposure_cny,
            self.product_gates(spec.gates, (*path, "gates")),
            self.source.line_of(path),
        )

    def limit_rows(self, rows: list[s.LimitSpec], path: Path_) -> tuple[LimitRow, ...]:
        """A segment's limit matrix: rows in the product range, conditions on known, non
        anti-fraud fields, a catch-all last row, and no row hidden by an earlier one."""
        low, high = self.spec.offer.limits_cny.min, self.spec.offer.limits_cny.max
        out: list[LimitRow] = []
        for j, row in enumerate(rows):
            rpath = (*path, j)
            if not low <= row.limit <= high:
                self.error(
                    (*rpath, "limit"),
                    f"limit {row.limit} is outside the product range {low}..{high}",
                )
            conds = tuple(self.condition(c, (*rpath, "when", k)) for k, c in enumerate(row.when))
            for k, c in enumerate(row.when):
                if (
                    c.field in PROFILE_FIELDS
                    and PROFILE_FIELDS[c.field].consent is Consent.SECURITY
                ):
                    self.error(
                        (*rpath, "when", k, "field"),
                        f"{c.field!r} is anti-fraud data and may not set a limit",
                    )
            if j == len(rows) - 1 and row.when:
                self.error(rpath, "the last limit row must have no `when:` (it catches the rest)")
            out.append(LimitRow(row.min_score, row.limit, conds, self.source.line_of(rpath)))
        for j, later in enumerate(out):
            hider = next((i for i, r in enumerate(out[:j]) if hides(r, later)), None)
            if hider is not None:
                self.error(
                    (*path, j),
                    f"row {j} is never used: row {hider} (min_score {out[hider].min_score}"
                    f"{' and its conditions' if out[hider].when else ''}) takes everyone it "
                    "would; list rows for higher scores and narrower conditions first",
                )
        return tuple(out)


def hides(earlier: LimitRow, later: LimitRow) -> bool:
    """``earlier`` matches everyone ``later`` matches (a lower bar and fewer conditions), so
    under first-match ``later`` never applies."""
    return earlier.min_score <= later.min_score and set(earlier.when) <= set(later.when)
