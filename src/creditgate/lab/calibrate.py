"""Risk floors that invite the most users while the expected bad rate stays under a ceiling.

The *pool* is every user who passes every gate and fraud rule and is not referred, as
``Eligible(region_class, city, score, users)`` counts. Under floors ``F`` (one score per
non-closed class) the eligible users are the pool's users scoring at least their class's floor,
and the invited set is what ``batch.whitelist.derive_cutoffs`` selects from them: each partial
class's quota (sized from its eligible count and consumption index, so it depends on ``F``),
then one capacity bar ``g`` across classes. PD depends on the score only, so the expected bad
rate of the invited (their mean PD) is a function of the counts. We maximise the invited count
subject to ``mean PD <= R`` (ties broken by the lower bad rate).

Why the search is exact (``docs/lab.md`` has the long form):

* A class's floor matters only through the *set* it leaves after its quota: the top ``j`` of
  the class's distinct scores (a quota never splits equal scores). ``reach`` maps every ``j``
  some floor achieves to the highest such floor; trying every candidate floor (each pool score
  of the class, and "nobody") finds them all.
* With sets ``j_c`` chosen, ``derive_cutoffs`` puts the bar at ``g`` exactly when
  ``N(g) <= C < N(g - 1)`` with ``N(x) = sum_c #(set_c, score >= x)``, and invites ``N(g)``;
  without a bar (``N(-inf) <= C``) it invites every set. Both sides of the condition are sums
  of per-class terms. So for each candidate bar (``g - 1`` a pool score, or none) a class's
  choice reduces to a few numbers: users at or above ``g`` in its set (``a``), those at
  ``g - 1`` (``m``) and the expected-bad excess ``sum(PD - R)`` over its ``a`` users (``e``):
  constraints ``sum a <= C < sum a + m`` and ``sum e <= 0``, objective ``sum a``.
* Sets ``j`` of one class above the bar are prefixes by score; adding lower scores adds users
  of higher PD, so ``e`` along them first falls, then rises (unimodal). The last class is
  therefore solved by binary search; the other classes are enumerated depth-first with bounds
  that only drop branches that cannot be feasible or cannot beat the best found (branch and
  bound), so nothing that could be optimal is skipped.

Excess is integer arithmetic: PD is rounded to 6 places by every engine, so the ceiling test
``sum(PD) <= R * n`` is exact in millionths with ``R`` as a fraction.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from functools import cached_property, lru_cache

import numpy as np

from creditgate.batch.whitelist import Cutoffs, Eligible, _lowest_fitting, derive_cutoffs
from creditgate.engines.row import logistic
from creditgate.policy.lint import MAX_CUTOFF_PD
from creditgate.policy.lower import pd_scale
from creditgate.policy.nodes import Policy, RegionStatus
from creditgate.population.regions import RegionTable

MICRO = 1_000_000  # PD in millionths: the engines round it to 6 places
# A quota share this large never binds: min(1, share * k) is 1 for any consumption index > 0.
UNLIMITED_QUOTA = 1e12
FRONTIER_FACTORS = (0.5, 0.75, 1.0, 1.5, 2.0)


class Binding:
    CEILING = "ceiling"
    CAPACITY = "capacity"
    QUOTAS = "quotas"
    NONE = "none"
    INFEASIBLE = "infeasible"


@dataclass(frozen=True)
class ClassChoices:
    """What the floor of one class can do: the sets it can leave after the quota."""

    region_class: str
    scores: tuple[int, ...]  # admissible pool scores, highest first
    users: tuple[int, ...]  # users in the top j scores, j = 0..len(scores)
    pd_micro: tuple[int, ...]  # their summed PD in millionths
    reach: Mapping[int, int]  # achievable j -> the highest floor leaving that set

    def count_at_least(self, score: int) -> int:
        """How many of ``scores`` are >= ``score`` (an index into ``users``)."""
        return bisect_right(self.negated, -score)

    @cached_property
    def negated(self) -> list[int]:
        return [-s for s in self.scores]


@dataclass(frozen=True)
class Problem:
    classes: tuple[ClassChoices, ...]
    capacity: int
    all_users: int


@dataclass(frozen=True)
class Point:
    """One optimum: the floors, and the invited set they give."""

    ceiling: float
    floors: Mapping[str, int]
    invited: int
    pd_micro: int

    @property
    def expected_bad_rate(self) -> float:
        return self.pd_micro / MICRO / self.invited if self.invited else 0.0


@dataclass(frozen=True)
class Calibration:
    ceiling: float
    capacity: int
    all_users: int
    best: Point | None  # None: no floors invite anyone within the ceiling
    binding: str
    cutoffs: Cutoffs | None  # derive_cutoffs under the best floors
    frontier: tuple[Point, ...]
    relaxed: Mapping[str, int] = field(default_factory=dict)  # constraint -> optimum without it


def admissible_floors(policy: Policy) -> tuple[int, int]:
    """The lowest and highest cutoff the lint accepts without a finding: above the lowest
    attainable score, within the best one, and (CN) at a modelled PD of at most
    ``lint.MAX_CUTOFF_PD``."""
    card = policy.scorecard
    top = card.base_points + sum(f.best_points for f in card.features)
    bottom = card.base_points + sum(
        min(min(b.points for b in f.bins), f.missing_points) for f in card.features
    )
    low = bottom + 1
    if policy.jurisdiction.name == "CN":
        offset, scale = pd_scale(policy)
        low = max(low, math.ceil(offset + scale * math.log((1 - MAX_CUTOFF_PD) / MAX_CUTOFF_PD)))
    return low, top


def lowest_score(policy: Policy) -> int:
    """The lowest score the scorecard can give: a cutoff there never rejects."""
    card = policy.scorecard
    return card.base_points + sum(
        min(min(b.points for b in f.bins), f.missing_points) for f in card.features
    )


def with_capacity(policy: Policy, capacity_share: float | None) -> Policy:
    return policy if capacity_share is None else replace(policy, capacity_share=capacity_share)


def with_floors(policy: Policy, floors: Mapping[str, int]) -> Policy:
    cutoffs = {**dict(policy.scorecard.cutoffs), **floors}
    return replace(
        policy, scorecard=replace(policy.scorecard, cutoffs=tuple(sorted(cutoffs.items())))
    )


def pd_micro(policy: Policy, score: int) -> int:
    """A score's PD in millionths, as every engine rounds it."""
    return _pd_micro(*pd_scale(policy), score)


@lru_cache(maxsize=65_536)
def _pd_micro(offset: float, scale: float, score: int) -> int:
    return round(logistic(score, offset, scale) * MICRO)


def eligible_under(pool: Iterable[Eligible], floors: Mapping[str, int]) -> list[Eligible]:
    """The pool's users at or above their class's floor, in the pool's order."""
    return [e for e in pool if e.region_class in floors and e.score >= floors[e.region_class]]


def evaluate(
    pool: Sequence[Eligible],
    all_users: int,
    policy: Policy,
    regions: RegionTable,
    floors: Mapping[str, int],
) -> tuple[Cutoffs, int, int]:
    """What the batch does under ``floors``: its cutoffs, the invited count and their summed
    PD in millionths (``derive_cutoffs`` itself, the definition the search must match)."""
    floored = with_floors(policy, floors)
    cut = derive_cutoffs(eligible_under(pool, floors), all_users, floored, regions)
    invited = pd_sum = 0
    for e in pool:
        final = cut.by_class.get(e.region_class)
        if final is not None and e.score >= final and e.score >= floors[e.region_class]:
            invited += e.users
            pd_sum += e.users * pd_micro(policy, e.score)
    return cut, invited, pd_sum


def class_choices(
    region_class: str,
    entries: Sequence[Eligible],
    policy: Policy,
    regions: RegionTable,
    low: int,
    high: int,
) -> ClassChoices:
    """Every set a floor in ``[low, high]`` can leave in one class after its quota."""
    rule = policy.region(region_class)
    kept = [e for e in entries if e.score >= low]
    by_score: dict[int, int] = defaultdict(int)
    for e in kept:
        by_score[e.score] += e.users
    scores = tuple(sorted(by_score, reverse=True))
    users, pds = [0], [0]
    for s in scores:
        users.append(users[-1] + by_score[s])
        pds.append(pds[-1] + by_score[s] * pd_micro(policy, s))
    # Floors worth trying, highest first: "nobody" (above every score) then each score.
    floors = [f for f in (scores[0] + 1 if scores else low, *scores) if low <= f <= high]
    reach: dict[int, int] = {}
    partial = rule.status is RegionStatus.PARTIAL
    if partial:  # as derive_cutoffs weighs them: in the pool's order, one product per entry
        score_arr = np.array([e.score for e in kept], dtype=np.int64)
        weights = np.array(
            [e.users * regions.consumption_index(e.city) for e in kept], dtype=np.float64
        )
    desc = [-s for s in scores]
    for floor in floors:
        j = bisect_right(desc, -floor)  # scores >= floor
        if partial and j:
            eligible = users[j]
            weight = float(np.cumsum(weights[score_arr >= floor])[-1])
            k = weight / eligible
            quota = math.floor(min(1.0, rule.quota_share * k) * eligible)
            counts = {s: by_score[s] for s in scores[:j]}
            q = _lowest_fitting(counts, quota)
            if q is not None:
                j = bisect_right(desc, -max(floor, q))
        reach.setdefault(j, floor)  # floors come highest first: keep the highest
    return ClassChoices(region_class, scores, tuple(users), tuple(pds), reach)


def build_problem(
    pool: Sequence[Eligible],
    all_users: int,
    policy: Policy,
    regions: RegionTable,
) -> Problem:
    low, high = admissible_floors(policy)
    by_class: dict[str, list[Eligible]] = defaultdict(list)
    for e in pool:
        by_class[e.region_class].append(e)
    classes = tuple(
        class_choices(r.region_class, by_class.get(r.region_class, []), policy, regions, low, high)
        for r in policy.regions
        if r.status is not RegionStatus.CLOSED
    )
    return Problem(classes, math.floor(policy.capacity_share * all_users), all_users)


# --------------------------------------------------------------------------- the search


@dataclass
class _Options:
    """One class's choices at one bar, by ascending ``a``: the sets above the bar (``m`` 0),
    then possibly the set reaching below it (``over``: ``a`` users at or above the bar, ``m``
    at the score just below)."""

    a: list[int]
    e: list[int]
    m: list[int]
    j: list[int]
    free: int  # how many leading options have m == 0 and are on the unimodal curve
    argmin: list[int]  # first index of the minimum of e over [0..i], for free options


def _options(c: ClassChoices, reachable: list[int], p: int, q: int, bar: int | None) -> _Options:
    a: list[int] = []
    e: list[int] = []
    m: list[int] = []
    js: list[int] = []

    def excess(j: int) -> int:
        return q * c.pd_micro[j] - p * c.users[j]

    top = len(c.scores) if bar is None else c.count_at_least(bar)
    for j in reachable:
        if j > top:
            break
        a.append(c.users[j])
        e.append(excess(j))
        m.append(0)
        js.append(j)
    free = len(a)
    if bar is not None and reachable and reachable[-1] > top:
        below = c.count_at_least(bar - 1)
        a.append(c.users[top])
        e.append(excess(top))
        m.append(c.users[below] - c.users[top])
        js.append(next(j for j in reachable if j > top))
    argmin: list[int] = []
    for i in range(free):
        argmin.append(i if not argmin or e[i] < e[argmin[-1]] else argmin[-1])
    return _Options(a, e, m, js, free, argmin)


@dataclass
class _Best:
    a: int = -1
    e: int = 0
    js: tuple[int, ...] = ()

    def offer(self, a: int, e: int, js: tuple[int, ...]) -> None:
        if a > self.a or (a == self.a and e < self.e):
            self.a, self.e, self.js = a, e, js


def _last(opts: _Options, room: int, budget: int, need: int) -> int | None:
    """Index of the option with the most users such that ``a <= room``, ``e <= budget`` and
    ``a + m > need``; None if there is none."""
    n = len(opts.a)
    if n > opts.free:  # the set reaching below the bar has the most users: try it first
        i = n - 1
        if opts.a[i] <= room and opts.e[i] <= budget and opts.a[i] + opts.m[i] > need:
            return i
    if not opts.free:
        return None
    hi = bisect_right(opts.a, room, 0, opts.free) - 1
    if hi < 0:
        return None
    lo = opts.argmin[hi]  # e falls up to here and rises after: search the rising part
    i = bisect_right(opts.e, budget, lo, hi + 1) - 1
    if i < lo or opts.a[i] <= need:
        return None
    return i


class _Relaxed:
    """The least excess the remaining classes can have for ``y`` users in total if every
    class could stop anywhere between two of its options: their convex curves merged by
    slope. A lower bound on every real choice, exact in integers."""

    def __init__(self, opts: Sequence[_Options]) -> None:
        x, y = sum(o.a[0] for o in opts), sum(o.e[0] for o in opts)
        steps = [
            (o.a[i + 1] - o.a[i], o.e[i + 1] - o.e[i])
            for o in opts
            for i in range(len(o.a) - 1)
            if o.a[i + 1] > o.a[i]
        ]
        steps.sort(key=lambda t: t[1] / t[0])
        # Floats may misorder slopes that differ in the last bits: an insertion pass with
        # exact integer comparisons puts the (nearly sorted) list in exact order.
        for i in range(1, len(steps)):
            da, de = steps[i]
            j = i
            while j and steps[j - 1][1] * da > de * steps[j - 1][0]:
                steps[j] = steps[j - 1]
                j -= 1
            steps[j] = (da, de)
        self.x, self.y = [x], [y]
        for da, de in steps:
            self.x.append(self.x[-1] + da)
            self.y.append(self.y[-1] + de)
        self.low = min(range(len(self.y)), key=lambda i: (self.y[i], i))

    def above(self, users: int, budget: int) -> bool:
        """Whether ``F(users) > budget`` (``users`` within the curve's range)."""
        i = bisect_right(self.x, users) - 1
        if self.x[i] == users:
            return self.y[i] > budget
        da, de = self.x[i + 1] - self.x[i], self.y[i + 1] - self.y[i]
        return (self.y[i] - budget) * da + (users - self.x[i]) * de > 0

    def most(self, budget: int, room: int) -> int | None:
        """The largest ``y <= room`` with ``F(y) <= budget``, or None."""
        room = min(room, self.x[-1])
        if room < self.x[0]:
            return None
        if room <= self.x[self.low]:  # F falls up to room
            return None if self.above(room, budget) else room
        if self.y[self.low] > budget:
            return None
        r = bisect_right(self.y, budget, self.low) - 1  # F rises from low on
        if r == len(self.x) - 1 or self.x[r] >= room:
            return room
        da, de = self.x[r + 1] - self.x[r], self.y[r + 1] - self.y[r]
        return min(room, self.x[r] + (budget - self.y[r]) * da // de)


def _solve_bar(opts: list[_Options], capacity: int, bounded: bool, best: _Best) -> None:
    """Branch and bound over ``opts`` (the last by binary search). ``bounded``: the bar is
    set, so the sets must also reach past the capacity at the score below it."""
    k = len(opts)
    max_b = [max(x + y for x, y in zip(o.a, o.m, strict=True)) for o in opts]
    rest_max_b = [sum(max_b[i:]) for i in range(k + 1)]
    relaxed: dict[int, _Relaxed] = {}  # built when first needed: most bars end at the root
    need_all = capacity if bounded else -1  # sum a + m must exceed this

    def hopeless(depth: int, a: int, e: int, b: int) -> bool:
        if b + rest_max_b[depth] <= need_all:
            return True
        f = relaxed.get(depth) or relaxed.setdefault(depth, _Relaxed(opts[depth:]))
        most = f.most(-e, capacity - a)
        if most is None or a + most < best.a:
            return True
        return a + most == best.a and f.above(best.a - a, best.e - e - 1)

    def dive(depth: int, a: int, e: int, b: int, js: tuple[int, ...]) -> None:
        if hopeless(depth, a, e, b):
            return
        o = opts[depth]
        if depth == k - 1:
            i = _last(o, capacity - a, -e, need_all - b)
            if i is not None:
                best.offer(a + o.a[i], e + o.e[i], (*js, o.j[i]))
            return
        for i in range(len(o.a) - 1, -1, -1):
            dive(depth + 1, a + o.a[i], e + o.e[i], b + o.a[i] + o.m[i], (*js, o.j[i]))

    dive(0, 0, 0, 0, ())


def optimise(problem: Problem, ceiling: float) -> tuple[int, int, dict[str, int]] | None:
    """(invited, summed PD in millionths, floors) of the best floors, or None when no floors
    keep the ceiling (not even inviting nobody, which some scorecards cannot express)."""
    ratio = Fraction(str(ceiling)) * MICRO
    p, q = ratio.numerator, ratio.denominator  # excess = q * sum(pd_micro) - p * users
    classes = problem.classes
    if not classes:
        return None
    # The class with the most choices goes last: it is solved by binary search.
    order = sorted(range(len(classes)), key=lambda i: len(classes[i].reach))
    ordered = [classes[i] for i in order]
    reachable = [sorted(c.reach) for c in ordered]
    best = _Best()
    if any(not r for r in reachable):
        return None
    _solve_bar(
        [_options(c, r, p, q, None) for c, r in zip(ordered, reachable, strict=True)],
        problem.capacity,
        False,
        best,
    )
    bars = sorted({s + 1 for c in ordered for s in c.scores}, reverse=True)
    for bar in bars:
        opts = [_options(c, r, p, q, bar) for c, r in zip(ordered, reachable, strict=True)]
        if any(not o.a for o in opts):
            continue
        _solve_bar(opts, problem.capacity, True, best)
    if best.a < 0:
        return None
    floors = {c.region_class: c.reach[j] for c, j in zip(ordered, best.js, strict=True)}
    pd_sum = (best.e + p * best.a) // q
    return best.a, pd_sum, floors


def calibrate(
    pool: Sequence[Eligible],
    all_users: int,
    policy: Policy,
    regions: RegionTable,
    ceiling: float,
    capacity_share: float | None = None,
) -> Calibration:
    """The floors inviting the most users within ``ceiling`` (module docstring), the
    constraint that binds, and the optimum for a grid of ceilings around it (the frontier)."""
    if not 0 < ceiling < 1:
        raise ValueError("the bad-rate ceiling must lie strictly between 0 and 1")
    policy = with_capacity(policy, capacity_share)
    problem = build_problem(pool, all_users, policy, regions)

    def point(r: float) -> Point | None:
        found = optimise(problem, r)
        if found is None or found[0] == 0:
            return None
        invited, pd_sum, floors = found
        _, check_invited, check_pd = evaluate(pool, all_users, policy, regions, floors)
        if (check_invited, check_pd) != (invited, pd_sum):  # the search's own guarantee
            raise AssertionError("calibrated floors do not give the invited set they promise")
        return Point(r, floors, invited, pd_sum)

    best = point(ceiling)
    frontier = tuple(
        p
        for f in FRONTIER_FACTORS
        if 0 < (r := round(ceiling * f, 6)) < 1
        and (p := best if r == ceiling else point(r)) is not None
    )
    if best is None:
        return Calibration(
            ceiling, problem.capacity, all_users, None, Binding.INFEASIBLE, None, frontier
        )
    cut, _, _ = evaluate(pool, all_users, policy, regions, best.floors)
    relaxed = relaxations(pool, all_users, policy, regions, ceiling, best.invited)
    binding = next((name for name, n in relaxed.items() if n > best.invited), Binding.NONE)
    return Calibration(ceiling, problem.capacity, all_users, best, binding, cut, frontier, relaxed)


def relaxations(
    pool: Sequence[Eligible],
    all_users: int,
    policy: Policy,
    regions: RegionTable,
    ceiling: float,
    invited: int,
) -> dict[str, int]:
    """The optimum with each constraint lifted in turn (the ceiling, the capacity, the
    quotas) until one invites more than ``invited``: that one binds."""
    no_quotas = replace(
        policy,
        regions=tuple(
            replace(r, quota_share=UNLIMITED_QUOTA) if r.status is RegionStatus.PARTIAL else r
            for r in policy.regions
        ),
    )
    runs = {
        Binding.CEILING: (policy, 1.0),
        Binding.CAPACITY: (replace(policy, capacity_share=1.0), ceiling),
        Binding.QUOTAS: (no_quotas, ceiling),
    }
    out: dict[str, int] = {}
    for name, (relaxed, r) in runs.items():
        found = optimise(build_problem(pool, all_users, relaxed, regions), r)
        out[name] = found[0] if found is not None else 0
        if out[name] > invited:
            break
    return out
