"""Risk floors that invite the most users while the expected bad rate stays under a ceiling.

The *pool* is every user who passes every gate and fraud rule and is not referred, as
``Eligible(region_class, city, score, users)`` counts. The decision variables are the policy's
floors ``F`` (one score per non-closed class; cities get no floors of their own). Under ``F``
the eligible users are the pool's users scoring at least their class's floor, and the invited
set is what ``batch.whitelist.derive_cutoffs`` selects from them: in a partial class each city
``x`` keeps its quota ``Q_x = floor(min(1, share * k_x) * E_x)`` of its ``E_x`` eligible users
(so the quota depends on ``F``), held at the quota cutoff ``q_x``; then one capacity bar ``g``
is pooled over everything. PD depends on the score only, so the expected bad rate of the
invited (their mean PD) is a function of the counts. We maximise the invited count subject to
``mean PD <= R`` (ties broken by the lower bad rate).

Why the search is exact (``docs/lab.md`` has the long form):

* A class's floor matters only through the eligible set it leaves, so the candidate floors
  are each pool score of the class and "nobody". For each, the set after the quotas is a
  threshold per city, ``max(F, q_x(F))`` (open classes: ``F``), computed for every floor and
  city at once with the quota rules of ``whitelist`` (``quota_sizes``, ``class_index``). A
  lower floor never shrinks a city's set (more eligible users, a quota at least as large), so
  each class's sets are nested; counts per floor and score column follow from one step per
  (city, score).
* With a set per class, ``derive_cutoffs`` puts the bar at ``g`` exactly when
  ``N(g) <= C < N(g - 1)`` with ``N(x) = sum_c #(set_c, score >= x)``, and invites ``N(g)``;
  without a bar (``N(-inf) <= C``) it invites every set. Both sides of the condition are sums
  of per-class terms. So for each candidate bar (``g - 1`` a pool score, or none) a floor
  reduces to three numbers: its set's users at or above ``g`` (``a``), at or above ``g - 1``
  (``b``) and the expected-bad excess ``sum(PD - R)`` over the ``a`` users (``e``):
  constraints ``sum a <= C < sum b`` and ``sum e <= 0``, objective ``sum a``. Floors equal in
  ``a`` and ``e`` are one option (the one with the most ``b``: it only helps).
* The options are enumerated depth-first (branch and bound). A branch is dropped only when a
  lower bound shows it cannot be feasible or cannot beat the best found: the lower convex
  hulls of the remaining classes' ``(a, e)`` options merged by slope give the least excess
  any choice of them can have for a number of users. The excess along a class's options has
  no shape to rely on (a lower floor can add a city's *best* users when its quota grows), so
  the last class is scanned over the options within its ``a`` and ``b`` bounds.

Excess is integer arithmetic: PD is rounded to 6 places by every engine, so the ceiling test
``sum(PD) <= R * n`` is exact in millionths with ``R`` as a fraction. Every optimum is
re-evaluated with ``derive_cutoffs`` itself before it is returned.
"""

from __future__ import annotations

import itertools
import math
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

from creditgate.batch.whitelist import (
    Cutoffs,
    Eligible,
    city_key,
    class_index,
    derive_cutoffs,
    quota_sizes,
)
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
        offset, scale = pd_scale(policy.scorecard.scaling)
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
    return _pd_micro(*pd_scale(policy.scorecard.scaling), score)


@lru_cache(maxsize=65_536)
def _pd_micro(offset: float, scale: float, score: int) -> int:
    return round(logistic(score, offset, scale) * MICRO)


@dataclass(frozen=True)
class ClassChoices:
    """What the floor of one class can do, for every candidate floor at once.

    ``floors`` are the floors worth trying, highest first (each leaves a different eligible
    set). Row ``o`` of ``users`` counts, per column ``i``, the users of the set floor ``o``
    leaves after the quotas (per city in partial classes) who score at least ``scores[i]``;
    the last column (nobody scores that high) is 0. ``pd_micro`` sums their PD likewise.
    """

    region_class: str
    scores: NDArray[np.int64]  # admissible pool scores of the class, ascending
    floors: NDArray[np.int64]
    users: NDArray[np.int64]  # floors x (len(scores) + 1)
    pd_micro: NDArray[np.int64]

    def column(self, score: int) -> int:
        """The column counting the users at or above ``score``."""
        return int(np.searchsorted(self.scores, score, side="left"))


@dataclass(frozen=True)
class Problem:
    classes: tuple[ClassChoices, ...]
    capacity: int
    all_users: int
    # per bar, what each class can contribute there (ceiling-free, so shared by the frontier's
    # ceilings and by the capacity relaxation, which only changes ``capacity``)
    cache: _Cache = field(default_factory=lambda: _Cache(), compare=False, repr=False)

    def bars(self) -> list[int | None]:
        """None (no capacity bar), then one above each pool score, highest first."""
        scores = {int(s) for c in self.classes for s in c.scores}
        return [None, *sorted((s + 1 for s in scores), reverse=True)]

    def choices(self, bar: int | None) -> tuple[_Choice, ...]:
        """Each class's options at ``bar``, the class with the fewest first (the last class is
        searched, not enumerated)."""
        found = self.cache.choices.get(bar)
        if found is None:
            found = tuple(sorted((_choice(c, bar) for c in self.classes), key=lambda h: len(h.a)))
            self.cache.choices[bar] = found
        return found

    def curve(self, bar: int | None, depth: int) -> tuple[list[int], list[int]]:
        key = (bar, depth)
        found = self.cache.curves.get(key)
        if found is None:
            found = self.cache.curves[key] = _curve(self.choices(bar)[depth:])
        return found


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
    per_class = invited_by_class(pool, policy, regions, cut, floors)
    return (
        cut,
        sum(users for users, _ in per_class.values()),
        sum(pd for _, pd in per_class.values()),
    )


def invited_by_class(
    pool: Sequence[Eligible],
    policy: Policy,
    regions: RegionTable,
    cut: Cutoffs,
    floors: Mapping[str, int],
) -> dict[str, tuple[int, int]]:
    """Per class of ``cut``: the pool's users at or above their city's cutoff (or their
    class's) under ``floors``, and their summed PD in millionths."""
    out = dict.fromkeys(cut.by_class, (0, 0))
    keys: dict[str, str | None] = {}
    for e in eligible_under(pool, floors):
        key = keys[e.city] if e.city in keys else keys.setdefault(e.city, city_key(regions, e.city))
        final = cut.cutoff(e.region_class, key)
        if final is not None and e.score >= final:
            users, pd = out.get(e.region_class, (0, 0))
            out[e.region_class] = (users + e.users, pd + e.users * pd_micro(policy, e.score))
    return out


def class_choices(
    region_class: str,
    entries: Sequence[Eligible],
    policy: Policy,
    regions: RegionTable,
    low: int,
    high: int,
) -> ClassChoices:
    """The sets every floor in ``[low, high]`` leaves in one class after its quotas."""
    rule = policy.region(region_class)
    partial = rule.status is RegionStatus.PARTIAL
    kept = [e for e in entries if e.score >= low]
    scores = np.array(sorted({e.score for e in kept}), dtype=np.int64)
    n = len(scores)
    # Groups: a partial class's canonical cities (None: unknown to the region table); an
    # open class is one group, all held to the floor.
    keys = [city_key(regions, e.city) if partial else None for e in kept]
    groups = list(dict.fromkeys(keys))
    at = {g: i for i, g in enumerate(groups)}
    per_score = np.zeros((len(groups), n), dtype=np.int64)
    np.add.at(
        per_score,
        (
            np.array([at[k] for k in keys], dtype=np.intp),
            np.searchsorted(scores, np.array([e.score for e in kept], dtype=np.int64)),
        ),
        np.array([e.users for e in kept], dtype=np.int64),
    )
    suffix = _suffix_sums(per_score)
    # Floors worth trying, highest first: "nobody" (above every score) then each score.
    top = int(scores[-1]) + 1 if n else low
    floors = np.array(
        [f for f in (top, *scores[::-1].tolist()) if low <= f <= high], dtype=np.int64
    )
    first = np.searchsorted(scores, floors, side="left")  # the first column a floor keeps
    thresholds = np.repeat(first[:, None], len(groups), axis=1)
    if partial and n:
        quota_cols = _quota_columns(rule.quota_share, groups, suffix, first, regions)
        thresholds = np.maximum(thresholds, quota_cols)
    kept_users = _after_quotas(thresholds, per_score)
    pd = np.array([pd_micro(policy, s) for s in scores.tolist()], dtype=np.int64)
    return ClassChoices(
        region_class, scores, floors, _suffix_sums(kept_users), _suffix_sums(kept_users * pd)
    )


def _suffix_sums(per_score: NDArray[np.int64]) -> NDArray[np.int64]:
    """Row-wise counts at or above each column, plus a last column of 0."""
    rows, n = per_score.shape
    out = np.zeros((rows, n + 1), dtype=np.int64)
    out[:, :n] = np.cumsum(per_score[:, ::-1], axis=1)[:, ::-1]
    return out


def _quota_columns(
    share: float,
    groups: Sequence[str | None],
    suffix: NDArray[np.int64],
    first: NDArray[np.intp],
    regions: RegionTable,
) -> NDArray[np.intp]:
    """Per floor (row) and city (column), the first score column the city's quota keeps:
    the lowest score whose users at or above fit, so equal scores are never split
    (``whitelist._lowest_fitting``). A city the region table lacks is held to its class's
    quota, sized from the class's eligible users and their mean index (``whitelist``)."""
    eligible = suffix[:, first].T  # floors x groups: E per city under each floor
    index = np.array(
        [regions.consumption_index(g) if g is not None else 1.0 for g in groups],
        dtype=np.float64,
    )
    quota = quota_sizes(share, index[None, :], eligible)
    fit = suffix.copy()  # the counts each group's quota is measured against
    if None in groups:
        x = groups.index(None)
        totals = eligible.sum(axis=1)
        weights = (eligible * index[None, :]).tolist()  # users x k, as the batch weighs them
        mean = [class_index(w, t) for w, t in zip(weights, totals.tolist(), strict=True)]
        quota[:, x] = quota_sizes(share, np.array(mean, dtype=np.float64), totals)
        fit[x] = suffix.sum(axis=0)
    # The first column with fit[x, i] <= quota[o, x], for every (o, x) in one search: each
    # row, non-increasing, becomes an ascending run of keys above the previous row's.
    rows, width = fit.shape
    big = int(fit.max(initial=0)) + 1
    base = np.arange(rows, dtype=np.int64) * (big + 1)
    keys = (base[:, None] + big - fit).ravel()
    wanted = base[None, :] + big - quota
    base_col = np.arange(rows, dtype=np.intp) * width
    columns: NDArray[np.intp] = np.searchsorted(keys, wanted, side="left") - base_col
    return columns


def _after_quotas(thresholds: NDArray[np.intp], per_score: NDArray[np.int64]) -> NDArray[np.int64]:
    """Users per floor (row) and score column in the set each floor leaves: a city's users at
    column ``i`` count for floor ``o`` when ``i >= thresholds[o, city]``.

    A lower floor never shrinks a city's set (more eligible users, a quota at least as large),
    so a city's users at column ``i`` enter at one floor and stay: one step per (city, score),
    accumulated over the floors. A group whose thresholds are not monotone (the class-wide
    quota of unknown cities, computed in floating point) is counted directly."""
    floors, groups = thresholds.shape
    steps = np.zeros((floors + 1, per_score.shape[1]), dtype=np.int64)
    direct = np.zeros((floors, per_score.shape[1]), dtype=np.int64)
    for g in range(groups):
        t = thresholds[:, g]
        cols = np.flatnonzero(per_score[g])
        if bool(np.all(t[1:] <= t[:-1])):
            start = floors - np.searchsorted(t[::-1], cols, side="right")
            np.add.at(steps, (start, cols), per_score[g, cols])
        else:
            direct[:, cols] += (t[:, None] <= cols[None, :]) * per_score[g, cols][None, :]
    return np.cumsum(steps, axis=0)[:floors] + direct


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


@dataclass(frozen=True)
class _Choice:
    """One class's options at one bar, free of the ceiling, by ascending ``a`` (users at or
    above the bar), then PD: ``pd`` their summed PD, ``b`` the users at or above the score
    below the bar. Options equal in ``a`` and ``pd`` are one (the one with the most ``b``,
    then the highest floor)."""

    region_class: str
    a: list[int]
    pd: NDArray[np.int64]
    b: list[int]
    floors: list[int]
    nested: bool  # a strictly rises and b never falls: the last class's search can bisect
    hull: list[int]  # the lower convex hull of (a, pd), left to right


class _Cache:
    def __init__(self) -> None:
        self.choices: dict[int | None, tuple[_Choice, ...]] = {}
        self.curves: dict[tuple[int | None, int], tuple[list[int], list[int]]] = {}


def _choice(c: ClassChoices, bar: int | None) -> _Choice:
    col = 0 if bar is None else c.column(bar)
    below = col if bar is None else c.column(bar - 1)
    a, pd, b = c.users[:, col], c.pd_micro[:, col], c.users[:, below]
    order = np.lexsort((-b, pd, a))  # stable: among equals the highest floor comes first
    a, pd, b, floors = a[order], pd[order], b[order], c.floors[order]
    keep = np.ones(len(a), dtype=bool)
    keep[1:] = (a[1:] != a[:-1]) | (pd[1:] != pd[:-1])
    a, pd, b, floors = a[keep], pd[keep], b[keep], floors[keep]
    nested = bool(np.all(a[1:] > a[:-1]) and np.all(b[1:] >= b[:-1]))
    a_list, pd_list = a.tolist(), pd.tolist()
    return _Choice(
        c.region_class, a_list, pd, b.tolist(), floors.tolist(), nested, _hull(a_list, pd_list)
    )


def _hull(a: Sequence[int], pd: Sequence[int]) -> list[int]:
    """Indexes of the lower convex hull of points sorted by ``a``, then ``pd``."""
    hull: list[int] = []
    for i in range(len(a)):
        if hull and a[hull[-1]] == a[i]:
            continue  # the first of equal ``a`` has the least PD
        while len(hull) >= 2:
            j, k = hull[-2], hull[-1]
            if (pd[k] - pd[j]) * (a[i] - a[j]) < (pd[i] - pd[j]) * (a[k] - a[j]):
                break
            hull.pop()
        hull.append(i)
    return hull


def _curve(choices: Sequence[_Choice]) -> tuple[list[int], list[int]]:
    """Vertices of the least summed PD the classes can have for a given number of users if
    each could stop anywhere on its hull: the hulls' segments merged by slope."""
    x = sum(h.a[h.hull[0]] for h in choices)
    y = sum(int(h.pd[h.hull[0]]) for h in choices)
    steps = []
    for h in choices:
        pd = h.pd.tolist()
        for i, j in itertools.pairwise(h.hull):
            steps.append((h.a[j] - h.a[i], pd[j] - pd[i]))
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
    xs, ys = [x], [y]
    for da, de in steps:
        xs.append(xs[-1] + da)
        ys.append(ys[-1] + de)
    return xs, ys


@dataclass
class _Options:
    """One class's options at one bar under one ceiling: ``e`` the excess
    ``q * sum(PD) - p * a`` of each option's ``a`` users (<= 0: within the ceiling)."""

    region_class: str
    a: list[int]
    e: list[int]
    b: list[int]
    floors: list[int]
    nested: bool
    excess: NDArray[Any]  # ``e`` as an array, for the last class's search


def _options(h: _Choice, p: int, q: int, exact: bool) -> _Options:
    if exact:  # int64 cannot overflow for this ceiling
        excess = q * h.pd - p * np.array(h.a, dtype=np.int64)
        e = excess.tolist()
    else:
        e = [q * x - p * y for x, y in zip(h.pd.tolist(), h.a, strict=True)]
        excess = np.array(e, dtype=object)
    return _Options(h.region_class, h.a, e, h.b, h.floors, h.nested, excess)


@dataclass
class _Best:
    a: int = -1
    e: int = 0
    floors: tuple[tuple[str, int], ...] = ()

    def offer(self, a: int, e: int, floors: tuple[tuple[str, int], ...]) -> None:
        if a > self.a or (a == self.a and e < self.e):
            self.a, self.e, self.floors = a, e, floors


def _last(opts: _Options, room: int, budget: int, need: int) -> int | None:
    """Index of the option with the most users (then the least excess) such that
    ``a <= room``, ``e <= budget`` and ``b > need``; None if there is none. The excess along
    the options has no shape to exploit (a lower floor can add a city's best users), so the
    options within the ``a`` and ``b`` bounds are scanned, vectorised."""
    if opts.nested:  # a and b ascend: the bounds are one slice
        hi = bisect_right(opts.a, room)
        lo = bisect_right(opts.b, need)
        if lo >= hi:
            return None
        hits = np.flatnonzero(opts.excess[lo:hi] <= budget)
        return lo + int(hits[-1]) if len(hits) else None
    found: int | None = None
    for i, (a, e, b) in enumerate(zip(opts.a, opts.e, opts.b, strict=True)):
        fits = a <= room and e <= budget and b > need
        if fits and (found is None or (a, -e) > (opts.a[found], -opts.e[found])):
            found = i
    return found


class _Relaxed:
    """The least excess the remaining classes can have for ``y`` users in total if every
    class could stop anywhere on the lower convex hull of its options (``_curve``, sheared
    into excess by the ceiling). A lower bound on every real choice, exact in integers."""

    def __init__(self, curve: tuple[list[int], list[int]], p: int, q: int) -> None:
        self.x = curve[0]
        self.y = [q * y - p * x for x, y in zip(*curve, strict=True)]
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


def _solve_bar(
    opts: list[_Options],
    capacity: int,
    bounded: bool,
    best: _Best,
    relax: Callable[[int], _Relaxed],
) -> None:
    """Branch and bound over ``opts`` (the last by ``_last``). ``bounded``: the bar is set,
    so the sets must also reach past the capacity at the score below it. ``relax(depth)``:
    the relaxation of classes ``depth..``."""
    k = len(opts)
    rest_max_b = [sum(max(o.b) for o in opts[i:]) for i in range(k + 1)]
    relaxed: dict[int, _Relaxed] = {}  # built when first needed: most bars end at the root
    need_all = capacity if bounded else -1  # sum b must exceed this
    names = [""] * k

    def hopeless(depth: int, a: int, e: int, b: int) -> bool:
        if b + rest_max_b[depth] <= need_all:
            return True
        f = relaxed.get(depth) or relaxed.setdefault(depth, relax(depth))
        most = f.most(-e, capacity - a)
        if most is None or a + most < best.a:
            return True
        return a + most == best.a and f.above(best.a - a, best.e - e - 1)

    def dive(depth: int, a: int, e: int, b: int, floors: tuple[int, ...]) -> None:
        if hopeless(depth, a, e, b):
            return
        o = opts[depth]
        if depth == k - 1:
            i = _last(o, capacity - a, -e, need_all - b)
            if i is not None:
                chosen = (*floors, o.floors[i])
                best.offer(a + o.a[i], e + o.e[i], tuple(zip(names, chosen, strict=True)))
            return
        for i in range(len(o.a) - 1, -1, -1):
            dive(depth + 1, a + o.a[i], e + o.e[i], b + o.b[i], (*floors, o.floors[i]))

    for depth, o in enumerate(opts):
        names[depth] = o.region_class
    dive(0, 0, 0, 0, ())


def optimise(problem: Problem, ceiling: float) -> tuple[int, int, dict[str, int]] | None:
    """(invited, summed PD in millionths, floors) of the best floors, or None when no floors
    keep the ceiling (not even inviting nobody, which some scorecards cannot express)."""
    ratio = Fraction(str(ceiling)) * MICRO
    p, q = ratio.numerator, ratio.denominator  # excess = q * sum(pd_micro) - p * users
    classes = problem.classes
    if not classes or any(len(c.floors) == 0 for c in classes):
        return None
    most_users = max(int(c.users.max(initial=0)) for c in classes)
    most_pd = max(int(c.pd_micro.max(initial=0)) for c in classes)
    exact = q * most_pd + p * most_users < 2**62
    best = _Best()
    for bar in problem.bars():
        choices = problem.choices(bar)
        bounded = bar is not None
        if sum(h.a[0] for h in choices) > problem.capacity:
            continue
        if bounded and sum(max(h.b) for h in choices) <= problem.capacity:
            continue  # the sets cannot reach past the capacity: no bar there

        def relax(depth: int, bar: int | None = bar) -> _Relaxed:
            return _Relaxed(problem.curve(bar, depth), p, q)

        opts = [_options(h, p, q, exact) for h in choices]
        _solve_bar(opts, problem.capacity, bounded, best, relax)
    if best.a < 0:
        return None
    pd_sum = (best.e + p * best.a) // q
    return best.a, pd_sum, dict(best.floors)


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

    cuts: dict[float, Cutoffs] = {}

    def point(r: float) -> Point | None:
        found = optimise(problem, r)
        if found is None or found[0] == 0:
            return None
        invited, pd_sum, floors = found
        cut, check_invited, check_pd = evaluate(pool, all_users, policy, regions, floors)
        if (check_invited, check_pd) != (invited, pd_sum):  # the search's own guarantee
            raise AssertionError("calibrated floors do not give the invited set they promise")
        cuts[r] = cut
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
    cut = cuts[ceiling]
    relaxed = relaxations(pool, all_users, policy, regions, ceiling, best.invited, problem)
    binding = next((name for name, n in relaxed.items() if n > best.invited), Binding.NONE)
    return Calibration(ceiling, problem.capacity, all_users, best, binding, cut, frontier, relaxed)


def relaxations(
    pool: Sequence[Eligible],
    all_users: int,
    policy: Policy,
    regions: RegionTable,
    ceiling: float,
    invited: int,
    problem: Problem | None = None,
) -> dict[str, int]:
    """The optimum with each constraint lifted in turn (the ceiling, the capacity, the
    quotas) until one invites more than ``invited``: that one binds. ``problem``, the
    policy's own, is reused where only the ceiling or the capacity changes."""
    own = problem or build_problem(pool, all_users, policy, regions)
    no_quotas = replace(
        policy,
        regions=tuple(
            replace(r, quota_share=UNLIMITED_QUOTA) if r.status is RegionStatus.PARTIAL else r
            for r in policy.regions
        ),
    )
    runs: dict[str, tuple[Callable[[], Problem], float]] = {
        Binding.CEILING: (lambda: own, 1.0),
        Binding.CAPACITY: (lambda: replace(own, capacity=all_users), ceiling),
        Binding.QUOTAS: (lambda: build_problem(pool, all_users, no_quotas, regions), ceiling),
    }
    out: dict[str, int] = {}
    for name, (relaxed, r) in runs.items():
        found = optimise(relaxed(), r)
        out[name] = found[0] if found is not None else 0
        if out[name] > invited:
            break
    return out
